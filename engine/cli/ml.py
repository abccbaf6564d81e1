"""``mlct ml``: train a model walk-forward, evaluate it, or run the whole ML workflow end to end (``ml run``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.inputs import add_data_options, frame_from_args
from engine.cli.output import add_output_options, save_result

if TYPE_CHECKING:
    import pandas as pd

    from engine.ml.labels import LabelSpec
    from engine.ml.model_io import ModelBundle
    from engine.ml.walkforward import WalkForwardConfig

EXAMPLES = """examples:
  mlct ml run --out out/                  train walk-forward on the bundled sample, back-test the ML strategy on
                                          the out-of-sample bars, print the latest recommendation, write
                                          out/report.html (about a minute on 2 cores)
  mlct ml train --out models/btc          walk-forward only: models, metadata, predictions, evaluation table
  mlct ml train --data my.csv --symbol ETH/USD --horizon 12 --retrain-every 168 --window 8760 --out models/eth
  mlct ml evaluate --model models/btc     re-score the saved models on the data, each on the bars it may predict
  mlct ml evaluate --model models/btc --data newer.csv --json
  mlct recommend --model models/btc       BUY / SELL / HOLD for the latest bar, with the model's record
  mlct backtest --strategy ml_signal --param model=models/btc --report
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ml = commands.add_parser("ml", help="machine-learning signals: train walk-forward, evaluate, run end to end",
                             description="Explainable xgboost signals from the streaming indicators, trained "
                                         "walk-forward (purged, embargoed, tuned inside each training window) and "
                                         "evaluated out of sample against always-long and random baselines.",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ml.add_subparsers(dest="ml_command", required=True, metavar="SUBCOMMAND")
    train = sub.add_parser("train", help="train walk-forward and save the models and the evaluation",
                           description="Compute the features and labels, train a model per test block on the bars "
                                       "before it (purged and embargoed), evaluate the out-of-sample predictions, "
                                       "and save everything to --out.", epilog=EXAMPLES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_options(train)
    _training_options(train)
    train.add_argument("--out", type=Path, required=True, metavar="DIR", help="model directory to write")
    train.add_argument("--json", action="store_true", help="print the metadata's evaluation summary as JSON")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="score saved models on data and print the signal table",
                              description="Predict every bar with the model valid at that bar (the walk-forward's "
                                          "fold models, then the final model) and evaluate the predictions whose "
                                          "outcome the data shows.", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_options(evaluate)
    evaluate.add_argument("--model", type=Path, required=True, metavar="DIR", help="directory of mlct ml train")
    evaluate.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                          help="bootstrap and random-baseline draws (default 1000)")
    evaluate.add_argument("--json", action="store_true", help="print the table as JSON records")
    evaluate.set_defaults(func=cmd_evaluate)

    run = sub.add_parser("run", help="train, back-test out of sample, recommend and write the report",
                         description="The ML workflow end to end: (1) train walk-forward and save the models to "
                                     "OUT/model, (2) back-test the ml_signal strategy on the out-of-sample bars "
                                     "only, the models' indicators warmed up on the bars before, (3) print the "
                                     "recommendation for the latest bar, (4) write OUT/report.html.",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_options(run)
    _training_options(run)
    run.add_argument("--out", type=Path, default=Path("out"), metavar="DIR", help="output directory (default out/)")
    run.add_argument("--cash", default="10000", help="starting cash of the back-test (default 10000)")
    run.add_argument("--confirm", default="", help="confirm buys with a classic signal: trend, regime, macd ...")
    add_output_options(run)
    run.set_defaults(func=cmd_run)


def _training_options(parser: argparse.ArgumentParser) -> None:
    from engine.ml.features import FEATURE_SETS
    from engine.ml.sizing import MAX_MODELS

    g = parser.add_argument_group("training")
    g.add_argument("--features", default="composite", choices=sorted(FEATURE_SETS), help="feature set")
    g.add_argument("--horizon", type=int, default=None,
                   help="label horizon in bars (default: one day of bars, 24 on hourly bars)")
    g.add_argument("--cost-bps", type=float, default=20.0,
                   help="round-trip cost in basis points: the label's threshold for up/down (default 20 = two "
                        "10 bps fills; the back-test of ml run charges half of it per fill)")
    g.add_argument("--retrain-every", type=int, default=None, metavar="N",
                   help=f"bars per model (default: 30 days of bars, 720 on hourly, fewer than "
                        f"{MAX_MODELS} models)")
    g.add_argument("--window", default="expanding",
                   help="training window: 'expanding' or a number of bars (rolling); default expanding")
    g.add_argument("--min-train", type=int, default=None, metavar="N",
                   help="rows of the first model (default 6000, or half the usable rows when fewer)")
    g.add_argument("--embargo", type=int, default=None, metavar="N",
                   help="bars between training and test (default: one day of bars, 24 on hourly)")
    g.add_argument("--inner-folds", type=int, default=3, metavar="K", help="time-series CV folds (3)")
    g.add_argument("--max-depth", default="2,4", help="tree depths to try (default 2,4)")
    g.add_argument("--eta", default="0.05,0.15", help="learning rates to try (default 0.05,0.15)")
    g.add_argument("--max-rounds", type=int, default=300, help="boosting rounds cap (default 300)")
    g.add_argument("--min-signals", type=int, default=None,
                   help="fewest signals of a side a threshold must give on the inner out-of-fold predictions "
                        "(default 200, or one per 30 rows of the first model when fewer; buys and sells choose "
                        "their own)")
    g.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    g.add_argument("--threads", type=_positive, default=None, metavar="N",
                   help="xgboost threads (default: the cores idle now, from the load average; the models are the "
                        "same whatever the count)")
    g.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap and random-baseline draws of the evaluation (default 1000)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _numbers(text: str, kind: type, name: str) -> tuple[Any, ...]:
    from engine.errors import ConfigError

    try:
        values = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"--{name} must be a comma-separated list of numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"--{name} is empty")
    return values


def settings(args: argparse.Namespace, nthread: int) -> tuple[LabelSpec, WalkForwardConfig]:
    """Return the label and walk-forward settings the options describe, training on ``nthread`` threads."""
    from engine.errors import ConfigError
    from engine.ml.labels import LabelSpec
    from engine.ml.walkforward import WalkForwardConfig

    window: int | None = None
    if args.window != "expanding":
        try:
            window = int(args.window)
        except ValueError:
            raise ConfigError(f"--window must be 'expanding' or a number of bars, got {args.window!r}") from None
    grid = tuple({"max_depth": d, "eta": e} for d in _numbers(args.max_depth, int, "max-depth")
                 for e in _numbers(args.eta, float, "eta"))
    defaults = WalkForwardConfig()
    label = LabelSpec(horizon=_or(args.horizon, LabelSpec().horizon), cost=args.cost_bps / 10_000)
    config = WalkForwardConfig(retrain_every=_or(args.retrain_every, defaults.retrain_every), window=window,
                               min_train=_or(args.min_train, defaults.min_train),
                               embargo=_or(args.embargo, defaults.embargo), inner_folds=args.inner_folds, grid=grid,
                               max_rounds=args.max_rounds, min_signals=_or(args.min_signals, defaults.min_signals),
                               seed=args.seed, nthread=nthread)
    return label, config


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def given(args: argparse.Namespace) -> set[str]:
    """Return the sized settings the options set (``engine.ml.sizing``): the others are sized to the data."""
    from engine.ml.sizing import SIZED_SETTINGS

    return {name for name in SIZED_SETTINGS if getattr(args, name, None) is not None}


def train_model(args: argparse.Namespace, frame: pd.DataFrame, symbol: str) -> ModelBundle:
    """Train walk-forward with a progress bar; save to ``args.out`` (or ``args.out / "model"`` for ml run)."""
    from engine.machine import choose_threads
    from engine.ml.pipeline import train
    from engine.progress import progress_display

    chosen = choose_threads(args.threads)
    label, config = settings(args, chosen.threads)
    if not args.quiet:
        print(f"training on {chosen.describe()}", file=sys.stderr, flush=True)

    def progress(total: int) -> tuple[Any, Any]:
        shown = progress_display(total, "walk-forward", unit="fit", quiet=args.quiet)
        if shown is None:
            return (lambda n: None), (lambda: None)
        return shown.update, shown.close

    bundle, _ = train(frame, symbol, features=args.features, label=label, config=config, n_boot=args.bootstrap,
                      n_random=args.bootstrap, progress=progress, fixed=given(args))
    return bundle


def format_training(bundle: ModelBundle, seconds: float) -> str:
    """Return the training summary: data, settings, each model, and the out-of-sample tables."""
    from engine.ml.gaps import gap_text
    from engine.ml.tables import fold_lines, text_table, traded_line

    meta = bundle.metadata
    data, summary, label = meta["data"], meta["evaluation"], bundle.label
    lines = [f"walk-forward on {', '.join(data['symbols'])} {data['interval']} bars, {data['start'][:16]} to "
             f"{data['end'][:16]} UTC ({data['n_bars']:,} bars, sha256 {data['sha256'][:12]}): "
             f"{summary['folds']} models and a final one in {seconds:.1f} s",
             f"features {bundle.features.name} ({len(bundle.features.names)}), label: open-to-open return over "
             f"{label.horizon} bars, up/down beyond a {label.cost:.2%} round-trip cost; purge {label.horizon} + "
             f"embargo {meta['walkforward']['embargo']} bars", *settings_lines(meta), *fold_lines(bundle.entries()),
             "",
             f"out of sample, {summary['out_of_sample_rows']:,} bars from "
             f"{meta['training_window']['out_of_sample_from'][:16]} (buy: p_up >= threshold; returns net of costs, "
             f"over {label.horizon} bars; 95% CI by block bootstrap, blocks of {2 * label.horizon} bars):"]
    if bundle.evaluation is not None:
        lines += [text_table(bundle.evaluation, "buy"), "", "sell signals (a short, or what a seller avoided):",
                  text_table(bundle.evaluation, "sell")]
    lines += ["", traded_line(summary["as_traded"], "buy"), traded_line(summary["as_traded"], "sell")]
    if summary.get("gaps"):
        lines.append(gap_text(summary["gaps"]))
    return "\n".join(lines)


def settings_lines(meta: dict[str, Any]) -> list[str]:
    """Return the line of the settings the walk-forward ran with, saying which were sized to the data."""
    from engine.ml.sizing import option

    settings = meta.get("settings")
    if not settings:
        return []
    used = ", ".join(f"{option(k)[2:]} {'expanding' if v is None else f'{v:,}'}"
                     for k, v in settings["used"].items())
    derived = settings["derived_from_data"]
    why = (f" ({', '.join(option(k)[2:] for k in derived)} sized to the data: pass an option to fix it)"
           if derived else "")
    return [f"settings: {used}{why}"]


def cmd_train(args: argparse.Namespace) -> int:
    frame, symbol = frame_from_args(args)
    started = time.perf_counter()
    bundle = train_model(args, frame, symbol)
    bundle.save(args.out)
    if args.json:
        print(json.dumps(bundle.metadata["evaluation"], indent=2))
    else:
        print(format_training(bundle, time.perf_counter() - started))
        print(f"\nmodel written to {args.out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from engine.ml.evaluate import DEFAULT_THRESHOLDS, evaluate_signals
    from engine.ml.model_io import ModelBundle
    from engine.ml.pipeline import score
    from engine.ml.tables import text_table

    bundle = ModelBundle.load(args.model)
    frame, symbol = frame_from_args(args)
    scored = score(bundle, frame, symbol)
    predicted = scored[scored["model"] >= 0]
    walkforward = bundle.metadata.get("walkforward", {})
    table = evaluate_signals(predicted["p_up"].to_numpy(), predicted["p_down"].to_numpy(),
                             predicted["ret"].to_numpy(), cost=bundle.label.cost, horizon=bundle.label.horizon,
                             thresholds=tuple(walkforward.get("thresholds") or DEFAULT_THRESHOLDS),
                             n_boot=args.bootstrap, n_random=args.bootstrap, seed=int(walkforward.get("seed", 0)))
    if args.json:
        print(table.to_json(orient="records", indent=2))
        return 0
    same = bundle.metadata.get("data", {}).get("sha256")
    known = int(predicted["ret"].notna().sum())
    print(f"{len(predicted):,} bars predicted ({known:,} with a known outcome) by "
          f"{predicted['model'].nunique()} of the {len(bundle.schedule)} models"
          + (" (the training data: these are the walk-forward's out-of-sample rows)" if same and
             _fingerprint(frame, symbol) == same else ""))
    print(text_table(table, "buy"))
    print("\nsell signals:")
    print(text_table(table, "sell"))
    return 0


def _fingerprint(frame: pd.DataFrame, symbol: str) -> str | None:
    from engine.datagen.bar_feed import BarFeed
    from engine.datagen.fingerprint import data_fingerprint

    return data_fingerprint([BarFeed(frame, symbol)]).get("sha256")


def cmd_run(args: argparse.Namespace) -> int:
    from adapters.sim import SimSettings  # the composition root: the CLI picks the venue and hands it in
    from engine.backtest import BacktestConfig, run_backtest
    from engine.cli.backtest import format_summary
    from engine.cli.recommend import format_recommendation
    from engine.cli.run_folder import RunFolder, started_now
    from engine.ml.pipeline import recommend
    from engine.report import write_report
    from strategies.ml_signal import MlSignal

    out: Path = args.out
    begun = started_now()
    config = BacktestConfig(cash=args.cash)  # a bad --cash is refused before training, not after
    frame, symbol = frame_from_args(args)
    started = time.perf_counter()
    print("1/4 training walk-forward ...", flush=True)
    bundle = train_model(args, frame, symbol)
    folder = RunFolder.claim(out, "ml run", args, begun)  # an earlier run's files go before this one's are written
    model_dir = bundle.save(out / "model")
    print(format_training(bundle, time.perf_counter() - started))

    first = bundle.predictions.index[0] if bundle.predictions is not None and len(bundle.predictions) else None
    if first is None:
        raise RuntimeError("the walk-forward made no out-of-sample prediction")
    position = frame.index.get_loc(first)
    history, tested = frame.iloc[:position], frame.iloc[position:]
    print(f"\n2/4 back-test of ml_signal on the {len(tested):,} out-of-sample bars from {str(first)[:16]} "
          f"(indicators warmed up on the {len(history):,} bars before; fee {args.cost_bps / 2:g} bps a fill) ...",
          flush=True)
    strategy = MlSignal(model=str(model_dir), confirm=args.confirm)
    strategy.handler.warm_up(history, symbol)
    result = run_backtest(strategy, tested, config, venue=SimSettings(fee_bps=args.cost_bps / 2), symbol=symbol,
                          progress=not args.quiet)
    save_result(result, out, csv=bool(args.csv), quiet=args.quiet)
    print(format_summary(result))

    print("\n3/4 recommendation for the latest bar")
    view = recommend(bundle, frame, symbol, now=time.time_ns())  # a last bar still forming is ignored
    (out / "recommendation.json").write_text(json.dumps(view, indent=2) + "\n")
    print(format_recommendation(view))

    report = write_report(result, out / "report.html")
    meta = json.loads((model_dir / "metadata.json").read_text())  # as saved: the label and feature set with it
    folder.finish(result, source=getattr(args, "data", None) or "sample",
                  extra={"training": {key: meta.get(key) for key in ("feature_set", "label", "walkforward",
                                                                     "training_window")}})
    print(f"\n4/4 report written to {report}; models in {model_dir}; back-test files in {out}/ "
          f"({time.perf_counter() - started:.0f} s in all)")
    return 0
