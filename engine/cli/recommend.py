"""``mlct recommend``: BUY, SELL or HOLD for the latest bar, with the model's out-of-sample record and reasons."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engine.cli.inputs import add_data_options, frame_from_args
from engine.display import percent

EXAMPLES = """examples:
  mlct recommend --model out/model                 the latest bar of the bundled sample
  mlct recommend --model out/model --json          keys: action, threshold, precision, avg_return, n_signals,
                                                   as_of, contributions (and the probabilities, the model used)
  mlct recommend --model models/btc --data binance:BTC/USD:1h@2024-01-01..
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = commands.add_parser("recommend", help="BUY / SELL / HOLD for the latest bar from a trained model",
                             description="Compute the features of the latest bar, ask the newest model valid after "
                                         "it, and print the action with the model's out-of-sample precision and "
                                         "average net return at its threshold, the number of past signals, and the "
                                         "indicators that pushed hardest.",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("--model", type=Path, required=True, metavar="DIR", help="directory of mlct ml train")
    add_data_options(sp)
    sp.add_argument("--top", type=int, default=5, metavar="N", help="indicators to show (default 5)")
    sp.add_argument("--json", action="store_true", help="print the recommendation as JSON")
    sp.set_defaults(func=cmd_recommend)


def cmd_recommend(args: argparse.Namespace) -> int:
    from engine.ml.model_io import ModelBundle
    from engine.ml.pipeline import recommend

    bundle = ModelBundle.load(args.model)
    frame, symbol = frame_from_args(args)
    view = recommend(bundle, frame, symbol, top_n=args.top)
    print(json.dumps(view, indent=2) if args.json else format_recommendation(view))
    return 0


def format_recommendation(view: dict[str, Any]) -> str:
    """Return the recommendation as a few lines of text."""
    threshold = "none (the model does not trade)" if view["threshold"] is None else f"{view['threshold']:.3f}"
    lines = [f"{view['action']} {view['symbol']} as of {view['as_of'][:16].replace('T', ' ')} UTC: p_up "
             f"{view['p_up']:.3f}, p_flat {view['p_flat']:.3f}, p_down {view['p_down']:.3f}; threshold {threshold}"]
    if view["n_signals"]:
        low, high = view["avg_return_ci"]
        lines.append(f"  out of sample at this threshold: {view['n_signals']:,} past {view['side']} signals, "
                     f"precision {percent(view['precision'], 1)}, average net return {percent(view['avg_return'])} "
                     f"[{percent(low)}, {percent(high)}] over {view['horizon']} bars (every bar: precision "
                     f"{percent(view['baseline_precision'], 1)}, {percent(view['baseline_avg_return'])})")
    direction = {"BUY": "toward up", "SELL": "toward down"}.get(view["action"], "toward up (+) or down (-)")
    reasons = ", ".join(f"{name} {value:+.3f}" for name, value in view["contributions"].items())
    lines.append(f"  top indicators ({direction}, log-odds of up vs down): {reasons}")
    lines.append(f"  model: {view['model']['kind']}, trained on {view['model']['train_period'][0][:10]}.."
                 f"{view['model']['train_period'][1][:10]}; {view['note']}")
    return "\n".join(lines)
