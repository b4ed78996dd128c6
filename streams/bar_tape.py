"""Daily bars to a tape: a folder of `<family>_<symbol>.csv` files (`date,open,high,low,close,
volume`, as `shared/data/history/`) read into bars, and each session turned into ticks in its
market's own hours, for a back-test through the detectors.

A session gives four ticks: the open just after the market opens, the two extremes at a third
and two thirds of the day (the low first on an up day, the high first on a down day) and the
close just before it closes, each carrying the previous session's close. After a gap in the
data longer than `GAP_DAYS` (`us_SPX.csv` jumps from 2013-12-31 to 2016-08-01) a session has no
previous close: no change is ever taken across the gap.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from crosscurrent.bars import DailyBar
from crosscurrent.baselines import GAP_DAYS
from crosscurrent.catalog import Catalog, Instrument, default_catalog
from crosscurrent.events import Tick

log = logging.getLogger(__name__)
MINUTE_MS = 60_000
FIELDS = ("date", "open", "high", "low", "close")


class BarFolderError(ValueError):
    """The folder cannot be back-tested (missing, or no usable file)."""


@dataclass
class BarFolder:
    """Each id's bars in date order; the files skipped and the rows refused, with why."""

    bars: dict[str, list[DailyBar]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    bad_rows: int = 0

    def first_day(self) -> date:
        return min(bars[0].date for bars in self.bars.values())

    def last_day(self) -> date:
        return max(bars[-1].date for bars in self.bars.values())


def canonical_id(path: Path, catalog: Catalog) -> str | None:
    """`us_SPX.csv` -> `us:SPX` when the catalog knows it."""
    family, _, symbol = path.stem.partition("_")
    ident = f"{family}:{symbol}"
    return ident if symbol and ident in catalog else None


def read_bar_folder(folder: Path, catalog: Catalog | None = None) -> BarFolder:
    """Every `<family>_<symbol>.csv` of `folder` whose id the catalog knows."""
    catalog = catalog or default_catalog()
    if not folder.is_dir():
        raise BarFolderError(f"{folder} is not a folder of daily bars (<family>_<symbol>.csv)")
    found = BarFolder()
    for path in sorted(folder.glob("*.csv")):
        ident = canonical_id(path, catalog)
        if ident is None:
            found.skipped.append(f"{path.name}: no catalog id (expected e.g. us_SPX.csv for "
                                 "us:SPX; `crosscurrent catalog` lists the ids)")
            continue
        try:
            bars = _read_csv(path, found)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            found.skipped.append(f"{path.name}: unreadable ({exc})")
            continue
        if bars:
            found.bars[ident] = bars
        elif not any(why.startswith(f"{path.name}:") for why in found.skipped):
            found.skipped.append(f"{path.name}: no usable row")
    if not found.bars:
        raise BarFolderError(f"{folder}: no usable <family>_<symbol>.csv file"
                             + "".join(f"\n  {why}" for why in found.skipped))
    return found


def _read_csv(path: Path, found: BarFolder) -> list[DailyBar]:
    by_date: dict[date, DailyBar] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle)
        missing = [f for f in FIELDS if f not in (rows.fieldnames or ())]
        if missing:
            found.skipped.append(f"{path.name}: no column {', '.join(missing)}")
            return []
        for number, row in enumerate(rows, start=2):
            try:
                bar = _bar(row)
            except ValueError as exc:
                found.bad_rows += 1
                log.warning("%s line %d skipped: %s", path.name, number, exc)
                continue
            by_date[bar.date] = bar  # a repeated date: the later row stands
    return [by_date[day] for day in sorted(by_date)]


def _bar(row: Mapping[str, str | None]) -> DailyBar:
    prices = {}
    for name in FIELDS[1:]:
        text = (row.get(name) or "").strip()
        value = _float(text)
        if not 0.0 < value < math.inf:
            raise ValueError(f"{name} {text!r} is not a positive number")
        prices[name] = value
    volume = _float((row.get("volume") or "").strip())  # no usable volume: none
    day_text = (row.get("date") or "").strip()
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise ValueError(f"date {day_text!r} is not YYYY-MM-DD") from None
    high = max(prices.values())
    low = min(prices.values())
    return DailyBar(date=day, open=prices["open"], high=high, low=low, close=prices["close"],
                    volume=volume if 0.0 <= volume < math.inf else None)


def _float(text: str) -> float:
    """A number, or NaN for an empty cell or one that is no number."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def previous_close(bars: Sequence[DailyBar], index: int) -> float | None:
    """The close the session `bars[index]` changes against: none after a gap in the data."""
    if index == 0:
        return None
    before, bar = bars[index - 1], bars[index]
    return before.close if (bar.date - before.date).days <= GAP_DAYS else None


def session_ticks(instrument: Instrument, bar: DailyBar, prev_close: float | None
                  ) -> list[Tick]:
    """The four ticks of one session, in its market's hours."""
    start, end = instrument.calendar.session_bounds(bar.date)
    first = int(start.timestamp() * 1000) + MINUTE_MS
    last = int(end.timestamp() * 1000) - MINUTE_MS
    third = (last - first) // 3
    extremes = (bar.low, bar.high) if bar.close >= bar.open else (bar.high, bar.low)
    prices = (bar.open, *extremes, bar.close)
    cumulative = instrument.calendar.sessions != (("00:00", "24:00"),)
    ticks = []
    for step, price in enumerate(prices):
        ts = first + step * third if step < 3 else last
        share = None if bar.volume is None else bar.volume * (step + 1) / 4
        ticks.append(Tick(
            id=instrument.id, ts=ts, price=price, prev_close=prev_close,
            day_volume=share if cumulative else None,
            volume=None if cumulative or bar.volume is None else bar.volume / 4,
            source="bars", recv_ns=ts * 1_000_000))
    return ticks


def bar_ticks(bars: Mapping[str, Sequence[DailyBar]], start: date | None = None,
              end: date | None = None, catalog: Catalog | None = None) -> list[Tick]:
    """The ticks of every session in [start, end], in time order (ids apart on ties)."""
    catalog = catalog or default_catalog()
    ticks: list[Tick] = []
    for ident, series in bars.items():
        instrument = catalog[ident]
        for index, bar in enumerate(series):
            if (start is None or bar.date >= start) and (end is None or bar.date <= end):
                ticks += session_ticks(instrument, bar, previous_close(series, index))
    ticks.sort(key=lambda t: (t.ts, t.id))
    return ticks
