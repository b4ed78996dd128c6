"""Daily bars: sans-I/O aggregation of events into one bar per id and trading day.

A bar's date is the session date in the instrument's own calendar (New York for US indices,
Hong Kong time for HK, UTC for 24/7 markets and metrics). Volume is the latest cumulative
session volume where the market has sessions and the source reports one (index turnover);
else the sum of trade sizes (a 24 h ticker's rolling volume is no session total).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import MarketEvent, Metric, Quote


class DailyBar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    open: float
    high: float
    low: float
    close: float
    volume: float | None = None

    def add(self, value: float, volume: float | None, cumulative: bool) -> None:
        if value > self.high:  # a pydantic model's attribute costs ~0.4 us to set: only
            self.high = value  # what changes is set
        elif value < self.low:
            self.low = value
        self.close = value
        if volume is not None:
            if cumulative:
                self.volume = max(self.volume or 0.0, volume)
            else:
                self.volume = (self.volume or 0.0) + volume


class BarBuilder:
    """Keeps the current bar of each id; `update` returns the bar an event changed."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self.current: dict[str, DailyBar] = {}

    def seed(self, ident: str, bar: DailyBar) -> None:
        """Continue from a stored bar (after a restart)."""
        self.current[ident] = bar

    def update(self, event: MarketEvent) -> tuple[str, DailyBar] | None:
        if isinstance(event, Quote):
            return None
        instrument = self.catalog.get(event.id)
        if instrument is None:
            return None
        day = instrument.calendar.session_date(event.ts)
        if isinstance(event, Metric):
            value, volume, cumulative = event.value, None, False
        else:
            value = event.price
            sessions = instrument.calendar.sessions != (("00:00", "24:00"),)
            cumulative = sessions and event.day_volume is not None
            volume = event.day_volume if cumulative else event.volume
        bar = self.current.get(event.id)
        if bar is None or bar.date < day:
            bar = self.current[event.id] = DailyBar(date=day, open=value, high=value, low=value,
                                                     close=value)
            bar.add(value, volume, cumulative)
        elif bar.date == day:
            bar.add(value, volume, cumulative)
        else:
            return None  # a late event of a closed day: bars only move forward
        return event.id, bar
