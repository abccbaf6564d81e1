"""Compact append-only tables for what a session keeps for good: journal rows, fills, finished orders.

A back-test keeps every order, fill and journal row. As Python objects each costs hundreds of bytes (one
``Decimal`` is 104), so tens of thousands of orders took most of a run's memory and made every full garbage
collection walk them. A ``PackedTable`` keeps its newest rows as tuples and packs each full block column by
column: integers as int64, exact decimals as their text, strings joined, each column compressed. A journal row
then costs about 16 bytes instead of about 300; reading a row unpacks its block (the block read last is cached).

Values come back equal to what was appended (a ``Decimal`` keeps its digits and exponent) but as new objects.
"""

from __future__ import annotations

import itertools
import math
import pickle
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Any, overload

import numpy as np

# Rows per packed block. The unpacked tail of each table (its rows as tuples of Decimals, ~300 B a row) lives
# among the short-lived objects of the run and keeps their memory pools from being freed: blocks of 1,024 rows
# left the 1M-bar benchmark 7 MB smaller after its replay than blocks of 4,096, and pack about as small.
BLOCK_ROWS = 1024
_SEP = "\x00"  # joins the texts of one column; a block holding it in a value is pickled instead
_NONE = "\x01"  # stands for None
_TEXT, _PICKLED = b"T", b"P"
_SAMPLE = 64  # the first values of a block of decimals, to tell whether they repeat


class Codec:
    """Turn one column of a block into bytes and back."""

    def encode(self, values: Sequence[Any]) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> list[Any]:
        raise NotImplementedError

    def floats(self, data: bytes) -> list[float]:
        """Return the column's values as floats (None as NaN), for frames that show booked values as floats."""
        return [math.nan if v is None else float(v) for v in self.decode(data)]

    def int64s(self, data: bytes) -> np.ndarray:
        """Return the column's values as int64, for frames that show stamps (OverflowError if one does not fit)."""
        return np.array(self.decode(data), dtype=np.int64)


class Int64(Codec):
    """Integers that fit in int64 (timestamps, counters); others make the block fall back to pickle."""

    def encode(self, values: Sequence[Any]) -> bytes:
        try:
            return _TEXT + np.array(values, dtype=np.int64).tobytes()
        except (OverflowError, TypeError, ValueError):
            return _PICKLED + pickle.dumps(list(values), protocol=pickle.HIGHEST_PROTOCOL)

    def decode(self, data: bytes) -> list[Any]:
        if data[:1] == _PICKLED:
            return list(pickle.loads(data[1:]))
        return np.frombuffer(data, dtype=np.int64, offset=1).tolist()

    def int64s(self, data: bytes) -> np.ndarray:
        if data[:1] == _PICKLED:
            return super().int64s(data)
        return np.frombuffer(data, dtype=np.int64, offset=1)  # the packed bytes themselves, without a Python int


