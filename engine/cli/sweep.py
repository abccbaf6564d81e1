"""``mlct sweep``: back-test a strategy over a parameter grid (or a seeded random draw of it), on one or more data
sets, optionally walk-forward; print the best rows, save every row.

Files in ``--out``: ``results.jsonl`` (each job's row as it finishes: what a resumed sweep skips),
``sweep.json`` (the sweep's settings), ``results.parquet`` (every row), ``summary.json`` (best rows, PBO and the
walk-forward windows), ``sweep.html`` (``engine.optimize.report``) and, with ``--walk-forward``,
``windows.parquet`` and ``oos_equity.parquet``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from engine.cli.backtest import _parse_pairs, resolve_strategy
from engine.errors import ConfigError
from engine.progress import progress_enabled

EXAMPLES = """examples:
  mlct sweep --grid fast=5:50:5 --grid slow=20:200:10 --out runs/sma      every pair on the bundled sample
  mlct sweep --grid fast=5:50:5 --grid slow=20:200:10 --random 40 --seed 7 --objective return_dd:0.25 --out runs/r
  mlct sweep --grid fast=5:50:5 --grid slow=20:200:10 --walk-forward 4000:1000 --out runs/wf
  mlct sweep --data btc.csv --data eth.csv --grid fast=10,20 --grid slow=50,100 --executor inprocess --out runs/x
  mlct sweep --grid fast=5:50:5 --grid slow=20:200:10 --executor ray --ray-address auto --out runs/cluster
  (an interrupted sweep resumes from its --out: run the same command again)
