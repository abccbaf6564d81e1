"""Named, reproducible feature sets built from the streaming indicators, one definition for research and live.

A feature is a formula over indicator values (and fields of the current bar), written once as an arithmetic
expression::

    Feature("sma_ratio_50", "SMA", "close / sma - 1", close="close", sma="SMA_50")

The same compiled expression is evaluated on whole columns in research (``FeatureSet.batch``: TA-Lib's batch
functions over the frame) and on one row of Python floats live (``FeatureSet.stream_row``: the latest values of an
``IndicatorSet`` updated bar by bar on the bus). Only ``+ - * /`` and ``sqrt`` are allowed: IEEE-754 rounds
them exactly, so a scalar and an array give the same bits, and TA-Lib's stream handles equal its batch
functions (``engine.analyze.indicators``). tests/unit/ml/test_features.py checks the two paths bar by bar.

Why formulas over indicators, not raw indicators: a tree model splits on levels, and a price level (an SMA at
9,000 USD) says nothing once the price has moved to 4,000. Every feature here is scale-free: a ratio to the
price (``close / SMA - 1``), a bounded oscillator (RSI, %b) or a return. LINEARREG_ANGLE is not used because
``atan`` of a slope in USD per bar depends on the price level (it saturates near 90 degrees for BTC); the
slope as a fraction of the price (``LINEARREG_SLOPE / close``) carries the same information scale-free. OBV
enters as its change over a window divided by the volume of that window, which no longer depends on the bar
the history started at (OBV itself does, forever).

A row is *ready* once every indicator it reads is past its warm-up (``IndicatorSet.read``): before that, the
value still depends on where the history began, and the row is neither trained on nor predicted. The batch
path reproduces that rule (``ready`` column), so research and live skip the same bars.

Each feature names the indicator it comes from (``Feature.indicator``): explanations add up the contributions
of every feature of one indicator (``engine.ml.explain``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.analyze.indicators import Indicator, IndicatorSet, batch
from engine.analyze.talib_functions import BAR_FIELDS
from engine.errors import ConfigError
from engine.events import Bar


def _sqrt(value: Any) -> Any:
    """Square root of a float (live) or an array (batch), both correctly rounded; NaN below zero."""
    if isinstance(value, float):
        return math.sqrt(value) if value >= 0 else math.nan
    with np.errstate(invalid="ignore"):
        return np.sqrt(value)


_ALLOWED_NAMES = {"sqrt": _sqrt}


@dataclass(frozen=True)
class Feature:
    """One named feature: an arithmetic ``expr`` over named inputs, attributed to ``indicator``.

    Parameters
    ----------
    name
        Column name of the feature.
    indicator
        The indicator family its explanation is credited to (``"RSI"``, ``"BBANDS"``, ``"returns"``).
    expr
        An expression of the input aliases with ``+ - * /``, parentheses, numbers and ``sqrt``.
    inputs
        Alias -> value name: a bar field (``close``), an indicator value (``RSI_14``,
        ``BBANDS_20_2_2_0.upperband``) or an env value (``env:vol.rv_gk``).
    """

    name: str
    indicator: str
    expr: str
    inputs: Mapping[str, str] = field(default_factory=dict)

    def __init__(self, name: str, indicator: str, expr: str, **inputs: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "indicator", indicator)
        object.__setattr__(self, "expr", expr)
        object.__setattr__(self, "inputs", dict(inputs))

    def compile(self) -> Callable[..., Any]:
        """Return the expression as a function of its aliases, in the order of ``inputs``."""
        _check_expression(self)
        code = f"lambda {', '.join(self.inputs)}: {self.expr}"
        return eval(code, {"__builtins__": {}, **_ALLOWED_NAMES})


def _check_expression(feature: Feature) -> None:
    """Refuse anything but arithmetic on the declared inputs: the formula must mean the same on floats and arrays."""
    import ast

    try:
        tree = ast.parse(feature.expr, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"feature {feature.name!r}: cannot parse {feature.expr!r}: {exc.msg}") from None
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd,
               ast.Name, ast.Load, ast.Constant, ast.Call)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise ConfigError(f"feature {feature.name!r}: {type(node).__name__} is not allowed in {feature.expr!r}")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _ALLOWED_NAMES):
            raise ConfigError(f"feature {feature.name!r}: only {', '.join(_ALLOWED_NAMES)} may be called")
        if isinstance(node, ast.Name) and node.id not in feature.inputs and node.id not in _ALLOWED_NAMES:
            raise ConfigError(f"feature {feature.name!r}: {node.id!r} is not one of its inputs "
                              f"({', '.join(feature.inputs)})")


@dataclass(frozen=True)
class EnvSpec:
    """Env components whose values some features read (``env:spot.range``); None of a field: not used."""

    spot: Mapping[str, Any] | None = None
    vol: Mapping[str, Any] | None = None

    def build(self) -> Any:
        from engine.env import Env, SpotConfig, VolConfig

        return Env(spot=None if self.spot is None else SpotConfig(**self.spot),
                   vol=None if self.vol is None else VolConfig(**self.vol))


class FeatureSet:
    """A named list of features over a list of indicators: computed in batch and bar by bar, equally.

    Parameters
    ----------
    name
        The registry name (``"composite"``); saved with a model, with ``spec()`` to detect a changed definition.
    indicators
        Every indicator the features read, chained ones after their sources.
    features
        The features, in column order.
    env
        Env components to run beside the indicators when a feature reads ``env:<name>``.
    """

    def __init__(self, name: str, indicators: Sequence[Indicator], features: Sequence[Feature],
                 env: EnvSpec | None = None) -> None:
        self.name = name
        self.indicators = tuple(indicators)
        self.features = tuple(features)
        self.env = env
        probe = IndicatorSet(self.indicators)  # checks keys and chained sources, gives warm-ups
        known = set(probe.names())
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ConfigError(f"feature set {name!r}: feature names repeat")
        inputs: list[str] = []
        for feature in self.features:
            for source in feature.inputs.values():
                if source.startswith("env:"):
                    if env is None:
                        raise ConfigError(f"feature {feature.name!r} reads {source!r} but the set has no env")
                elif source not in known and source not in BAR_FIELDS:
                    raise ConfigError(f"feature {feature.name!r}: input {source!r} is neither a bar field nor a "
                                      f"value of the set's indicators")
                if source not in inputs:
                    inputs.append(source)
        # one row of inputs: indicator values (read together, so readiness is one call), bar fields, env values
        self._indicator_inputs = [s for s in inputs if s in known]
        self._bar_inputs = [s for s in inputs if s in BAR_FIELDS]
        self._env_inputs = [s for s in inputs if s.startswith("env:")]
        self.inputs = self._indicator_inputs + self._bar_inputs + self._env_inputs
        position = {s: i for i, s in enumerate(self.inputs)}
        self._compiled = [(f.compile(), [position[s] for s in f.inputs.values()]) for f in self.features]
        self._warmups = {n: probe.warmup(n) for n in self._indicator_inputs}

    # -- description ---------------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def groups(self) -> list[str]:
        """Return the indicator each feature is credited to, in column order."""
        return [f.indicator for f in self.features]

    @property
    def warmup(self) -> int:
        """Return the bars after which every input with a bounded warm-up is final (path-dependent ones: never)."""
        bounded = [w for w in self._warmups.values() if w is not None]
        return max(bounded, default=0)

    def spec(self) -> dict[str, Any]:
        """Return the whole definition as JSON-able data: indicators with parameters, features with formulas."""
        return {
            "name": self.name,
            "indicators": [{"key": i.key, "function": i.function, "params": dict(i.params),
                            "sources": list(i.sources)} for i in self.indicators],
            "features": [{"name": f.name, "indicator": f.indicator, "expr": f.expr, "inputs": dict(f.inputs)}
                         for f in self.features],
            "env": None if self.env is None else {"spot": self.env.spot, "vol": self.env.vol},
        }

    def fingerprint(self) -> str:
        """Return the sha256 of ``spec()``: equal fingerprints compute equal features."""
        return hashlib.sha256(json.dumps(self.spec(), sort_keys=True, default=str).encode()).hexdigest()

    # -- research: whole columns ---------------------------------------------------------------------------
    def batch(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the features of every bar of an OHLCV frame, and a boolean ``ready`` column.

        Row ``i`` holds what ``stream_row`` returns after bar ``i`` when the stream saw the frame from its first
        bar: TA-Lib's batch outputs (which equal its stream handles) through the same formulas. Not-ready rows
        hold NaN.
        """
        n = len(frame)
        columns: dict[str, np.ndarray] = {f: frame[f].to_numpy(dtype="float64") for f in BAR_FIELDS}
        for indicator in self.indicators:
            for name, values in zip(indicator.names, batch(indicator, columns), strict=True):
                columns[name] = values
        ready = np.ones(n, dtype=bool)
        position = np.arange(n)
        for name in self._indicator_inputs:
            needed = self._warmups[name]
            ready &= np.isfinite(columns[name])
            if needed is not None:
                ready &= position >= needed  # IndicatorSet.read: bars seen > warm-up
        if self._env_inputs:
            env = self.env.build() if self.env is not None else None
            env_frame = env.batch(frame) if env is not None else pd.DataFrame()
            if len(env_frame) != n:
                raise ConfigError(f"feature set {self.name!r}: the env gave {len(env_frame)} rows for {n} bars")
            for source in self._env_inputs:
                columns[source] = env_frame[source[4:]].to_numpy(dtype="float64")
                ready &= np.isfinite(columns[source])
        table = [columns[s] for s in self.inputs]
        with np.errstate(all="ignore"):
            values = np.column_stack([_finite(fn(*[table[i] for i in where])) * np.ones(n)
                                      for fn, where in self._compiled]) if self._compiled else np.empty((n, 0))
        values[~ready] = np.nan
        out = pd.DataFrame(values, index=frame.index, columns=self.names)
        out["ready"] = ready
        return out

    # -- live: one bar at a time ---------------------------------------------------------------------------
    def indicator_set(self, symbols: Iterable[str] | None = None) -> IndicatorSet:
        """Return a fresh ``IndicatorSet`` holding this set's indicators (subscribe it to ``Bar``)."""
        return IndicatorSet(self.indicators, symbols=symbols)

    def stream_row(self, indicators: IndicatorSet, bar: Bar, env: Any = None) -> np.ndarray | None:
        """Return the features after ``bar`` from an updated ``IndicatorSet`` (and env), None until ready."""
        values = indicators.read(self._indicator_inputs, bar.symbol) if self._indicator_inputs else []
        if values is None:
            return None
        row = values + [float(getattr(bar, f)) for f in self._bar_inputs]
        if self._env_inputs:
            current = env.features()
            row += [current[s[4:]] for s in self._env_inputs]
            if not all(math.isfinite(v) for v in row[-len(self._env_inputs):]):
                return None
        out = np.empty(len(self._compiled))
        for k, (fn, where) in enumerate(self._compiled):
            # Python floats: the same IEEE-754 double arithmetic as the batch's numpy columns, bit for bit, at a
            # tenth of the cost of numpy scalars; a division by zero (inf or NaN in numpy) is NaN either way
            try:
                value = fn(*[row[i] for i in where])
            except ZeroDivisionError:
                value = math.nan
            out[k] = value if math.isfinite(value) else math.nan
        return out