class Text(Codec):
    """Values of one type kept as text: ``to_text`` writes one, ``from_text`` reads it back exactly.

    With ``optional``, ``None`` is kept too, as its own mark. A block whose values do not round-trip through
    text (another type, a value containing the separator) is pickled whole, so nothing is ever lost.
    """

    def __init__(self, kind: type, from_text: Callable[[str], Any], to_text: Callable[[Any], str] = str, *,
                 optional: bool = False, repeated: bool = False) -> None:
        self._kind = kind
        self._from_text = from_text
        self._to_text = to_text
        self._optional = optional
        self._repeated = repeated  # few distinct values (symbols, currencies): read back as shared objects

    def encode(self, values: Sequence[Any]) -> bytes:
        kinds = set(map(type, values))
        nones = 0
        if self._optional and type(None) in kinds:
            kinds.discard(type(None))
            nones = sum(1 for v in values if v is None)
            write = self._to_text
            texts: Iterable[str] = [_NONE if v is None else write(v) for v in values]
        elif self._to_text is str and self._kind is str:
            texts = values  # str() of a str is itself: join them as they are
        else:
            texts = map(self._to_text, values)
        if kinds <= {self._kind}:
            joined = _SEP.join(texts)
            if joined.count(_SEP) == len(values) - 1 and joined.count(_NONE) == nones:
                return _TEXT + joined.encode("utf-8", "surrogatepass")
        return _PICKLED + pickle.dumps(list(values), protocol=pickle.HIGHEST_PROTOCOL)

    def decode(self, data: bytes) -> list[Any]:
        if data[:1] == _PICKLED:
            return list(pickle.loads(data[1:]))
        texts = data[1:].decode("utf-8", "surrogatepass").split(_SEP)
        if self._repeated:
            seen: dict[str, str] = {}
            texts = list(map(seen.setdefault, texts, texts))
        read = self._from_text
        if self._optional:
            return [None if t == _NONE else read(t) for t in texts]
        if self._kind is Decimal and len(set(texts[:_SAMPLE])) * 4 <= min(len(texts), _SAMPLE):
            # A column whose values repeat (the fixed size of a strategy's orders): each distinct text is read once
            # and its Decimal shared by the rows, which immutable values allow. Making a Decimal costs about four
            # times a dict lookup.
            made = {t: read(t) for t in set(texts)}
            return list(map(made.__getitem__, texts))
        return list(map(read, texts))

    def floats(self, data: bytes) -> list[float]:
        if data[:1] == _PICKLED or self._kind not in (Decimal, int):
            return super().floats(data)
        # the text of an exact decimal parses to the same nearest float as float(Decimal(text)), without the Decimal
        try:
            text = data[1:].decode("ascii")
            texts = text.split(_SEP)
            if _NONE not in text:  # no None: each text straight to float() in C, without a test a value
                return list(map(float, texts))
            if texts.count(_NONE) == len(texts):  # all None (the limit price of market orders)
                return [math.nan] * len(texts)
            return [math.nan if t == _NONE else float(t) for t in texts]
        except ValueError:  # a text float() does not read (sNaN): through the codec's own reader
            return super().floats(data)


class Pickled(Codec):
    """Any picklable values (rarely used fields such as an order's tags)."""

    def encode(self, values: Sequence[Any]) -> bytes:
        return _PICKLED + pickle.dumps(list(values), protocol=pickle.HIGHEST_PROTOCOL)

    def decode(self, data: bytes) -> list[Any]:
        return list(pickle.loads(data[1:]))


def _int_tuple(text: str) -> tuple[int, ...]:
    """Read back ``str`` of a tuple of ints: ``()``, ``(3,)``, ``(3, 4)``."""
    return tuple(int(part) for part in text[1:-1].split(",") if part.strip())


# Each column writes its values with a C-level callable (str, attrgetter): a Python function called per value
# would cost more than the packing of the rest of the row.
STR = Text(str, str)
NAME = Text(str, str, repeated=True)  # symbols, currencies, kinds, reasons: a few values over and over
DECIMAL = Text(Decimal, Decimal)
OPTIONAL_DECIMAL = Text(Decimal, Decimal, optional=True)
BOOL = Text(bool, "True".__eq__)
INT_TUPLE = Text(tuple, _int_tuple)  # small tuples of ints (the rows of an order's fills)
I64 = Int64()
OBJECT = Pickled()


def enum_codec(cls: type[Enum]) -> Text:
    """Keep members of ``cls`` (whose values are strings) by their value."""
    by_text = {m._value_: m for m in cls}
    if not all(isinstance(value, str) for value in by_text):
        raise TypeError(f"enum_codec needs an enum with string values, not {cls.__name__}")
    return Text(cls, by_text.__getitem__, attrgetter("_value_"))  # ``.value`` is a Python-level property


