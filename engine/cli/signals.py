"""``mlct signals``: run one signal of the library over historical bars and show when, and how often, it fired."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from engine.cli.inputs import add_data_options, frame_from_args

EXAMPLES = """examples:
  mlct signals --signal rsi                                   RSI(14) 30/70 on the bundled BTC/USD hourly sample
  mlct signals --signal rsi --param mode=momentum --param period=21 --limit 0
  mlct signals --signal ma_cross --param fast=20 --param slow=50 --json > cross.json
  mlct signals --data my.csv --symbol ETH/USD --signal bollinger --param nbdev=2.5
  mlct signals --signal double_dip --data binance:BTC/USDT:1h@2024-01-01..2024-06-01

signals: regime, ma_cross, ma_envelope, double_dip, rsi, macd, bollinger, atr_band, donchian, volume_spike
(parameters and rules: python -c "import engine.analyze.rules as r; help(r.Rsi)")
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from engine.analyze.rules import RULES

    sp = commands.add_parser("signals", help="show when a signal fires on historical data, and how often",
                             description="Replay historical bars through one signal of the library (on the bus, "
                                         "as a back-test would) and print every bar it fired on (direction +1 "
                                         "buy / -1 sell, strength, the indicator values that drove it), then how "
                                         "often it fired.",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("--signal", required=True, choices=sorted(RULES), metavar="NAME",
                    help=f"the signal: {', '.join(RULES)}")
    sp.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="a parameter of the signal (repeatable), converted to the type of its default")
    add_data_options(sp)
    sp.add_argument("--limit", type=int, default=50, metavar="N",
                    help="print the first N events (default 50; 0 prints all); --json always has all")
    sp.add_argument("--json", action="store_true", help="print the events and counts as JSON")
    sp.set_defaults(func=cmd_signals)


def _params(pairs: list[str]) -> dict[str, str]:
    from engine.errors import ConfigError

    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param must be KEY=VALUE, got {pair!r}")
        params[key.strip()] = value.strip()
    return params


def cmd_signals(args: argparse.Namespace) -> int:
    import pandas as pd

    from engine.analyze.signals import counts, make_signal, signal_events
    from engine.backtest import feeds_from_data
    from engine.datagen.fingerprint import interval_text

    params = _params(args.param)
    make_signal(args.signal, **params)  # bad parameters fail before the data is read
    reports = []
    frame, symbol = frame_from_args(args)
    for feed in feeds_from_data(frame, symbol):
        rule = make_signal(args.signal, **params)
        events = signal_events(rule, feed, emit="nonzero")
        n_bars = len(feed)
        summary = dict(counts([e.direction for e in events] + [0] * (n_bars - len(events))))
        reports.append({
            "signal": args.signal, "params": rule.p, "symbol": feed.symbol, "bars": n_bars,
            "interval": interval_text(feed.interval_ns), "counts": summary,
            "events": [{"ts": pd.Timestamp(e.ts, unit="ns", tz="UTC").isoformat(), "direction": e.direction,
                        "strength": e.strength, "contributions": dict(e.contributions or {})} for e in events],
        })
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2, default=_json_default))
        return 0
    for report in reports:
        print(format_report(report, args.limit))
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def format_report(report: dict[str, Any], limit: int) -> str:
    """Return the text of one report: the title, how often the signal fired, then its events."""
    c = report["counts"]
    params = json.dumps(report["params"])
    lines = [f"{report['signal']} {params} on {report['symbol']}, {report['bars']:,} {report['interval']} bars",
             f"fired on {c['buy'] + c['sell']:,} bars ({c['share_fired']:.2%}): buy +1 {c['buy']:,} "
             f"({c['share_buy']:.2%}), sell -1 {c['sell']:,} ({c['share_sell']:.2%})", ""]
    events = report["events"]
    shown = events if limit <= 0 else events[:limit]
    if shown:
        lines.append(f"{'bar close (UTC)':<19}  {'dir':>3}  {'strength':>8}  contributions")
    for event in shown:
        values = "  ".join(f"{k}={_short(v)}" for k, v in event["contributions"].items())
        lines.append(f"{event['ts'][:16].replace('T', ' '):<19}  {event['direction']:+3d}  "
                     f"{event['strength']:8.4f}  {values}")
    if len(shown) < len(events):
        lines.append(f"... {len(events) - len(shown):,} more (--limit 0 prints all, --json gives all)")
    return "\n".join(lines)


def _short(value: float) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
