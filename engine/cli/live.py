"""``mlct live``: run a strategy on an exchange's live data; paper trading (the simulated exchange) by default, real
orders with ``--live`` and the keys in the environment variables the config names."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.output import add_output_options, save_result
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.backtest import BacktestResult
    from engine.live_config import LiveConfig
    from engine.resume import Reconciliation

EXAMPLES = """examples:
  mlct init bot && mlct live --config bot/live.toml          paper trading, until Ctrl-C
  mlct live --config bot/live.toml --max-bars 60 --out runs/p1  stop after 60 closed bars
  mlct journal show runs/p1/journal.sqlite                      every event of the session
  MLCT_API_KEY=... MLCT_API_SECRET=... mlct live --config bot/live.toml --live    real money
  mlct live --config bot/live.toml --live --reconcile-only      compare the journal with the account, trade nothing
  mlct live kill --cancel --flatten bot/live.toml               from another terminal: halt, cancel, close, stop

Each closed bar logs one line (time, close, position, equity, signals). Ctrl-C or SIGTERM stops cleanly:
the strategies' on_stop run, the journal is closed and the results are written as a back-test writes them; a
second one pulls the kill switch (halt at once, cancel open orders).
Run the same command again (same config, same --out) and the session resumes from its journal: the ledger is
rebuilt, what the exchange did meanwhile with the session's orders is booked, and the account must agree with
the ledger before the strategy trades (exit 1 with the comparison when it does not).
"""


KILL_EXAMPLES = """examples:
  mlct live kill bot/live.toml                            halt: refuse every new order, then stop
  mlct live kill --cancel --flatten bot/live.toml         also cancel open orders and close positions at market
  mlct live kill --cancel --out runs/p1 --reason "drill" bot/live.toml
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lp = commands.add_parser("live", help="run a strategy on an exchange's live data (paper by default)",
                             description="Run the strategy of a session config (mlct init writes live.toml) on the "
                                         "exchange's websockets, after a warm-up on its recent bars.",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    lp.add_argument("--config", type=Path, metavar="FILE", help="the session's TOML file (required)")
    mode = lp.add_mutually_exclusive_group()
    mode.add_argument("--paper", action="store_true", help="trade on the simulated exchange (the default)")
    mode.add_argument("--live", action="store_true", help="send real orders to the exchange (real money)")
    lp.add_argument("--max-bars", type=int, metavar="N", help="stop cleanly after N closed bars")
    lp.add_argument("--out", type=Path, metavar="DIR", help="where results and the journal go (default: run.out); "
                                                             "a journal there is resumed")
    add_output_options(lp)
    lp.add_argument("--reconcile-only", action="store_true",
                    help="print the comparison of the session's journal with the account and exit (0: they agree, "
                         "1: they differ); nothing is written or sent")
    lp.set_defaults(func=cmd_live)
    actions = lp.add_subparsers(dest="live_action", metavar="ACTION")
    kill = actions.add_parser("kill", help="pull the kill switch of a running session", epilog=KILL_EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              description="Halt a running session's trading at once (from another terminal): it "
                                          "refuses every new order, cancels its open orders with --cancel, closes "
                                          "its positions at market with --flatten, then stops cleanly. The request "
                                          "is a file, KILL, in the session's directory; the session takes it "
                                          "within a second and journals who asked and why.")
    kill.add_argument("config", type=Path, metavar="CONFIG", help="the session's TOML file")
    kill.add_argument("--out", type=Path, metavar="DIR", help="the session's directory (default: run.out)")
    kill.add_argument("--cancel", action="store_true", help="cancel the session's open orders")
    kill.add_argument("--flatten", action="store_true", help="close the session's positions at market")
    kill.add_argument("--reason", default="asked from the command line", help="why, for the journal")
    kill.set_defaults(func=cmd_kill)


def cmd_kill(args: argparse.Namespace) -> int:
    import getpass
    import os

    from engine.kill_switch import request_kill
    from engine.live_config import load_live_config

    config = load_live_config(args.config)
    out: Path = args.out or config.run.out
    if not (out / "journal.sqlite").is_file():
        raise ConfigError(f"no session in {out} (no journal.sqlite): give the session's --out")
    path = request_kill(out, by=f"mlct live kill (user {getpass.getuser()}, pid {os.getpid()})", reason=args.reason,
                        cancel=args.cancel, flatten=args.flatten)
    print(f"kill switch set: {path}; a running session halts within a second"
          + (", cancels its open orders" if args.cancel else "")
          + (", closes its positions" if args.flatten else "") + " and stops")
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    from engine.live_config import load_live_config

    if args.config is None:
        raise ConfigError("mlct live needs --config FILE (mlct init writes one: live.toml)")
    config = load_live_config(args.config)
    if args.max_bars is not None and args.max_bars < 1:
        raise ConfigError(f"--max-bars must be at least 1, got {args.max_bars}")
    credentials = config.exchange.credentials() if args.live else None  # checked before anything connects
    out: Path = args.out or config.run.out
    journal = out / "journal.sqlite"
    if args.reconcile_only and not journal.is_file():
        raise ConfigError(f"--reconcile-only: no session journal at {journal} (give the session's --out)")
    from engine.cli.run_folder import RunFolder, started_now

    folder = RunFolder.claim(out, "live", args, started_now(), resumes=True)  # a journal here is this session's
    logging.getLogger("engine.live").setLevel(logging.INFO)  # the line per bar shows at the default log level
    from engine.resume import ReconcileError

    try:
        result, reconciliation = asyncio.run(run_session(config, journal, args.max_bars, credentials,
                                                         reconcile_only=args.reconcile_only))
    except ReconcileError as exc:
        print(f"{exc}\n\nthe session did not trade; its journal is {journal}", file=sys.stderr)
        return 1
    if args.reconcile_only:
        assert reconciliation is not None
        print(reconciliation.report())
        return 0 if reconciliation.ok else 1
    if result is None:
        print(f"no live bar was handled; the journal is in {journal}")
        return 0
    save_result(result, out, csv=bool(args.csv), quiet=args.quiet)
    folder.finish(result, source=f"{config.exchange.id} ({'live' if args.live else 'paper'})")
    from engine.cli.backtest import format_summary

    print(format_summary(result))
    print(f"\nresults and journal written to {out}")
    return 0


async def run_session(config: LiveConfig, journal: Path, max_bars: int | None, credentials: tuple[str, str] | None,
                      *, reconcile_only: bool = False) -> tuple[BacktestResult | None, Reconciliation | None]:
    """Connect, load the markets, and run the session (real orders with ``credentials``, else paper), or only its
    check against the account; return its result and that check. The clients are closed however it ends."""
    from adapters.ccxt.client import pro_client, rest_client
    from adapters.ccxt.feed import CcxtFeed
    from adapters.ccxt.markets import markets_from_exchange
    from adapters.ccxt.venue import Exchange
    from adapters.sim import SimSettings
    from adapters.sim.paper import Paper
    from engine.backtest import BacktestConfig, BacktestVenue
    from engine.cli.backtest import resolve_strategy
    from engine.live import LiveSession
    from engine.session_journal import read_session

    run = config.run
    strategy = resolve_strategy(run.strategy, base=config.base)(**dict(run.params))
    try:
        paper = Paper(SimSettings(**config.paper))
    except TypeError as exc:
        raise ConfigError(f"[paper]: {exc} (known: the settings of mlct backtest such as fee_bps)") from None
    client = pro_client(config.exchange, credentials)
    rest = rest_client(config.exchange)  # public data only: the warm-up needs no keys
    try:
        await client.load_markets()
        markets = markets_from_exchange(client, run.symbols)
        await asyncio.to_thread(rest.load_markets)
        cash = run.cash
        venue: BacktestVenue = paper
        quote = next(iter(markets)).quote
        if journal.exists():  # a resumed session keeps the cash it began with, whatever the account holds now
            cash = Decimal(read_session(journal)["config"]["cash"])
        elif credentials is not None:
            cash = Decimal(str((await client.fetch_balance()).get(quote, {}).get("free") or 0))
            if cash <= 0:
                raise ConfigError(f"--live: the account holds no free {quote} to trade with")
        if credentials is not None:
            venue = Exchange(client, cancel_on_stop=run.cancel_on_stop)
            print(f"*** REAL MONEY *** orders go to {config.exchange.id} for {', '.join(run.symbols)} with the keys "
                  f"in ${config.exchange.api_key_env}; {cash} {quote} to trade with; open orders are "
                  f"{'cancelled' if run.cancel_on_stop else 'kept'} when the session stops", file=sys.stderr)
        feed = CcxtFeed(client, run.symbols, run.timeframe, rest=rest, trades="trades" in run.streams,
                        quotes="quotes" in run.streams, stale_after=run.stale_after)
        session = LiveSession([strategy], feed, venue, BacktestConfig(cash=cash, markets=tuple(markets),
                                                                      risk=config.risk),
                              journal=journal, settings=_settings(config, live=credentials is not None),
                              warmup_bars=run.warmup_bars, max_bars=max_bars,
                              monitor_port=config.monitor_port)  # [monitor] port: the read-only page, off if None
        result = await session.run(reconcile_only=reconcile_only)
        return result, session.reconciliation
    finally:
        await client.close()


def _settings(config: LiveConfig, *, live: bool) -> dict[str, Any]:
    """What the journal records of the session's config (the names of the key variables, never keys)."""
    run = config.run
    return {"kind": "live" if live else "paper", "exchange": config.exchange.id, "symbols": list(run.symbols),
            "strategy": run.strategy, "strategy_base": str(config.base),
            "api_key_env": config.exchange.api_key_env if live else None,
            "timeframe": run.timeframe, "warmup_bars": run.warmup_bars, "streams": list(run.streams),
            "paper": dict(config.paper)}