def _finite(value: Any) -> Any:
    """Turn infinities (a division by a zero range) into NaN, which the model reads as missing."""
    return np.where(np.isfinite(value), value, np.nan)


# -- the registry ---------------------------------------------------------------------------------------------
def _returns(periods: Sequence[int]) -> tuple[list[Indicator], list[Feature]]:
    indicators = [Indicator("ROCR", timeperiod=p) for p in periods]
    features = [Feature(f"ret_{p}", "returns", "r - 1", r=f"ROCR_{p}") for p in periods]
    return indicators, features


def _volatility(windows: Sequence[int]) -> tuple[list[Indicator], list[Feature]]:
    indicators = [Indicator("STDDEV", timeperiod=w, price="ROCR_1") for w in windows]
    features = [Feature(f"vol_{w}", "volatility", "s", s=f"STDDEV_{w}_1(ROCR_1)") for w in windows]
    if len(windows) > 1:
        short, long = windows[0], windows[-1]
        features.append(Feature(f"vol_{short}_{long}", "volatility", "a / b", a=f"STDDEV_{short}_1(ROCR_1)",
                                b=f"STDDEV_{long}_1(ROCR_1)"))
    return indicators, features


def _obv_flow(windows: Sequence[int]) -> tuple[list[Indicator], list[Feature]]:
    indicators = [Indicator("OBV")]
    features = []
    for w in windows:
        indicators += [Indicator("MOM", timeperiod=w, price="OBV"), Indicator("SUM", timeperiod=w, price="volume")]
        features.append(Feature(f"obv_flow_{w}", "OBV", "m / s", m=f"MOM_{w}(OBV)", s=f"SUM_{w}(volume)"))
    return indicators, features


