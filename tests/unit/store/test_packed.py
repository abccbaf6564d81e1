"""Packed tables: rows come back exactly as appended, across block boundaries, whatever the values hold."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.events import OrderStatus, Side
from engine.store.journal import journal_table
from engine.store.packed import (
    BLOCK_ROWS,
    BOOL,
    DECIMAL,
    I64,
    INT_TUPLE,
    OBJECT,
    OPTIONAL_DECIMAL,
    STR,
    PackedTable,
    enum_codec,
)

CODECS = (I64, STR, DECIMAL, OPTIONAL_DECIMAL, BOOL, enum_codec(Side), INT_TUPLE, OBJECT)

rows = st.tuples(
    st.integers(-(2**63), 2**63 - 1),
    st.text(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.none() | st.decimals(allow_nan=False, places=8),
    st.booleans(),
    st.sampled_from(Side),
    st.tuples() | st.tuples(st.integers(0, 10**12)) | st.tuples(st.integers(0, 9), st.integers(0, 9)),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)


def same(a: object, b: object) -> bool:
    """Equal, and a Decimal keeps its digits and exponent (NaN compares by its text)."""
    if isinstance(a, D) and isinstance(b, D):
        return str(a) == str(b)
    return type(a) is type(b) and a == b


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, max_size=40), st.integers(1, 7))
def test_rows_come_back_exactly_whatever_the_block_size(values: list[tuple[object, ...]], block: int) -> None:
    table = PackedTable(CODECS, block_rows=block)
    for row in values:
        table.append(row)
    assert len(table) == len(values)
    for got_rows in (list(table), table[:], [table[i] for i in range(len(values))]):
        assert len(got_rows) == len(values)
        for got, want in zip(got_rows, values, strict=True):
            assert all(same(g, w) for g, w in zip(got, want, strict=True))
    for i in range(len(CODECS)):
        assert all(same(g, w[i]) for g, w in zip(table.column(i), values, strict=True))
        blocks = list(table.column_blocks(i))  # the same values a block at a time, the tail last
        assert [len(b) for b in blocks] == [len(values[i:i + block]) for i in range(0, len(values), block)]
        assert all(same(g, w[i]) for g, w in zip([v for b in blocks for v in b], values, strict=True))


def test_negative_indexes_slices_and_bounds() -> None:
    table = PackedTable((I64,), block_rows=3)
    for i in range(10):
        table.append((i,))
    assert table[-1] == (9,) and table[-10] == (0,) and table[4] == (4,)
    assert table[2:8:2] == [(2,), (4,), (6,)]
    with pytest.raises(IndexError):
        table[10]
    with pytest.raises(IndexError):
        table[-11]


def test_a_full_block_is_packed_smaller_than_its_objects() -> None:
    table = journal_table()
    for i in range(BLOCK_ROWS):
        table.append((i * 60_000_000_000, "fill", "USD", D("-30000.12") * i, D(1_000_000) - D("30000.12") * i,
                      f"SmaCross-{i}/sim-{i}"))
    assert len(table._tail) == 0 and len(table._blocks) == 1
    assert table.nbytes() < 30 * BLOCK_ROWS  # about 16 bytes a row, against about 300 as tuples of Decimals


def test_values_that_text_cannot_carry_fall_back_to_pickle() -> None:
    table = PackedTable((STR, DECIMAL, I64), block_rows=2)
    awkward = [("a\x00b", D(1), 2**70), ("\x01", D("-0.000"), -(2**63))]
    for row in awkward:
        table.append(row)
    assert list(table) == awkward
    assert str(table[1][1]) == "-0.000"


def test_a_row_of_the_wrong_width_is_refused_and_changes_nothing() -> None:
    table = PackedTable((I64, STR), block_rows=2)
    table.append((1, "a"))
    with pytest.raises(ValueError, match="a row of 1 values in a table of 2 columns"):
        table.append((2,))
    table.append((3, "c"))
    assert list(table) == [(1, "a"), (3, "c")]


def test_enum_codec_reads_members_back() -> None:
    codec = enum_codec(OrderStatus)
    members = list(OrderStatus)
    assert codec.decode(codec.encode(members)) == members
    assert codec.encode([OrderStatus.FILLED, Side.BUY])[:1] == b"P"  # a foreign member: pickled, not lost
    assert codec.decode(codec.encode([OrderStatus.FILLED, Side.BUY])) == [OrderStatus.FILLED, Side.BUY]


def test_floats_read_packed_decimals_as_float_does_and_none_as_nan() -> None:
    table = PackedTable((DECIMAL, OPTIONAL_DECIMAL, I64), block_rows=3)
    values = [(D("0.1"), None, 7), (D("-1234.56789012345678901"), D("2E+3"), -1), (D("1E-30"), D("0.3"), 2**40),
              (D("5"), None, 0)]
    for row in values:
        table.append(row)
    first = table.floats(0)
    assert first.dtype == "float64" and first.tolist() == [float(v[0]) for v in values]
    second = table.floats(1).tolist()
    assert [x for x in second if x == x] == [2000.0, 0.3] and sum(x != x for x in second) == 2
    assert table.floats(2).tolist() == [7.0, -1.0, float(2**40), 0.0]
    for i in range(3):  # a block at a time, the tail last: the same floats
        blocks = list(table.float_blocks(i))
        assert [len(b) for b in blocks] == [3, 1]
        assert np.array_equal(np.concatenate(blocks), table.floats(i), equal_nan=True)


def test_floats_of_blocks_with_no_none_all_none_and_some() -> None:
    table = PackedTable((OPTIONAL_DECIMAL,), block_rows=2)
    for value in (None, None, D("1.5"), D("-2"), None, D("3E-2"), None):
        table.append((value,))
    assert [list(map(repr, b)) for b in table.float_blocks(0)] == [
        ["nan", "nan"], ["1.5", "-2.0"], ["nan", "0.03"], ["nan"]]


def test_repeated_decimals_are_read_once_and_shared_keeping_each_text() -> None:
    texts = ("1", "1.0", "0.010", "1E+2")  # equal values written differently stay apart
    values = [D(texts[i % 4]) for i in range(150)] + [D("7.25")]
    table = PackedTable((DECIMAL,), block_rows=100)
    for value in values:
        table.append((value,))
    column = table.column(0)
    assert all(same(got, want) for got, want in zip(column, values, strict=True))
    assert column[0] is column[4] and column[1] is column[5] and column[0] is not column[1]  # within a block
    scattered = [D(f"{i}.5") for i in range(100)]  # distinct values: read one by one, as before
    table = PackedTable((DECIMAL,), block_rows=100)
    for value in scattered:
        table.append((value,))
    assert all(same(got, want) for got, want in zip(table.column(0), scattered, strict=True))


def test_int64s_read_the_packed_stamps_as_the_column_gives_them() -> None:
    table = PackedTable((I64, DECIMAL), block_rows=3)
    stamps = [0, -(2**63), 2**63 - 1, 5, 1_700_000_000_000_000_000, -1, 42]  # two blocks and a tail
    for ts in stamps:
        table.append((ts, D(1)))
    got = table.int64s(0)
    assert got.dtype == np.int64 and got.tolist() == stamps == table.column(0)
    assert PackedTable((I64,)).int64s(0).tolist() == []
    table.append((2**64, D(1)))  # beyond int64: that block is pickled, and int64 refuses it as from the column
    table.append((1, D(1)))
    with pytest.raises(OverflowError):
        np.array(table.column(0), dtype=np.int64)
    with pytest.raises(OverflowError):
        table.int64s(0)
