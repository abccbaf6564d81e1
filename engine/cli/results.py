"""``mlct results list|show|compare``: the runs saved with a manifest, and their statistics side by side.

Runs are found by their ``manifest.json`` (``engine.result.manifest``) a few levels under the folders given, by
default the results root (``$MLCT_RESULTS_DIR`` or ``./results``, where ``mlct backtest --save`` writes) and the
working directory (the README's ``out/``, ``runs/...``). A run is named by its folder, its id, or the start of
its id when only one run has it. Only manifests are read: listing a hundred runs loads no table.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.cli.run_folder import results_root
from engine.display import SUMMARY_ROWS, box_table, format_stat
from engine.errors import ConfigError
from engine.result.manifest import MANIFEST, find_runs, read_manifest

EXAMPLES = """examples:
  mlct results list                       runs under ./results (or $MLCT_RESULTS_DIR) and the working directory
  mlct results list runs/ --json          the runs under runs/, as JSON
  mlct results show out/                  the manifest and statistics of the run in out/
  mlct results compare runs/sma-10-30 runs/sma-20-50 out/   statistics side by side
  mlct results compare 20261203T2215 runs/sma-20-50 --json  a run by the start of its id
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rs = commands.add_parser("results", help="list saved runs, show one, compare their statistics",
                             description="Saved runs (each folder holding a manifest.json, written by mlct "
                                         "backtest --out/--save, mlct ml run and mlct live): list them, show one, "
                                         "or compare their statistics side by side.",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = rs.add_subparsers(dest="results_command", required=True, metavar="SUBCOMMAND")
    ls = sub.add_parser("list", help="one line per saved run, oldest first", epilog=EXAMPLES,
                        description="Find the run folders under DIR (default: the results root and the working "
                                    "directory) and print one line per run.",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.add_argument("dirs", nargs="*", type=Path, metavar="DIR", help="where to look (default: ./results or "
                    "$MLCT_RESULTS_DIR, and .)")
    ls.add_argument("--depth", type=int, default=3, help="folder levels searched under each DIR (default 3)")
    ls.add_argument("--json", action="store_true", help="print the manifests as a JSON list")
    ls.set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="a run's manifest and statistics", epilog=EXAMPLES,
                          description="Print what a run was (command, strategy, data, files) and its statistics.",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("run", metavar="RUN", help="a run folder, a run id, or the start of one")
    show.add_argument("--json", action="store_true", help="print the manifest as JSON")
    show.set_defaults(func=cmd_show)
    compare = sub.add_parser("compare", help="statistics of runs side by side", epilog=EXAMPLES,
                             description="Print each statistic of the summary table for every run, side by side.",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run folders, run ids, or the start of one")
    compare.add_argument("--json", action="store_true", help="print {runs: [...], stats: {key: [values]}}")
    compare.set_defaults(func=cmd_compare)


def default_roots() -> list[Path]:
    """Return where runs are looked for when no folder is given: the results root and the working directory."""
    return [results_root(), Path(".")]


def load_run(folder: Path) -> dict[str, Any]:
    """Return the manifest of the run in ``folder`` with ``folder`` added; ConfigError when there is none."""
    manifest = read_manifest(folder)
    if manifest is None:
        raise ConfigError(f"{folder}: no {MANIFEST} here (not a saved run: see mlct results list)")
    return {"folder": str(folder), **manifest}


def resolve_run(name: str, roots: Sequence[Path] | None = None) -> Path:
    """Return the folder of the run ``name``: a folder holding a manifest, else the one run found under
    ``roots`` whose id or folder name is ``name`` or starts with it."""
    path = Path(name)
    if (path / MANIFEST).is_file():
        return path
    folders = find_runs(default_roots() if roots is None else roots)
    exact = [f for f in folders if name in (f.name, _id(f))]
    matches = exact or [f for f in folders if _id(f).startswith(name) or f.name.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(f"no saved run {name!r}: not a folder with a {MANIFEST}, nor the id of a run under "
                          f"{', '.join(str(r) for r in (roots or default_roots()))} (see mlct results list)")
    raise ConfigError(f"{name!r} names {len(matches)} runs: {', '.join(str(f) for f in matches[:5])}; give more")


def _id(folder: Path) -> str:
    manifest = read_manifest(folder)
    return str(manifest.get("id", "")) if manifest else ""


def cmd_list(args: argparse.Namespace) -> int:
    runs = [load_run(folder) for folder in find_runs(args.dirs or default_roots(), depth=args.depth)]
    if args.json:
        print(json.dumps(runs, indent=2, default=str))
        return 0
    if not runs:
        print(f"no saved runs under {', '.join(str(d) for d in args.dirs or default_roots())} "
              "(mlct backtest --save or --out DIR saves one)")
        return 0
    header = ("Run", "Created (UTC)", "Kind", "Strategy", "Data", "Return", "Sharpe", "Max DD", "Trades")
    rows = [(run["folder"], _minute(run.get("created", "")), str(run.get("kind", "")), strategy_text(run),
             data_text(run), *_figures(run.get("stats", {}))) for run in runs]
    print("\n".join(box_table(header, rows, left=5)))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    run = load_run(resolve_run(args.run))
    if args.json:
        print(json.dumps(run, indent=2, default=str))
        return 0
    data = run.get("data", {})
    lines = [f"run      {run.get('id')}  ({run['folder']})",
             f"kind     {run.get('kind')}, created {run.get('created')}, mlct {run.get('mlct_version')}",
             f"command  {' '.join(run.get('command', []))}",
             f"strategy {strategy_text(run)}",
             f"data     {data_text(run)}" + (f"  (source {data.get('source')})" if data.get("source") else ""),
             f"sha256   {data.get('sha256') or 'n/a'}",
             "files    " + ", ".join(f"{f['name']} ({_size(f.get('bytes', 0))})" for f in run.get("files", []))]
    print("\n".join(lines))
    print("\n".join(compare_lines([run])))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    runs = [load_run(resolve_run(name)) for name in args.runs]
    if args.json:
        keys = [key for key, *_ in SUMMARY_ROWS]
        print(json.dumps({"runs": [{k: run.get(k) for k in ("folder", "id", "kind", "created", "strategies", "data")}
                                   for run in runs],
                          "stats": {key: [run.get("stats", {}).get(key) for run in runs] for key in keys},
                          "buy_and_hold": {key: [(run.get("stats", {}).get("buy_and_hold") or {}).get(key)
                                                 for run in runs] for key, _, _, both in SUMMARY_ROWS if both}},
                         indent=2, default=str))
        return 0
    print("\n".join(compare_lines(runs)))
    return 0


def compare_lines(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return the table of each run's statistics side by side, buy-and-hold's return last (as the summary)."""
    names = [Path(str(run.get("folder", ""))).name or str(run.get("folder")) for run in runs]
    if len(set(names)) < len(names):  # out/ of two projects: the whole folder tells them apart
        names = [str(run.get("folder")) for run in runs]
    header = ("", *names)
    rows = [("Strategy", *(strategy_text(run) for run in runs)),
            ("Data", *(data_text(run) for run in runs))]
    for key, label, kind, _ in SUMMARY_ROWS:
        rows.append((label, *(format_stat(run.get("stats", {}).get(key), kind) for run in runs)))
    for key, label in (("total_return", "Buy & hold return"), ("max_drawdown", "Buy & hold max drawdown")):
        rows.append((label, *(format_stat((run.get("stats", {}).get("buy_and_hold") or {}).get(key), "percent")
                              for run in runs)))
    return box_table(header, rows)


def strategy_text(run: Mapping[str, Any]) -> str:
    """Return ``sma_cross fast=20 slow=50`` for each strategy of a run, joined by ``; ``."""
    parts = []
    for strategy in run.get("strategies", []):
        params = " ".join(f"{k}={_short(v)}" for k, v in (strategy.get("params") or {}).items() if v != "")
        parts.append(f"{strategy.get('name')} {params}".strip())
    return "; ".join(parts) or str(run.get("kind", ""))


def data_text(run: Mapping[str, Any]) -> str:
    """Return ``BTC/USD 1h 2024-01-01..2024-06-01 (4,000 bars)`` for a run's data."""
    data = run.get("data", {})
    if not data.get("symbols"):
        return str(data.get("source") or "")
    span = f" {str(data.get('start', ''))[:10]}..{str(data.get('end', ''))[:10]}" if data.get("start") else ""
    bars = f" ({data['n_bars']:,} bars)" if isinstance(data.get("n_bars"), int) else ""
    return f"{','.join(data['symbols'])} {data.get('interval', '')}{span}{bars}"


def _figures(stats: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (format_stat(stats.get("total_return"), "percent"), format_stat(stats.get("sharpe"), "ratio"),
            format_stat(stats.get("max_drawdown"), "percent"), format_stat(stats.get("n_trades"), "count"))


def _short(value: Any, width: int = 24) -> str:
    text = str(value)
    return text if len(text) <= width else "..." + text[-(width - 3):]


def _minute(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _size(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size / 1e3:,.1f} kB"
