"""Previous closes from daily history, for quotes whose frames carry none (sans-I/O).

A tick's previous close is the close of the last daily bar dated strictly before the tick's
session date, that date taken in the instrument's own market time zone (a Hong Kong tick at
01:30 UTC belongs to that Hong Kong day, a New York tick at 02:00 UTC to the day before).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Protocol

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import Catalog, default_catalog

LAST_MS = 4_102_444_800_000  # 2100-01-01: a later time is no session's (the tapes' bound too)


class CloseReference(Protocol):
    def previous_close(self, ident: str, ts_ms: int) -> float | None:
        """The close of the session before the one `ts_ms` (epoch ms) falls in; None if
        unknown."""
        ...


class PreviousCloses:
    """Sorted (date, close) daily closes per id: `set` or `add` them, ask `previous_close`."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self._closes: dict[str, list[tuple[date, float]]] = {}

    def set(self, ident: str, bars: Iterable[DailyBar]) -> None:
        """Replace an id's closes with those of `bars` (any order; of two bars of one date,
        the later one counts; bars without a usable close are skipped)."""
        by_date = {bar.date: bar.close for bar in bars if _usable(bar.close)}
        self._closes[ident] = sorted(by_date.items())

    def add(self, ident: str, bar: DailyBar) -> None:
        """Add or replace the close of one day (a day that just completed)."""
        if not _usable(bar.close):
            return
        closes = self._closes.setdefault(ident, [])
        i = bisect_left(closes, bar.date, key=itemgetter(0))
        if i < len(closes) and closes[i][0] == bar.date:
            closes[i] = (bar.date, bar.close)
        else:
            closes.insert(i, (bar.date, bar.close))

    def session_date(self, ident: str, ts_ms: int) -> date:
        """The date of a moment in the id's market time zone (UTC for an unknown id)."""
        instrument = self.catalog.get(ident)
        if instrument is not None:
            return instrument.calendar.session_date(ts_ms)
        return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).date()

    def previous_close(self, ident: str, ts_ms: int) -> float | None:
        closes = self._closes.get(ident)
        if not closes or not 0 <= ts_ms < LAST_MS:  # no history, or a time no session has
            return None
        day = self.session_date(ident, ts_ms)
        i = bisect_left(closes, day, key=itemgetter(0))
        return closes[i - 1][1] if i else None


def _usable(close: float) -> bool:
    return math.isfinite(close) and close > 0
