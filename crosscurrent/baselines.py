"""Baselines: what the recent past says about an id, computed from its daily bars.

Pure functions of the bars: detectors receive `Baseline` values as input and stay sans-I/O.
Only completed sessions (before `today`) count. A figure that needs more sessions than the
history holds is None, and `warming_up` says so: a detector must not guess without it.
Daily changes are taken between consecutive sessions only: after a silence longer than
`GAP_DAYS` (a gap in the data, not a holiday) there is no change and no previous close.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from crosscurrent.bars import DailyBar

GAP_DAYS = 14


@dataclass(frozen=True)
class Baseline:
    sessions: int  # completed sessions available
    window: int  # sessions the averages need
    previous_close: float | None
    average_volume: float | None
    average_close: float | None  # the trailing average (for metrics: of their values)
    daily_volatility: float | None  # stdev of the daily changes, in percent
    changes: tuple[tuple[str, float], ...] = ()  # (ISO date, percent) of the last sessions

    @property
    def warming_up(self) -> bool:
        return self.sessions < self.window

    def volume_ratio(self, volume: float | None) -> float | None:
        """Today's volume against the average: None while warming up."""
        if volume is None or not self.average_volume:
            return None
        return volume / self.average_volume


def daily_changes(bars: Sequence[DailyBar]) -> list[tuple[date, float]]:
    """Each session's change against the one before (percent), bars in date order; none
    across a gap."""
    return [(b.date, (b.close / a.close - 1) * 100) for a, b in pairwise(bars)
            if a.close > 0 and (b.date - a.date).days <= GAP_DAYS]


def baseline(bars: Sequence[DailyBar], today: date, window: int = 20,
             volatility_window: int = 60) -> Baseline:
    """Averages over the last `window` sessions; the usual daily move over up to
    `volatility_window` of them (at least `window` changes)."""
    past = sorted((b for b in bars if b.date < today), key=lambda b: b.date)
    recent = past[-window:]
    full = len(recent) >= window
    volumes = [b.volume for b in recent if b.volume is not None]
    changes = daily_changes(past[-max(window, volatility_window) - 1:])[-volatility_window:]
    gapped = not past or (today - past[-1].date).days > GAP_DAYS
    return Baseline(
        sessions=len(past),
        window=window,
        previous_close=None if gapped else past[-1].close,
        average_volume=statistics.fmean(volumes) if full and len(volumes) == window else None,
        average_close=statistics.fmean(b.close for b in recent) if full else None,
        daily_volatility=statistics.stdev(c for _, c in changes)
        if len(changes) >= max(window, 2) else None,
        changes=tuple((day.isoformat(), round(c, 6)) for day, c in changes),
    )
