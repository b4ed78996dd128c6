"""Baselines: what the recent past says about an id, computed from its daily bars.

Pure functions of the bars: detectors receive `Baseline` values as input and stay sans-I/O.
Only completed sessions (before `today`) count. A figure that needs more sessions than the
history holds is None, and `warming_up` says so: a detector must not guess without it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from crosscurrent.bars import DailyBar


@dataclass(frozen=True)
class Baseline:
    sessions: int  # completed sessions available
    window: int  # sessions the averages need
    previous_close: float | None
    average_volume: float | None
    average_close: float | None  # the trailing average (for metrics: of their values)
    daily_volatility: float | None  # stdev of daily changes, in percent

    @property
    def warming_up(self) -> bool:
        return self.sessions < self.window

    def volume_ratio(self, volume: float | None) -> float | None:
        """Today's volume against the average: None while warming up."""
        if volume is None or not self.average_volume:
            return None
        return volume / self.average_volume


def baseline(bars: Sequence[DailyBar], today: date, window: int = 20) -> Baseline:
    past = sorted((b for b in bars if b.date < today), key=lambda b: b.date)
    recent = past[-window:]
    full = len(recent) >= window
    volumes = [b.volume for b in recent if b.volume is not None]
    changes = [(b.close / a.close - 1) * 100 for a, b in zip(past[-window - 1:], past[-window:],
                                                              strict=False) if a.close]
    return Baseline(
        sessions=len(past),
        window=window,
        previous_close=past[-1].close if past else None,
        average_volume=statistics.fmean(volumes) if full and len(volumes) == window else None,
        average_close=statistics.fmean(b.close for b in recent) if full else None,
        daily_volatility=statistics.stdev(changes) if full and len(changes) >= 2 else None,
    )
