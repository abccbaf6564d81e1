"""Walk-forward settings sized to the data: the defaults follow the bar count and bar length, given ones stay.

The library defaults (``LabelSpec``, ``WalkForwardConfig``) were chosen for hourly bars and years of them: a
24-bar horizon and embargo (one day), a model every 720 bars (30 days), 6,000 rows for the first model and 200
signals for a threshold. On 1,500 daily bars they ask for a 24-day horizon and more rows than there are. So each
setting the caller leaves at its default is derived from the data, by these rules (``size_settings``):

- ``horizon`` and ``embargo``: one day in bars (at least 1): 24 on hourly bars, 6 on 4-hour, 1 on daily;
- ``min_train``: 6,000 rows, or half the rows the walk-forward can use when that is fewer (the usable rows are
  those after the feature set's warm-up, minus the purge and embargo), so at least as many bars are tested as
  the first model learned from;
- ``retrain_every``: 30 days in bars, lengthened when that would make more than ``MAX_MODELS`` models;
- ``min_signals``: one buy signal per 30 rows of the first model's training window, at most 200, at least
  ``MIN_SIGNALS``.

On the bundled hourly sample every rule gives the default itself, so its results do not move. A setting the
caller passes is kept as given. When even the derived settings cannot fit (the first model would learn from
fewer than ``MIN_TRAIN`` rows), or a given setting does not fit, ``check_fits`` raises one ``ConfigError`` line
naming the bars needed and the setting to change, before any feature is trained on.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from engine.errors import ConfigError
from engine.ml.labels import LabelSpec
from engine.ml.walkforward import WalkForwardConfig

__all__ = ["LABEL_SETTINGS", "MAX_MODELS", "MIN_SIGNALS", "MIN_TRAIN", "SIZED_SETTINGS", "Sized", "check_fits",
           "option", "size_settings"]

DAY_NS = 86_400 * 10**9
RETRAIN_DAYS = 30
MAX_MODELS = 24  # more test blocks than this only multiply the training time on short bars
MIN_TRAIN = 250  # fewest rows a derived first training window may hold (and as many to test it on)
MIN_SIGNALS = 10
ROWS_PER_SIGNAL = 30  # 6,000 rows of the first model ask for the default 200 signals
LABEL_SETTINGS = ("horizon",)
SIZED_SETTINGS = ("horizon", "embargo", "min_train", "retrain_every", "min_signals")


def option(name: str) -> str:
    """Return the command-line option of a setting (``min_train`` -> ``--min-train``)."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True, kw_only=True)
class Sized:
    """The settings a walk-forward will run with, and which of them were derived from the data."""

    label: LabelSpec
    config: WalkForwardConfig
    derived: tuple[str, ...]  # the settings left at their default and sized to the data

    def used(self) -> dict[str, Any]:
        """Return every sized setting's value, as run."""
        return {"horizon": self.label.horizon, "embargo": self.config.embargo, "min_train": self.config.min_train,
                "retrain_every": self.config.retrain_every, "min_signals": self.config.min_signals,
                "inner_folds": self.config.inner_folds, "window": self.config.window}


def _bars(ns: int, interval_ns: int) -> int:
    return max(1, round(ns / interval_ns))


def size_settings(n_bars: int, ready_from: int, interval_ns: int, label: LabelSpec, config: WalkForwardConfig,
                  fixed: Collection[str], *, features: str = "") -> Sized:
    """Return ``label`` and ``config`` with each setting not in ``fixed`` derived from the data, then checked.

    Parameters
    ----------
    n_bars, ready_from, interval_ns
        The bars of the data, the first one whose features are ready, and the bar length.
    fixed
        Names of ``SIZED_SETTINGS`` the caller set: kept as given.
    features
        The feature set's name, for the error message.
    """
    derived: list[str] = []

    def pick(name: str, value: int, given: int) -> int:
        if name in fixed:
            return given
        derived.append(name)
        return value

    horizon = pick("horizon", _bars(DAY_NS, interval_ns), label.horizon)
    embargo = pick("embargo", _bars(DAY_NS, interval_ns), config.embargo)
    usable = n_bars - ready_from - horizon - embargo
    min_train = pick("min_train", max(1, min(WalkForwardConfig.min_train, usable // 2)), config.min_train)
    tested = max(1, n_bars - ready_from - min_train - horizon - embargo)
    retrain = pick("retrain_every", max(_bars(RETRAIN_DAYS * DAY_NS, interval_ns), math.ceil(tested / MAX_MODELS)),
                   config.retrain_every)
    min_signals = pick("min_signals", min(WalkForwardConfig.min_signals,
                                          max(MIN_SIGNALS, min_train // ROWS_PER_SIGNAL)), config.min_signals)
    sized = Sized(label=replace(label, horizon=horizon),
                  config=replace(config, embargo=embargo, min_train=min_train, retrain_every=retrain,
                                 min_signals=min_signals), derived=tuple(derived))
    check_fits(n_bars, ready_from, sized, features=features)
    return sized


def check_fits(n_bars: int, ready_from: int, sized: Sized, *, features: str = "") -> None:
    """Raise one ``ConfigError`` line naming the bars needed and the setting to change when the data is too short."""
    h, config = sized.label.horizon, sized.config
    cut = h + config.embargo
    named = f" of feature set {features!r}" if features else ""
    parts = f"warm-up {ready_from}{named} + horizon {h} + embargo {config.embargo}"
    if "min_train" in sized.derived and config.min_train < MIN_TRAIN:
        needed = ready_from + cut + 2 * MIN_TRAIN
        raise ConfigError(f"the data has {n_bars:,} bars; the walk-forward needs at least {needed:,} ({parts} + "
                          f"{MIN_TRAIN} rows to train the first model + {MIN_TRAIN} to test it): give more bars, "
                          f"or set --min-train yourself (below {MIN_TRAIN}), or a feature set with a shorter warm-up")
    needed = ready_from + config.min_train + cut + 1
    if n_bars < needed:
        raise ConfigError(f"the data has {n_bars:,} bars; --min-train {config.min_train:,} needs at least "
                          f"{needed:,} ({parts} + {config.min_train:,} training rows + 1 to test): lower "
                          f"--min-train to at most {max(0, n_bars - ready_from - cut - 1):,} or give more bars")
    block = config.min_train // (config.inner_folds + 1)
    if block <= cut:
        raise ConfigError(f"--inner-folds {config.inner_folds} cuts the first model's {config.min_train:,} rows into "
                          f"blocks of {block} bars, no longer than the purge and embargo ({cut}): lower "
                          f"--inner-folds or raise --min-train to more than {(cut + 1) * (config.inner_folds + 1):,}")
