"""Intraday buckets: each id's events folded into five-minute summaries, sans I/O.

The history recorder keeps them in Redis as the events come (one hash per id and UTC day);
the end-of-day report merges a day's buckets instead of re-reading every event, so its cost
does not grow with the day's volume. Merging the buckets of a day gives what folding its
events in time order gives: first and last values, extremes, the latest previous close, and
the session volume (a cumulative day volume where the source reports one, trade sizes summed
otherwise: each bucket keeps that fold as `max(v + added, floor)`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from crosscurrent.events import Metric, Tick

BUCKET_MS = 5 * 60_000
DAY_MS = 86_400_000


def bucket_of(ts: int) -> int:
    return ts - ts % BUCKET_MS


@dataclass
class Bucket:
    first_ts: int
    first: float
    last_ts: int
    last: float
    high: float
    low: float
    prev_ts: int = -1  # when the latest previous close was given
    prev_close: float | None = None
    added: float = 0.0  # volume: v -> max(v + added, floor) over the bucket's events
    floor: float = 0.0
    has_volume: bool = False

    @classmethod
    def of(cls, event: Tick | Metric) -> Bucket:
        value = event.price if isinstance(event, Tick) else event.value
        bucket = cls(event.ts, value, event.ts, value, value, value)
        bucket.take(event, first=True)
        return bucket

    def take(self, event: Tick | Metric, first: bool = False) -> None:
        ts = event.ts
        value = event.price if isinstance(event, Tick) else event.value
        if not first:
            if ts < self.first_ts:
                self.first, self.first_ts = value, ts
            if ts >= self.last_ts:
                self.last, self.last_ts = value, ts
            self.high, self.low = max(self.high, value), min(self.low, value)
        if not isinstance(event, Tick):
            return
        if event.prev_close and ts >= self.prev_ts and ts >= self.last_ts:
            self.prev_close, self.prev_ts = event.prev_close, ts
        if event.day_volume is not None:
            self.floor, self.has_volume = max(self.floor, event.day_volume), True
        elif event.volume is not None:
            self.added, self.floor = self.added + event.volume, self.floor + event.volume
            self.has_volume = True

    def dump(self) -> bytes:
        return orjson.dumps([self.first_ts, self.first, self.last_ts, self.last, self.high,
                             self.low, self.prev_ts, self.prev_close, self.added, self.floor,
                             self.has_volume])

    @classmethod
    def load(cls, raw: bytes | str) -> Bucket:
        return cls(*orjson.loads(raw))


@dataclass
class Series:
    """One id over a span of buckets."""

    first: float
    last: float
    high: float
    low: float
    prev_close: float | None = None
    first_ts: int = 0
    last_ts: int = 0
    samples: dict[int, float] = field(default_factory=dict)  # bucket start -> last value
    volume: float | None = None

    @property
    def change(self) -> float | None:
        """Percent: against the previous close for prices, against the span's first value
        for metrics."""
        base = self.prev_close or self.first
        return None if not base else (self.last / base - 1) * 100


def merge(buckets: dict[int, Bucket]) -> Series:
    """The series of an id's buckets (bucket start -> bucket, at least one)."""
    ordered = sorted(buckets.items())
    first = min((b for _, b in ordered), key=lambda b: b.first_ts)
    last = max((b for _, b in ordered), key=lambda b: b.last_ts)
    given = max((b for _, b in ordered if b.prev_close), key=lambda b: b.prev_ts, default=None)
    volume = 0.0
    for _, bucket in ordered:
        volume = max(volume + bucket.added, bucket.floor)
    return Series(first=first.first, last=last.last,
                  high=max(b.high for _, b in ordered), low=min(b.low for _, b in ordered),
                  prev_close=given.prev_close if given else None, first_ts=first.first_ts,
                  last_ts=last.last_ts, samples={start: b.last for start, b in ordered},
                  volume=volume if any(b.has_volume for _, b in ordered) else None)


class IntradayBuilder:
    """The buckets events touch; `dirty` holds the (id, bucket start) changed since the last
    `written()`. Only each id's two newest buckets stay in memory."""

    def __init__(self) -> None:
        self.buckets: dict[str, dict[int, Bucket]] = {}
        self.dirty: set[tuple[str, int]] = set()

    def known(self, ident: str, start: int) -> bool:
        return start in self.buckets.get(ident, {})

    def seed(self, ident: str, start: int, bucket: Bucket) -> None:
        """Continue a stored bucket (after a restart)."""
        self.buckets.setdefault(ident, {})[start] = bucket

    def update(self, event: Tick | Metric) -> None:
        start = bucket_of(event.ts)
        own = self.buckets.setdefault(event.id, {})
        bucket = own.get(start)
        if bucket is None:
            own[start] = Bucket.of(event)
            for old in [s for s in own if s < start - BUCKET_MS]:
                if (event.id, old) not in self.dirty:
                    del own[old]
        else:
            bucket.take(event)
        self.dirty.add((event.id, start))

    def written(self) -> None:
        self.dirty.clear()


def gather(events: Iterable[Tick | Metric]) -> dict[str, Series]:
    """Each id's series from events in memory (sorted by time, arrival order on ties)."""
    builder = IntradayBuilder()
    every: dict[str, dict[int, Bucket]] = {}
    for event in sorted(events, key=lambda e: e.ts):
        builder.update(event)
        start = bucket_of(event.ts)
        every.setdefault(event.id, {})[start] = builder.buckets[event.id][start]
    return {ident: merge(buckets) for ident, buckets in every.items()}
