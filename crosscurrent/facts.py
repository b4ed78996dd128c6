"""Figures computed once, with their window: what the detectors' alerts and the end-of-day
report both say about a fact, by the same function (issue 38, "one number per fact").

Pure functions of plain data: detectors and reporters both import them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
HONG_KONG = ZoneInfo("Asia/Hong_Kong")
SINCE_PREVIOUS_CLOSE = "since previous close"


@dataclass(frozen=True)
class Sum:
    """A value against a base over a span to `as_of`: one series' change, or several summed
    (a category's TVL, the stablecoins' supply)."""

    value: float  # the value in force at `as_of`
    base: float
    as_of: int  # epoch ms
    span_ms: int  # the span the change covers: the window, or less when the data is shorter

    @property
    def delta(self) -> float:
        return self.value - self.base

    @property
    def pct(self) -> float | None:
        return percent(self.value, self.base)

    @property
    def window(self) -> str:
        """The window in words: "24 h to 08:00Z (16:00 HKT)"."""
        return f"{hours(self.span_ms)} to {clock(self.as_of)}"


@dataclass(frozen=True)
class Change(Sum):
    """One series: its value against the value in force `window_ms` before."""

    base_ts: int  # epoch ms of the base value
    window_ms: int
    full: bool  # False: the points do not reach back `window_ms`; the base is the oldest


def percent(value: float, base: float) -> float | None:
    """The percent change of `value` from `base`; None from zero."""
    return None if not base else (value / base - 1.0) * 100.0


def trailing_change(points: Sequence[Sequence[float]], window_ms: int = DAY_MS,
                    as_of: float | None = None) -> Change | None:
    """The change of a series ([ts, value] in ts order) over the `window_ms` to `as_of`
    (default: its last point): the value in force then (the last at or before it) against
    the value in force at the start of the window, else the oldest one. Several series asked
    as of one moment so share one window, whichever was updated last. None without two
    values."""
    if not points:
        return None
    end = len(points) if as_of is None else bisect_right(points, as_of, key=lambda p: p[0])
    if end < 2:
        return None
    latest = points[end - 1]
    moment = int(latest[0] if as_of is None else as_of)
    horizon: float = moment - window_ms
    at = bisect_right(points, horizon, 0, end, key=lambda p: p[0])
    base = points[at - 1] if at else points[0]
    if base is latest:
        return None
    full = base[0] <= horizon
    return Change(value=float(latest[1]), base=float(base[1]), as_of=moment,
                  span_ms=window_ms if full else moment - int(base[0]), base_ts=int(base[0]),
                  window_ms=window_ms, full=full)


def summed(changes: Iterable[Change | None]) -> Sum | None:
    """The members' changes added up (those with one); None when none has."""
    found = [c for c in changes if c is not None]
    if not found:
        return None
    return Sum(value=sum(c.value for c in found), base=sum(c.base for c in found),
               as_of=max(c.as_of for c in found), span_ms=min(c.span_ms for c in found))


def advance_decline(advancers: float, decliners: float) -> float | None:
    """The A-share breadth ratio, advancers per decliner, to two decimals; None without
    decliners."""
    return round(advancers / decliners, 2) if decliners else None


def breadth_text(advancers: float, decliners: float) -> str:
    """"1584:713 (2.2:1)": the counts and the ratio, as every place shows them."""
    ratio = advance_decline(advancers, decliners)
    return f"{advancers:.0f}:{decliners:.0f}" + (f" ({ratio:.1f}:1)" if ratio else "")


def hours(span_ms: int) -> str:
    """A span in hours: "24 h", "12 h", "1.5 h"."""
    value = round(span_ms / HOUR_MS, 1)
    return f"{value:g} h"


def clock(ts: int) -> str:
    """A moment as the report says it: "08:00Z (16:00 HKT)"."""
    at = datetime.fromtimestamp(ts / 1000, UTC)
    return f"{at:%H:%M}Z ({at.astimezone(HONG_KONG):%H:%M} HKT)"
