"""``mlct recommend``: BUY, SELL or HOLD for the latest bar, with the model's out-of-sample record and reasons."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from engine.cli.inputs import add_data_options, frame_from_args
from engine.display import percent

EXAMPLES = """examples:
  mlct recommend --model out/model                 the latest bar of the bundled sample
  mlct recommend --model out/model --json          keys: action, threshold, sell_threshold, precision,
                                                   precision_ci, avg_return, avg_return_ci, n_signals,
                                                   n_independent, as_of, contributions (and the probabilities,
                                                   the model used)
  mlct recommend --model models/btc --data binance:BTC/USD:1h@2024-01-01..
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = commands.add_parser("recommend", help="BUY / SELL / HOLD for the latest bar from a trained model",
                             description="Compute the features of the latest closed bar (a last bar still forming "
                                         "by the clock is ignored), ask the newest model valid after it, and print "
                                         "the action with the model's out-of-sample precision and average net "
                                         "return at its threshold, each with its 95% interval, the number of past "
                                         "signals and of independent ones (only outcomes known by that bar), and "
                                         "the indicators that pushed hardest.",
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
    view = recommend(bundle, frame, symbol, top_n=args.top, now=time.time_ns())  # the CLI owns the clock
    print(json.dumps(view, indent=2) if args.json else format_recommendation(view))
    return 0


def format_recommendation(view: dict[str, Any]) -> str:
    """Return the recommendation as a few lines of text."""
    def shown(value: float | None) -> str:
        return "none" if value is None else f"{value:.3f}"

    lines = [f"{view['action']} {view['symbol']} as of {view['as_of'][:16].replace('T', ' ')} UTC: p_up "
             f"{view['p_up']:.3f}, p_flat {view['p_flat']:.3f}, p_down {view['p_down']:.3f}; thresholds buy "
             f"{shown(view['threshold'])}, sell {shown(view.get('sell_threshold'))}"]
    if view["n_signals"]:
        lines.append(f"  out of sample at this threshold, outcomes known by then: {view['n_signals']:,} past "
                     f"{view['side']} signals ({view['n_independent']:,} independent), precision "
                     f"{_with_interval(view['precision'], view['precision_ci'], 1)}, average net return "
                     f"{_with_interval(view['avg_return'], view['avg_return_ci'], 2)} over {view['horizon']} bars "
                     f"(every bar: precision {percent(view['baseline_precision'], 1)}, "
                     f"{percent(view['baseline_avg_return'])})")
    direction = {"BUY": "toward up", "SELL": "toward down"}.get(view["action"], "toward up (+) or down (-)")
    reasons = ", ".join(f"{name} {value:+.3f}" for name, value in view["contributions"].items())
    lines.append(f"  top indicators ({direction}, log-odds of up vs down): {reasons}")
    lines.append(f"  model: {view['model']['kind']}, trained on {view['model']['train_period'][0][:10]}.."
                 f"{view['model']['train_period'][1][:10]}; {view['note']}")
    return "\n".join(lines)


def _with_interval(value: float | None, interval: list[float | None], digits: int) -> str:
    low, high = interval
    if low is None or high is None:
        return f"{percent(value, digits)} [too few for an interval]"
    return f"{percent(value, digits)} [{percent(low, digits)}, {percent(high, digits)}]"
