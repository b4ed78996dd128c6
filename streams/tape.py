"""Reading tapes (shared/spec/tape.md): JSON Lines of events, optionally led by daily bars."""

from __future__ import annotations

import gzip
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from crosscurrent.catalog import Catalog, default_catalog

log = logging.getLogger(__name__)


class TapeError(ValueError):
    """The tape as a whole cannot be replayed (missing, unreadable, no events)."""


@dataclass(frozen=True, slots=True)
class TapeEvent:
    ts: int  # epoch ms
    id: str
    value: float
    volume: float | None = None
    prev_close: float | None = None
    source: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Bar:
    date: date
    id: str
    open: float
    high: float
    low: float
    close: float
    volume: float | None = None


@dataclass
class Tape:
    events: list[TapeEvent] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    bad_lines: int = 0
    out_of_order: int = 0

    @property
    def start_ms(self) -> int:
        return self.events[0].ts

    @property
    def end_ms(self) -> int:
        return self.events[-1].ts

    def ids(self) -> set[str]:
        return {e.id for e in self.events}


class LineError(ValueError):
    pass


def parse_ts(raw: Any) -> int:
    """ISO-8601 with an offset, or epoch milliseconds, to epoch milliseconds."""
    if isinstance(raw, bool):
        raise LineError("ts must be an ISO-8601 string with offset or epoch milliseconds")
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or raw < 0:
            raise LineError(f"ts {raw!r} is not a valid epoch-millisecond time")
        return int(raw)
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise LineError(f"ts {raw!r} is not ISO-8601") from None
        if moment.tzinfo is None:
            raise LineError(f"ts {raw!r} has no UTC offset (add e.g. +08:00 or Z)")
        return int(moment.timestamp() * 1000)
    raise LineError("ts is missing or not a string/number")


def _number(obj: dict[str, Any], key: str, required: bool = True) -> float | None:
    raw = obj.get(key)
    if raw is None:
        if required:
            raise LineError(f"'{key}' is missing")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise LineError(f"'{key}' must be a finite number, got {raw!r}")
    return float(raw)


def parse_line(text: str | bytes, catalog: Catalog, line: int = 0) -> TapeEvent | Bar | None:
    """One tape line to an event or bar; None for blank and comment lines; LineError if bad."""
    stripped = text.strip()
    if not stripped or stripped[:1] in ("#", b"#"):
        return None
    try:
        obj = orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        raise LineError(f"not JSON ({exc.args[0].split(':')[0]})") from None
    if not isinstance(obj, dict):
        raise LineError("not a JSON object")
    ident = obj.get("id")
    if not isinstance(ident, str) or ident not in catalog:
        raise LineError(f"unknown or missing id {ident!r}")
    if obj.get("kind") == "bar":
        try:
            day = date.fromisoformat(str(obj.get("date")))
        except ValueError:
            raise LineError(f"bar date {obj.get('date')!r} is not YYYY-MM-DD") from None
        o, h, lo, c = (_number(obj, k) for k in ("open", "high", "low", "close"))
        assert o is not None and h is not None and lo is not None and c is not None
        return Bar(day, ident, o, h, lo, c, _number(obj, "volume", required=False))
    if "kind" in obj:
        raise LineError(f"unknown kind {obj['kind']!r} (only \"bar\" is defined)")
    value = _number(obj, "value")
    assert value is not None
    source = obj.get("source")
    return TapeEvent(
        ts=parse_ts(obj.get("ts")),
        id=ident,
        value=value,
        volume=_number(obj, "volume", required=False),
        prev_close=_number(obj, "prev_close", required=False),
        source=source if isinstance(source, str) else None,
        line=line,
    )


def iter_lines(path: Path) -> Iterator[bytes]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        handle: IO[bytes] = opener(path, "rb")
    except OSError as exc:
        raise TapeError(f"tape {path}: cannot open it ({exc.strerror})") from None
    with handle:
        try:
            yield from handle
        except (OSError, EOFError) as exc:
            raise TapeError(f"tape {path}: cannot read it ({exc})") from None


def read_tape(path: Path, catalog: Catalog | None = None) -> Tape:
    """Read a whole tape; bad lines are logged with their number, counted and skipped."""
    catalog = catalog or default_catalog()
    tape = Tape()
    last_ts = -1
    for number, raw in enumerate(iter_lines(path), start=1):
        try:
            item = parse_line(raw, catalog, number)
        except LineError as exc:
            tape.bad_lines += 1
            log.warning("tape %s line %d skipped: %s", path.name, number, exc)
            continue
        if item is None:
            continue
        if isinstance(item, Bar):
            if tape.events:
                tape.bad_lines += 1
                log.warning("tape %s line %d skipped: a bar after the first event "
                            "(history lines come first)", path.name, number)
                continue
            tape.bars.append(item)
            continue
        if item.ts < last_ts:
            tape.out_of_order += 1
        last_ts = max(last_ts, item.ts)
        tape.events.append(item)
    if not tape.events:
        raise TapeError(f"tape {path}: no valid event lines ({tape.bad_lines} bad)")
    tape.events.sort(key=lambda e: e.ts)  # stable: equal times keep file order
    return tape
