"""mlct signals: the fired bars of a signal and how often it fired, as text and as JSON."""

from __future__ import annotations

import json

import pytest

from engine.analyze.signals import make_signal, signal_frame
from engine.cli import main
from engine.datagen.sample import load_sample


def test_json_lists_every_event_and_the_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signals", "--signal", "rsi", "--param", "period=21", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    frame, meta = load_sample()
    series = signal_frame(make_signal("rsi", period=21), frame, meta.symbol)["direction"]
    assert report["symbol"] == "BTC/USD" and report["bars"] == len(frame) == 20_111
    assert report["params"] == {"period": 21, "mode": "mean_reversion", "lower": 30.0, "upper": 70.0}
    assert report["counts"]["buy"] == (series == 1).sum() > 0
    assert report["counts"]["sell"] == (series == -1).sum() > 0
    assert report["counts"]["share_fired"] == pytest.approx((series != 0).mean())
    assert len(report["events"]) == (series != 0).sum()
    first = report["events"][0]
    assert set(first) == {"ts", "direction", "strength", "contributions"}
    assert set(first["contributions"]) == {"RSI_21"}


def test_text_prints_the_counts_then_the_first_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signals", "--signal", "ma_cross", "--param", "fast=20", "--param", "slow=50", "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('ma_cross {"fast": 20, "slow": 50') and "20,111 1h bars" in lines[0]
    assert lines[1].startswith("fired on ") and "buy +1" in lines[1] and "sell -1" in lines[1]
    assert lines[3].split() == ["bar", "close", "(UTC)", "dir", "strength", "contributions"]
    assert len(lines) == 8 and "more (--limit 0 prints all" in lines[-1]
    assert "MA_20_0=" in lines[4] and "MA_50_0=" in lines[4]


def test_bad_parameters_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signals", "--signal", "rsi", "--param", "bogus=1"]) == 2
    assert "unknown parameter 'bogus'" in capsys.readouterr().err
    assert main(["signals", "--signal", "rsi", "--param", "period"]) == 2