def _sma(periods: Sequence[int]) -> tuple[list[Indicator], list[Feature]]:
    return ([Indicator("SMA", timeperiod=p) for p in periods],
            [Feature(f"sma_ratio_{p}", "SMA", "close / sma - 1", close="close", sma=f"SMA_{p}") for p in periods])


def _oscillator(function: str, periods: Sequence[int], scale: float = 100.0) -> tuple[list[Indicator], list[Feature]]:
    return ([Indicator(function, timeperiod=p) for p in periods],
            [Feature(f"{function.lower()}_{p}", function, f"v / {scale:g}", v=f"{function}_{p}") for p in periods])


def _bbands(periods: Sequence[int]) -> tuple[list[Indicator], list[Feature]]:
    indicators, features = [], []
    for p in periods:
        band = Indicator("BBANDS", timeperiod=p)
        indicators.append(band)
        up, mid, low = (f"{band.key}.{o}" for o in ("upperband", "middleband", "lowerband"))
        features += [Feature(f"bb_pctb_{p}", "BBANDS", "(close - low) / (up - low)", close="close", low=low, up=up),
                     Feature(f"bb_width_{p}", "BBANDS", "(up - low) / mid", up=up, low=low, mid=mid)]
    return indicators, features


def _stoch(fastk_periods: Sequence[int]) -> tuple[list[Indicator], list[Feature]]:
    indicators, features = [], []
    for p in fastk_periods:
        stoch = Indicator("STOCH", fastk_period=p)
        indicators.append(stoch)
        k, d = f"{stoch.key}.slowk", f"{stoch.key}.slowd"
        features += [Feature(f"stoch_k_{p}", "STOCH", "k / 100", k=k),
                     Feature(f"stoch_kd_{p}", "STOCH", "(k - d) / 100", k=k, d=d)]
    return indicators, features


