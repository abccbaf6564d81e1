"""Fixtures: the real data files of ../shared/data, skipped when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import DAILY, HOURLY, shared_file


@pytest.fixture
def hourly_path() -> Path:
    return shared_file(HOURLY)


@pytest.fixture
def daily_path() -> Path:
    return shared_file(DAILY)
