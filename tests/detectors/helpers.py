"""Small event builders for detector unit tests."""

from __future__ import annotations

from crosscurrent.events import Metric, Tick


def tick(ident: str, change_pct: float, ts: int = 0, prev: float = 100.0,
         volume: float | None = None) -> Tick:
    return Tick(id=ident, ts=ts, price=prev * (1 + change_pct / 100), prev_close=prev,
                day_volume=volume)


def metric(ident: str, value: float, ts: int = 0) -> Metric:
    return Metric(id=ident, ts=ts, value=value)
