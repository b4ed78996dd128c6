"""Reading tapes (shared/spec/tape.md): JSON Lines of events, optionally led by daily bars."""

from __future__ import annotations

import gzip
import logging
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from crosscurrent.catalog import Catalog, default_catalog

log = logging.getLogger(__name__)
MAX_LINE_BYTES = 1_000_000  # a longer tape line is a bad line, read through in pieces
GZIP_MAGIC = b"\x1f\x8b"


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


TS_MIN_MS = 0  # 1970-01-01: event times of a tape lie in 1970..2099
TS_MAX_MS = 4_102_444_800_000  # 2100-01-01
STRAY_GAP_MS = 7 * 86_400_000  # an event further than this from the rest of a tape is bad


def parse_ts(raw: Any) -> int:
    """ISO-8601 with an offset, or epoch milliseconds, to epoch milliseconds."""
    if isinstance(raw, bool):
        raise LineError("ts must be an ISO-8601 string with offset or epoch milliseconds")
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or raw < 0:
            raise LineError(f"ts {raw!r} is not a valid epoch-millisecond time")
        return _in_range(int(raw), raw)
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise LineError(f"ts {raw!r} is not ISO-8601") from None
        if moment.tzinfo is None:
            raise LineError(f"ts {raw!r} has no UTC offset (add e.g. +08:00 or Z)")
        return _in_range(int(moment.timestamp() * 1000), raw)
    raise LineError("ts is missing or not a string/number")


def _in_range(ts: int, raw: Any) -> int:
    if not TS_MIN_MS <= ts < TS_MAX_MS:
        raise LineError(f"ts {raw!r} is outside the years 1970..2099")
    return ts


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


def iter_lines(path: Path) -> Iterator[bytes | LineError]:
    """The tape's lines (gunzipped if it is named .gz); a line over MAX_LINE_BYTES comes as
    a LineError in its place. TapeError if the file cannot be opened or read to its end."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise TapeError(f"tape {path}: cannot open it ({exc.strerror})") from None
    with raw:
        if path.suffix != ".gz":
            yield from _lines(path, raw)
            return
        try:
            head = raw.read(len(GZIP_MAGIC))
            raw.seek(0)
        except OSError as exc:
            raise TapeError(f"tape {path}: cannot read it ({exc.strerror})") from None
        if head != GZIP_MAGIC:
            start = f"it starts with {head!r}" if head else "it is empty"
            raise TapeError(f"tape {path}: not gzip data though named .gz ({start}); rename "
                            "it to .jsonl if it holds plain JSON Lines")
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            yield from _lines(path, unzipped)


def _lines(path: Path, handle: IO[bytes] | gzip.GzipFile) -> Iterator[bytes | LineError]:
    """Each line of at most MAX_LINE_BYTES; a longer one read through, as a LineError."""
    number = 0  # lines read whole
    try:
        while line := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                size = len(line) + _rest_of_line(handle)
                yield LineError(f"{size:,} bytes long, over the limit of {MAX_LINE_BYTES:,} "
                                "bytes of a tape line")
                continue
            yield line
    except EOFError:
        raise TapeError(f"tape {path}: truncated, its gzip data ends after line {number} "
                        "without the end marker (an interrupted copy or recording?); copy it "
                        "again, or save the lines before the cut with gzip -dc") from None
    except (OSError, zlib.error) as exc:
        raise TapeError(f"tape {path}: damaged after line {number} ({exc}); copy or record it "
                        "again") from None


def _rest_of_line(handle: IO[bytes] | gzip.GzipFile) -> int:
    """Read through the rest of a line in pieces; its length in bytes."""
    skipped = 0
    while piece := handle.readline(MAX_LINE_BYTES):
        skipped += len(piece)
        if piece.endswith(b"\n"):
            break
    return skipped


def read_tape(path: Path, catalog: Catalog | None = None, gaps: bool = False) -> Tape:
    """Read a whole tape; bad lines are logged with their number, counted and skipped.
    `gaps`: the tape may have gaps of any length (a back-test over years of sessions); else
    events cut off from the rest by more than STRAY_GAP_MS are bad lines (a replay's clock
    would have to wait through the gap)."""
    catalog = catalog or default_catalog()
    tape = Tape()
    last_ts = -1
    for number, raw in enumerate(iter_lines(path), start=1):
        try:
            if isinstance(raw, LineError):  # too long to read
                raise raw
            item = parse_line(raw, catalog, number)
        except LineError as exc:
            _bad(tape, "tape %s line %d skipped: %s", path.name, number, exc)
            continue
        if item is None:
            continue
        if isinstance(item, Bar):
            if tape.events:
                _bad(tape, "tape %s line %d skipped: a bar after the first event (history "
                     "lines come first)", path.name, number)
                continue
            tape.bars.append(item)
            continue
        if item.ts < last_ts:
            tape.out_of_order += 1
        last_ts = max(last_ts, item.ts)
        tape.events.append(item)
    if not tape.events:
        raise TapeError(f"tape {path}: no valid event lines ({tape.bad_lines} bad)")
    if tape.out_of_order:
        log.warning("tape %s: %d events earlier than a line before them; played in time "
                    "order", path.name, tape.out_of_order)
    tape.events.sort(key=lambda e: e.ts)  # stable: equal times keep file order
    if not gaps:
        _drop_strays(tape, path.name)
    return tape


LOG_FIRST_BAD = 10  # bad lines logged one by one; then every thousandth


def _bad(tape: Tape, message: str, *args: object) -> None:
    """Count a bad line; log it if among the first few, or every thousandth."""
    tape.bad_lines += 1
    n = tape.bad_lines
    if n <= LOG_FIRST_BAD or n % 1000 == 0:
        log.warning(message, *args)
    if n == LOG_FIRST_BAD:
        log.warning("further bad lines: every thousandth is logged, all are counted")


def _drop_strays(tape: Tape, name: str) -> None:
    """Events cut off from the tape's body (the run of events around its median time with
    no gap over STRAY_GAP_MS) are bad lines: played, they would drag the tape's clock."""
    events = tape.events
    first = last = len(events) // 2
    while first > 0 and events[first].ts - events[first - 1].ts <= STRAY_GAP_MS:
        first -= 1
    while last + 1 < len(events) and events[last + 1].ts - events[last].ts <= STRAY_GAP_MS:
        last += 1
    body = events[first:last + 1]
    if len(body) == len(events):
        return
    low, high = body[0].ts, body[-1].ts
    for stray in sorted(events[:first] + events[last + 1:], key=lambda e: e.line):
        away = low - stray.ts if stray.ts < low else stray.ts - high
        _bad(tape, "tape %s line %d skipped: ts %s is %.0f days %s the rest of the tape "
             "(%s .. %s), past the %d-day gap a tape may have", name, stray.line,
             _iso(stray.ts), away / 86_400_000, "before" if stray.ts < low else "after",
             _iso(low), _iso(high), STRAY_GAP_MS // 86_400_000)
    tape.events = body


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")
