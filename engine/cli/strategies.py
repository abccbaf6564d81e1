"""``mlct strategies``: the ready strategies of strategies/, each with its parameters, defaults and warm-up.

freqtrade users expect ``list-strategies``; a trader picks a strategy and its ``--param`` flags from this list
instead of reading the source.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import textwrap
from typing import Any

from engine.errors import MlctError

EXAMPLES = """examples:
  mlct strategies                         every strategy: parameters with defaults, warm-up in bars
  mlct strategies sma_cross rsi           only these
  mlct strategies --json                  the same as a JSON list (name, class, summary, warmup_bars, params)
  mlct backtest --strategy rsi --param period=21 --param lower=25
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = commands.add_parser("strategies", help="list the ready strategies with their parameters and warm-up",
                             description="List the strategies of strategies/ (what --strategy NAME accepts): each "
                                         "one's parameters with their defaults and descriptions, and its warm-up "
                                         "in bars with the default parameters (the bars before its first decision).",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("names", nargs="*", metavar="NAME", help="strategies to show (default: all)")
    sp.add_argument("--json", action="store_true", help="print the list as JSON")
    sp.set_defaults(func=cmd_strategies)


def cmd_strategies(args: argparse.Namespace) -> int:
    from engine.cli.backtest import list_strategies

    names = args.names or list_strategies()
    described = [describe(name) for name in names]
    print(json.dumps(described, indent=2, default=str) if args.json else format_strategies(described))
    return 0


def describe(name: str) -> dict[str, Any]:
    """Return what a trader needs to run strategy ``name``: its class, summary, parameters and warm-up."""
    from engine.cli.backtest import resolve_strategy

    cls = resolve_strategy(name)
    module = inspect.getmodule(cls)
    notes = parameter_notes(inspect.getdoc(module) or "")
    summary = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")
    params = [{"name": key, "default": default, "type": type(default).__name__, "description": notes.get(key, "")}
              for key, default in cls.params.items()]
    try:
        warmup: int | None = cls().warmup_bars()
        note = ""
    except MlctError as exc:  # ml_signal needs a model directory to know its features' windows
        reason = " ".join(str(exc).split())
        warmup, note = None, f"known once its required parameters are given ({reason})"
    return {"name": name, "class": cls.__name__, "summary": summary, "warmup_bars": warmup,
            **({"warmup_note": note} if note else {}), "params": params}


def parameter_notes(doc: str) -> dict[str, str]:
    """Return each parameter's description from a numpy-style ``Parameters`` section (``a, b`` lines share one)."""
    match = re.search(r"^Parameters\n-+\n(.*?)(?:\n\S[^\n]*\n-+\n|\Z)", doc, flags=re.S | re.M)
    if not match:
        return {}
    notes: dict[str, str] = {}
    names: list[str] = []
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            names = [n.strip() for n in line.split(",") if n.strip()]
            for n in names:
                notes[n] = ""
        elif line.strip() and names:
            for n in names:
                notes[n] = f"{notes[n]} {line.strip().replace('``', '')}".strip()
    return notes


def format_strategies(described: list[dict[str, Any]], width: int = 110) -> str:
    """Return the list as text: a heading line per strategy, then a line per parameter."""
    blocks = []
    for entry in described:
        warmup = (f"warm-up {entry['warmup_bars']:,} bars" if entry["warmup_bars"] is not None
                  else "warm-up: " + entry.get("warmup_note", "unknown"))
        lines = [f"{entry['name']} ({entry['class']}): {entry['summary']}", f"  {warmup}"]
        cells = [(p["name"], _value(p["default"]), p["description"]) for p in entry["params"]]
        left = max((len(f"{n} = {d}") for n, d, _ in cells), default=0)
        for name, default, note in cells:
            head = f"    {f'{name} = {default}':<{left}}  "
            lines += textwrap.wrap(note or "-", width, initial_indent=head, subsequent_indent=" " * len(head))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n\nuse: mlct backtest --strategy NAME --param KEY=VALUE" if described else "")


def _value(default: object) -> str:
    """Write a default as the --param flag takes it: true/false, numbers as they are, text quoted."""
    if isinstance(default, bool):
        return str(default).lower()
    return repr(default) if isinstance(default, str) else str(default)