def _linreg(periods: Sequence[int]) -> tuple[list[Indicator], list[Feature]]:
    return ([Indicator("LINEARREG_SLOPE", timeperiod=p) for p in periods],
            [Feature(f"linreg_slope_{p}", "LINEARREG_SLOPE", "s / close", s=f"LINEARREG_SLOPE_{p}", close="close")
             for p in periods])


def _beta(periods: Sequence[int]) -> tuple[list[Indicator], list[Feature]]:
    # TA-Lib's BETA of the high against the low: how the top of the range moves with its bottom (one market
    # has no index to regress on); about 1 in a steady range, away from it when the range opens or closes.
    return ([Indicator("BETA", timeperiod=p) for p in periods],
            [Feature(f"beta_{p}", "BETA", "b", b=f"BETA_{p}") for p in periods])


def _hilbert() -> tuple[list[Indicator], list[Feature]]:
    indicators = [Indicator("HT_TRENDMODE"), Indicator("HT_DCPERIOD"), Indicator("HT_SINE"), Indicator("HT_DCPHASE")]
    features = [Feature("ht_trendmode", "HT_TRENDMODE", "m", m="HT_TRENDMODE"),
                Feature("ht_dcperiod", "HT_DCPERIOD", "p", p="HT_DCPERIOD"),
                Feature("ht_sine", "HT_SINE", "s", s="HT_SINE.sine"),
                Feature("ht_sine_lead", "HT_SINE", "s - lead", s="HT_SINE.sine", lead="HT_SINE.leadsine"),
                Feature("ht_dcphase", "HT_DCPHASE", "p / 360", p="HT_DCPHASE")]
    return indicators, features


def _volume(window: int) -> tuple[list[Indicator], list[Feature]]:
    return ([Indicator("SMA", timeperiod=window, price="volume")],
            [Feature(f"rel_volume_{window}", "volume", "v / m", v="volume", m=f"SMA_{window}(volume)")])