class PackedTable(Sequence[tuple[Any, ...]]):
    """An append-only table of tuples with a fixed column layout, packed in blocks of ``block_rows``.

    ``codecs`` gives one ``Codec`` per column, in row order.
    """

    def __init__(self, codecs: Sequence[Codec], block_rows: int = BLOCK_ROWS) -> None:
        if block_rows < 1:
            raise ValueError(f"block_rows must be positive, got {block_rows}")
        self._codecs = tuple(codecs)
        self._width = len(self._codecs)
        self._block_rows = block_rows
        self._blocks: list[tuple[bytes, ...]] = []
        self._tail: list[tuple[Any, ...]] = []
        self._rows = 0  # kept, not computed: owners ask for the count several times an order
        self._cached: tuple[int, list[tuple[Any, ...]]] = (-1, [])

    def append(self, row: tuple[Any, ...]) -> int:
        """Add one row (a tuple with one value per column); return its row number."""
        if len(row) != self._width:
            raise ValueError(f"a row of {len(row)} values in a table of {self._width} columns: {row!r}")
        number = self._rows
        self._rows = number + 1
        tail = self._tail
        tail.append(row)
        if len(tail) >= self._block_rows:
            self._pack()
        return number

    def _pack(self) -> None:
        columns = list(zip(*self._tail, strict=True))
        self._blocks.append(tuple(zlib.compress(codec.encode(column), 1)
                                  for codec, column in zip(self._codecs, columns, strict=True)))
        self._tail = []

    def _block(self, number: int) -> list[tuple[Any, ...]]:
        cached_number, rows = self._cached
        if cached_number != number:
            columns = [codec.decode(zlib.decompress(data))
                       for codec, data in zip(self._codecs, self._blocks[number], strict=True)]
            rows = list(zip(*columns, strict=True))
            self._cached = (number, rows)
        return rows

    def column(self, index: int) -> list[Any]:
        """Return every value of column ``index``, in row order (unpacks only that column)."""
        return list(itertools.chain.from_iterable(self.column_blocks(index)))

    def floats(self, index: int) -> np.ndarray:
        """Return column ``index`` as float64 (None as NaN), parsing packed decimals straight to floats."""
        return np.fromiter(itertools.chain.from_iterable(self.float_blocks(index)), dtype=np.float64,
                           count=len(self))

    def __len__(self) -> int:
        return self._rows

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]: ...

    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("PackedTable index out of range")
        number, offset = divmod(index, self._block_rows)
        if number == len(self._blocks):
            return self._tail[offset]
        return self._block(number)[offset]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for number in range(len(self._blocks)):
            yield from self._block(number)
        yield from list(self._tail)

    def nbytes(self) -> int:
        """Return the bytes held by packed blocks (the tuples of the unpacked tail not included)."""
        return sum(len(data) for block in self._blocks for data in block)

    def column_blocks(self, index: int) -> Iterator[list[Any]]:
        """Yield the values of column ``index`` a block at a time, in row order (the unpacked tail last).

        ``column`` holds a whole column of new objects at once (a ``Decimal`` is about 100 bytes, so 40,000 of
        them take 4 MB); a reader that folds the values as they come holds one block of them. The cache of the
        block read last by ``__getitem__`` is left as it is.
        """
        codec = self._codecs[index]
        for block in self._blocks:
            yield codec.decode(zlib.decompress(block[index]))
        if self._tail:
            yield [row[index] for row in self._tail]

    def int64s(self, index: int) -> np.ndarray:
        """Return column ``index`` as int64, read from the packed bytes of int64 columns without making ints."""
        codec = self._codecs[index]
        parts = [codec.int64s(zlib.decompress(block[index])) for block in self._blocks]
        parts.append(np.array([row[index] for row in self._tail], dtype=np.int64))
        return np.concatenate(parts)

    def float_blocks(self, index: int) -> Iterator[list[float]]:
        """Yield column ``index`` as floats (None as NaN) a block at a time, as ``floats`` reads them."""
        codec = self._codecs[index]
        for block in self._blocks:
            yield codec.floats(zlib.decompress(block[index]))
        if self._tail:
            yield [math.nan if row[index] is None else float(row[index]) for row in self._tail]
