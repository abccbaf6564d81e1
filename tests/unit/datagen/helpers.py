"""Paths of the real data files and writers of small CSV files for the datagen tests."""

from __future__ import annotations

from pathlib import Path

import pytest

# <repo>/../shared/data: parents[3] of this file is the repository root.
SHARED_DATA = Path(__file__).parents[3] / "../shared/data"
HOURLY = "Coinbase_BTCUSD_1h.csv"
DAILY = "bitstamp_BTC_ETH_LTC_USD_d.csv"

CDD_COMMENT = "Timestamps are UTC timezone,https://www.CryptoDataDownload.com"
CDD_HEADER = "date,symbol,open,high,low,close,volume_btc,volume"
# Lines 3, 4, 5 of the file: newest first, as the publisher writes them.
CDD_ROWS = [
    "2019-10-17 02-AM,BTCUSD,102,106,101,104,2.5,260",
    "2019-10-17 01-AM,BTCUSD,101,103,100,102,1.5,153",
    "2019-10-17 12-AM,BTCUSD,100,102,99,101,3.0,303",
]


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data file {path} absent (the shared data directory is not next to the repo)")
    return path


def write_cdd(directory: Path, rows: list[str] | None = None, *, header: str = CDD_HEADER,
              name: str = "bad.csv") -> Path:
    """Write a small CryptoDataDownload file: comment on line 1, header on line 2, rows from line 3."""
    path = directory / name
    path.write_text("\n".join([CDD_COMMENT, header, *(CDD_ROWS if rows is None else rows)]) + "\n")
    return path
