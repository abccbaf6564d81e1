"""Analyze: streaming TA-Lib indicators (``indicators``) and the signals built on them (``signals``)."""

from engine.analyze.indicators import Indicator, IndicatorSet

__all__ = ["Indicator", "IndicatorSet"]
