"""The equity curve of a run, recorded bar by bar by a handler the kernel subscribes last."""

from __future__ import annotations

from array import array
from collections.abc import Callable

import numpy as np
import pandas as pd

from engine.datagen.frames import utc_index
from engine.events import Bar

__all__ = ["EquityRecorder"]


class EquityRecorder:
    """Record equity marked to market after each bar has been fully handled (subscribed last)."""

    # Stamps are kept unsigned while none is negative, in the type whose append converts a 64-bit int fastest:
    # "L" (unsigned long: 8 bytes on 64-bit Linux and macOS) goes digit by digit, "Q" through
    # _PyLong_AsByteArray and "q" through PyArg_Parse, 360, 640 and 970 instructions an append (callgrind),
    # the difference between "q" and "L" 5% of a bar. The bytes are the same int64 for frame().
    _UNSIGNED = "L" if array("L").itemsize == 8 else "Q"

    def __init__(self, equity: Callable[[], float]) -> None:
        # typed arrays: 16 bytes a bar instead of ~70 for lists of Python ints and floats
        self.ts = array(self._UNSIGNED)
        self.values = array("d")
        # One read per bar, unpacked into locals: ``self._append_ts(...)`` compiles to a method lookup that
        # CPython 3.11 cannot specialise for a callable stored on the instance, a generic lookup per call
        # (the three of them were 3% of a bar's instructions, callgrind).
        self._calls = (self.ts.append, self.values.append, equity)

    def on_bar(self, bar: Bar) -> None:
        append_ts, append_value, equity = self._calls
        try:
            append_ts(bar.ts)
        except OverflowError:  # a stamp before 1970: keep them signed from now on
            self.ts = array("q", self.ts)
            self._calls = (self.ts.append, append_value, equity)
            self.ts.append(bar.ts)
        append_value(equity())

    def frame(self) -> pd.DataFrame:
        """Return equity by bar close time; with several symbols per timestamp the last value wins.

        Call it once the run is over: without repeated timestamps the frame wraps the recorder's arrays instead
        of copying them (16 bytes a bar), and while it lives the arrays cannot grow (``on_bar`` would raise
        ``BufferError``). Repeated timestamps are filtered into new arrays.
        """
        stamps = np.frombuffer(self.ts, dtype="int64")
        index = utc_index(stamps)
        frame = pd.DataFrame({"equity": np.frombuffer(self.values, dtype="float64")}, index=index, copy=False)
        if index.is_unique:  # one pass over sorted stamps, no hash table
            return frame
        if index.is_monotonic_increasing:  # bars in time order, as feeds replay them: repeats are neighbours
            last = np.empty(len(stamps), dtype=bool)
            np.not_equal(stamps[1:], stamps[:-1], out=last[:-1])
            last[-1] = True
            return frame[last]
        return frame[~index.duplicated(keep="last")]  # builds a hash table of the stamps