def _assemble(name: str, parts: Sequence[tuple[list[Indicator], list[Feature]]],
              env: EnvSpec | None = None, env_features: Sequence[Feature] = ()) -> FeatureSet:
    indicators: list[Indicator] = []
    features: list[Feature] = []
    for part_indicators, part_features in parts:
        for indicator in part_indicators:
            if indicator not in indicators:
                indicators.append(indicator)
        features += part_features
    return FeatureSet(name, indicators, [*features, *env_features], env)


def core() -> FeatureSet:
    """A small set (13 features, warm-up 544 bars): quick to train, for tests and first experiments."""
    return _assemble("core", [_returns((1, 4, 24)), _volatility((24,)), _sma((20, 50)), _oscillator("RSI", (14,)),
                              _oscillator("NATR", (14,), 1.0), _oscillator("ADXR", (14,)), _bbands((20,)),
                              _obv_flow((24,)), _volume(24)])


def composite() -> FeatureSet:
    """The demo's set (42 features from 39 indicators, warm-up 1,090 bars): OBV, ADXR, RSI, NATR, SMA, BETA,
    LINEARREG_SLOPE, STDDEV, STOCH, BBANDS and the Hilbert-transform cycle at several periods, with returns,
    volatility and volume."""
    stddev = [Indicator("STDDEV", timeperiod=p) for p in (20, 50)]
    stddev_features = [Feature(f"stddev_{p}", "STDDEV", "s / close", s=f"STDDEV_{p}_1", close="close")
                       for p in (20, 50)]
    return _assemble("composite", [
        _returns((1, 4, 24, 72, 168)), _volatility((24, 168)), _obv_flow((24, 96)), _sma((10, 20, 50, 100, 200)),
        _oscillator("RSI", (7, 14, 28)), _oscillator("ADXR", (14, 28)), _oscillator("NATR", (14, 24), 1.0),
        _beta((5, 20)), _linreg((14, 48)), (stddev, stddev_features), _stoch((5, 14)), _bbands((20, 50)),
        _hilbert(), _volume(24)])


def composite_env() -> FeatureSet:
    """``composite`` plus the env's scale-free spot and vol values (range, body, return moments, realized vols)."""
    base = composite()
    env_values = {"spot.range": "spot_range", "spot.body": "spot_body", "spot.log_ret_skew": "spot_skew",
                  "spot.log_ret_kurt": "spot_kurt", "vol.rv_parkinson": "rv_parkinson", "vol.rv_gk": "rv_gk",
                  "vol.rv_vov": "rv_vov"}
    env_features = [Feature(column, "env", "v", v=f"env:{value}") for value, column in env_values.items()]
    return FeatureSet("composite_env", base.indicators, [*base.features, *env_features], EnvSpec(spot={}, vol={}))


FEATURE_SETS: dict[str, Callable[[], FeatureSet]] = {"core": core, "composite": composite,
                                                     "composite_env": composite_env}


def feature_set(name: str) -> FeatureSet:
    """Return the registered feature set ``name`` (``core``, ``composite``, ``composite_env``)."""
    build = FEATURE_SETS.get(name)
    if build is None:
        raise ConfigError(f"unknown feature set {name!r} (known: {', '.join(FEATURE_SETS)})")
    return build()


def stream_features(features: FeatureSet, frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Return the features of every bar computed the live way: bars on a bus, an ``IndicatorSet``, ``stream_row``.

    Research rarely needs this (``FeatureSet.batch`` is the fast path); tests compare the two.
    """
    from engine.bus import EventBus
    from engine.datagen.bar_feed import BarFeed

    bus = EventBus()
    indicators = features.indicator_set()
    env = features.env.build() if features.env is not None else None
    bus.subscribe(Bar, indicators.on_bar)
    if env is not None:
        bus.subscribe(Bar, env.on_bar)
    rows = np.full((len(frame), len(features.features)), np.nan)
    ready = np.zeros(len(frame), dtype=bool)
    for i, bar in enumerate(BarFeed(frame, symbol)):
        bus.dispatch_event(bar)
        row = features.stream_row(indicators, bar, env)
        if row is not None:
            rows[i], ready[i] = row, True
    out = pd.DataFrame(rows, index=frame.index, columns=features.names)
    out["ready"] = ready
    return out