"""

OBJECTIVE_HELP = "sharpe, sortino, calmar, total_return, annual_return, or return_dd:CAP (default sharpe)"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sw = commands.add_parser("sweep", help="back-test a strategy over a parameter grid, optionally walk-forward",
                             description="Back-test a strategy for every point of a parameter grid (or a seeded "
                                         "random draw of it) on one or more data sets, and rank the runs.",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sw.add_argument("--strategy", default="sma_cross",
                    help="a module of strategies/ (sma_cross), module:Class or path/file.py:Class")
    sw.add_argument("--grid", action="append", default=[], metavar="NAME=START:STOP:STEP|A,B,C",
                    help="a parameter's values: a range with its stop included, or a list (repeat per parameter)")
    sw.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="a parameter held fixed in every run")
    sw.add_argument("--random", type=int, metavar="N", help="run N distinct points drawn from the grid")
    sw.add_argument("--seed", type=int, default=0, help="seed of the random draw (default 0)")
    sw.add_argument("--data", action="append", metavar="FILE|QUERY",
                    help="bars to sweep on, repeat for more data sets (default: the bundled sample)")
    sw.add_argument("--data-dir", type=Path, help="catalog directory for a query (default $MLCT_DATA_DIR)")
    sw.add_argument("--symbol", help="symbol of the data (default: from the file)")
    sw.add_argument("--objective", default="sharpe", help=OBJECTIVE_HELP)
    sw.add_argument("--walk-forward", metavar="IS:OOS",
                    help="choose on IS bars, test on the next OOS bars, rolling by OOS; chain the OOS runs")
    sw.add_argument("--executor", choices=["inprocess", "process", "ray"], default="process",
                    help="run jobs here, on a local process pool, or on Ray (pip install "
                         "'ml-crypto-trading[ray]'; default process)")
    sw.add_argument("--workers", type=int, help="processes of the pool, or Ray workers (default: every core)")
    sw.add_argument("--ray-address", metavar="auto|HOST:PORT",
                    help="Ray cluster to join (default: start a local Ray with --workers or every core)")
    sw.add_argument("--cash", help="starting cash (default 10000)")
    sw.add_argument("--fee-bps", type=float, help="taker fee in basis points (default 10)")
    sw.add_argument("--slippage-bps", type=float, help="slippage on taker fills in basis points (default 0)")
    sw.add_argument("--heatmap", metavar="X,Y",
                    help="the two parameters of sweep.html's heatmaps (default: the first two --grid parameters)")
    sw.add_argument("--top", type=int, default=10, help="best rows to print (default 10)")
    sw.add_argument("--out", type=Path, required=True, metavar="DIR", help="where rows are saved (and resumed from)")
    sw.add_argument("--json", action="store_true", help="print summary.json to stdout instead of the table")
    sw.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from adapters.sim import SimSettings
    from engine.backtest import BacktestConfig
    from engine.optimize import (
        DataSet,
        Objective,
        ParamSpace,
        ResultsFile,
        SweepSetup,
        best_rows,
        make_executor,
        results_table,
        run_jobs,
        save_table,
        sweep_jobs,
        sweep_pbo,
    )
    from engine.optimize.report import SweepReport, heatmap_axes, write_sweep_report
    from engine.optimize.walk_forward import parse_walk_forward, walk_forward

    if not args.grid:
        raise ConfigError("give at least one --grid NAME=VALUES")
    space = ParamSpace.parse(args.grid)
    points = space.grid() if args.random is None else space.sample(args.random, args.seed)
    objective = Objective.parse(args.objective)
    heatmap = heatmap_axes(args.heatmap, space.names)
    windows = parse_walk_forward(args.walk_forward) if args.walk_forward else None
    sources = args.data or [None]
    datasets = tuple(DataSet(s or "sample", s, args.symbol, None if args.data_dir is None else str(args.data_dir))
                     for s in sources)
    if len({d.name for d in datasets}) != len(datasets):
        raise ConfigError("a --data is given twice")
    venue = SimSettings(**{k: v for k, v in (("fee_bps", args.fee_bps), ("slippage_bps", args.slippage_bps))
                           if v is not None})
    config = BacktestConfig(cash=args.cash) if args.cash is not None else BacktestConfig()
    strategy = resolve_strategy(args.strategy)
    setup = SweepSetup(strategy, datasets, venue, config, objective, _parse_pairs(args.param, "--param"))
    executor = make_executor(args.executor, args.workers, args.ray_address)
    manifest = {"strategy": args.strategy, "grid": args.grid, "params": setup.base_params, "random": args.random,
                "seed": args.seed, "data": sources, "symbol": args.symbol, "objective": objective.name,
                "walk_forward": args.walk_forward, "venue": venue.to_dict(), "cash": str(config.cash)}
    store = ResultsFile(args.out, manifest)
    progress = progress_enabled(args.quiet)
    summary: dict[str, Any] = {"strategy": args.strategy, "objective": objective.name, "n_points": len(points)}
    try:
        if windows is None:
            rows = run_jobs(setup, sweep_jobs(points, len(datasets)), executor, store=store, progress=progress)
            summary["pbo"] = sweep_pbo(rows)
        else:
            result = walk_forward(setup, points, executor, in_sample=windows[0], out_of_sample=windows[1],
                                  store=store, progress=progress)
            rows = result.rows
            result.windows.to_parquet(args.out / "windows.parquet", index=False)
            pd.concat({k: v for k, v in result.equity.items()}, names=["dataset", "ts"]).reset_index().to_parquet(
                args.out / "oos_equity.parquet", index=False)
            summary["walk_forward"] = {"windows": _records(result.windows), "out_of_sample": result.summary}
    finally:
        store.close()
        executor.close()
    table = results_table(rows)
    save_table(table, args.out)
    ranked = table if windows is None else table[table["phase"] == "is"]
    best = best_rows(ranked, args.top)
    failed = table[table["error"].notna()]
    summary.update(n_jobs=len(table), n_failed=len(failed), best=_records(best),
                   failed=_records(failed[["job", "dataset", *space.names, "error"]].head(20)))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    write_sweep_report(SweepReport(table, space.names, objective.name, heatmap, best, summary.get("pbo", {}),
                                   None if windows is None else result.windows,
                                   {} if windows is None else result.equity, f"Sweep of {args.strategy}"),
                       args.out / "sweep.html")
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
    else:
        print(_format(best, space.names, objective.name))
        if windows is not None:
            print("\nwalk-forward, in-sample against out-of-sample:")
            print(result.windows.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
            for name, chained in result.summary.items():
                figures = ", ".join(f"{k} {chained[k]:.4g}" for k in ("total_return", "sharpe", "max_drawdown")
                                    if chained.get(k) is not None)
                print(f"out of sample, chained ({name}, {chained['n_bars']:,} bars): {figures or 'no run'}")
        for name, value in summary.get("pbo", {}).items():
            print(f"PBO {name}: " + ("n/a" if value is None else f"{value['pbo']:.2f} over {value['n_splits']} "
                                                                   "splits"))
        if len(failed):
            print(f"{len(failed)} of {len(table)} jobs failed; first: {failed.iloc[0]['error']}")
        print(f"every row in {args.out / 'results.parquet'}, the report in {args.out / 'sweep.html'}")
    return 1 if len(failed) == len(table) else 0


def _format(best: pd.DataFrame, names: list[str], objective: str) -> str:
    columns = ["job", "dataset", "window", *names, "objective", "total_return", "sharpe", "max_drawdown", "n_trades"]
    shown = best[[c for c in columns if c in best.columns and not (c == "window" and (best[c] < 0).all())]]
    return f"best by {objective}:\n" + shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]
