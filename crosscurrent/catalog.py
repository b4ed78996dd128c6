"""The instrument catalog: names, markets, sources and trading calendars of every canonical id."""

from __future__ import annotations

import warnings
from bisect import bisect_right
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

OPEN_FAMILIES = {"tvl": "tvl", "dexvol": "dex_volume"}


class UnknownIdError(KeyError):
    """A canonical id that the catalog does not know."""

    def __str__(self) -> str:
        return str(self.args[0])


def family(instrument_id: str) -> str:
    """`hk:HSI` -> `hk`: the family decides the stream an id travels on."""
    return instrument_id.partition(":")[0]


# the moments a calendar takes as they are: two days inside what `datetime` holds, so that
# any zone's local day and the day after it can be made
_MIN_MS = -62_135_424_000_000  # 0001-01-03T00:00Z
_MAX_MS = 253_402_041_600_000  # 9999-12-29T00:00Z
_LOCAL_DAYS: dict[str, tuple[int, int, date]] = {}  # zone -> the last day's bounds, date


def _parse_clock(text: str) -> time:
    if text == "24:00":
        return time.max
    return time.fromisoformat(text)


class Calendar(BaseModel):
    """A market's trading sessions in its own time zone (lunch breaks are two sessions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tz: str
    sessions: tuple[tuple[str, str], ...]
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    exchange: str | None = None

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def local(self, ts_ms: int) -> datetime:
        """The moment in the market's zone; one beyond what `datetime` holds (years 1..9999:
        such events are rejected at the edge) is taken at the nearest day it holds."""
        return datetime.fromtimestamp(min(max(ts_ms, _MIN_MS), _MAX_MS) / 1000, tz=self.zone)

    def is_open(self, ts_ms: int) -> bool:
        """Whether the market trades at this instant: holidays, early closes and lunch
        breaks from the exchange's schedule; the regular sessions where it has none."""
        if self.exchange is not None:
            table = exchange_schedule(self.exchange)
            if table is not None and table.covers(ts_ms):
                return table.is_open(ts_ms)
        moment = self.local(ts_ms)
        if moment.weekday() not in self.days:
            return False
        clock = moment.time().replace(tzinfo=None)
        return any(
            _parse_clock(start) <= clock < _parse_clock(end) for start, end in self.sessions
        )

    def session_date(self, ts_ms: int) -> date:
        """The trading date a moment belongs to, in the market's own calendar."""
        return self.day_span(ts_ms)[2]

    def day_span(self, ts_ms: int) -> tuple[int, int, date]:
        """The local day of a moment: its start and end (epoch ms) and date. The last day
        seen in each zone is kept: most calls are two comparisons."""
        span = _LOCAL_DAYS.get(self.tz)
        if span is not None and span[0] <= ts_ms < span[1]:
            return span
        day = self.local(ts_ms).date()
        start = datetime.combine(day, time.min, tzinfo=self.zone)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=self.zone)
        span = _LOCAL_DAYS[self.tz] = (int(start.timestamp() * 1000),
                                       int(end.timestamp() * 1000), day)
        return span

    def latest_start(self, ts_ms: int) -> int:
        """When the latest trading day begun by `ts_ms` opened (epoch ms; -1 if none in a
        week): holidays from the exchange's schedule where it covers the time, else every
        regular trading weekday."""
        if self.exchange is not None:
            table = exchange_schedule(self.exchange)
            if table is not None and table.covers(ts_ms):
                i = bisect_right(table.starts, ts_ms) - 1
                if i < 0:
                    return -1
                ts_ms = table.starts[i]  # that session's day: its first session's open
        day = self.local(ts_ms).date()
        for _ in range(8):
            if day.weekday() in self.days:
                start = int(self.session_bounds(day)[0].timestamp() * 1000)
                if start <= ts_ms:
                    return start
            day -= timedelta(days=1)
        return -1

    def session_bounds(self, day: date) -> tuple[datetime, datetime]:
        """Open and close of a trading day, as aware datetimes."""
        start = datetime.combine(day, _parse_clock(self.sessions[0][0]), tzinfo=self.zone)
        end_clock = self.sessions[-1][1]
        if end_clock == "24:00":
            end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=self.zone)
        else:
            end = datetime.combine(day, _parse_clock(end_clock), tzinfo=self.zone)
        return start, end


class SessionTable:
    """An exchange's sessions as sorted epoch-ms bounds: one bisect per lookup."""

    def __init__(self, bounds: list[tuple[int, int]]) -> None:
        self.starts = [start for start, _ in bounds]
        self.ends = [end for _, end in bounds]

    def covers(self, ts_ms: int) -> bool:
        return bool(self.starts) and self.starts[0] - 86_400_000 <= ts_ms < self.ends[-1] \
            + 86_400_000

    def is_open(self, ts_ms: int) -> bool:
        i = bisect_right(self.starts, ts_ms) - 1
        return i >= 0 and ts_ms < self.ends[i]


@cache
def exchange_schedule(code: str) -> SessionTable | None:
    """The sessions of an exchange_calendars code from 2020 to its horizon (lunch breaks
    split a day in two); None if the library does not know the code."""
    try:
        import exchange_calendars
    except ImportError:  # pragma: no cover - a hard dependency; the rules still work
        return None
    try:
        with warnings.catch_warnings():  # the library's own pandas deprecations
            warnings.simplefilter("ignore")
            calendar = exchange_calendars.get_calendar(code, start="2020-01-01")
    except exchange_calendars.errors.InvalidCalendarName:
        return None
    bounds: list[tuple[int, int]] = []
    for row in calendar.schedule.itertuples():
        opens, closes = row.open.value // 1_000_000, row.close.value // 1_000_000
        if row.break_start is not None and row.break_start == row.break_start:  # not NaT
            bounds.append((opens, row.break_start.value // 1_000_000))
            bounds.append((row.break_end.value // 1_000_000, closes))
        else:
            bounds.append((opens, closes))
    return SessionTable(bounds)


class Instrument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    en: str
    zh: str
    region: Literal["us", "hk", "cn", "jp", "uk", "eu", "crypto", "defi", "macro"]
    asset: str
    kind: Literal["tick", "metric"] = "tick"
    currency: str
    source: str
    symbol: str
    calendar: Calendar
    category: str | None = None

    @property
    def short(self) -> str:
        """A short display name: the symbol part of the id."""
        return self.id.partition(":")[2]


class Catalog:
    """Lookup of instruments by canonical id and by (source, symbol)."""

    def __init__(self, instruments: dict[str, Instrument], calendars: dict[str, Calendar]):
        self._instruments = instruments
        self.calendars = calendars
        self.added: dict[str, Instrument] = {}  # the user's own, by `add`

    @classmethod
    def from_yaml(cls, text: str) -> Catalog:
        raw = yaml.safe_load(text)
        calendars = {name: Calendar(**spec) for name, spec in raw["calendars"].items()}
        instruments = {
            ident: Instrument.model_validate(
                {**spec, "id": ident, "calendar": calendars[spec["calendar"]]}
            )
            for ident, spec in raw["instruments"].items()
        }
        return cls(instruments, calendars)

    def __contains__(self, instrument_id: object) -> bool:
        return isinstance(instrument_id, str) and self.get(instrument_id) is not None

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._instruments.values())

    def get(self, instrument_id: str) -> Instrument | None:
        found = self._instruments.get(instrument_id)
        fam, _, slug = instrument_id.partition(":")
        if found is None and fam in OPEN_FAMILIES and slug:
            found = Instrument(
                id=instrument_id, en=f"{slug} {fam}", zh=slug, region="defi",
                asset=OPEN_FAMILIES[fam], kind="metric", currency="USD", source="defillama",
                symbol=slug, category="other", calendar=self.calendars["always"],
            )
        return found

    def __getitem__(self, instrument_id: str) -> Instrument:
        found = self.get(instrument_id)
        if found is None:
            families = sorted({family(i) for i in self._instruments})
            raise UnknownIdError(
                f"unknown instrument id {instrument_id!r}: ids look like 'hk:HSI' "
                f"(families: {', '.join(families)}); `crosscurrent catalog` lists them"
            )
        return found

    def add(self, instrument: Instrument) -> None:
        """Make a user's instrument (the config's `watchlist`) known, as the catalog's are."""
        self._instruments[instrument.id] = instrument
        self.added[instrument.id] = instrument

    def for_source(self, source: str) -> list[Instrument]:
        return [i for i in self._instruments.values() if i.source == source]


@cache
def default_catalog() -> Catalog:
    text = resources.files("crosscurrent").joinpath("data/catalog.yaml").read_text("utf-8")
    return Catalog.from_yaml(text)
