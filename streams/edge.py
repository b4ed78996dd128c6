"""Where events enter the bus: the edge gate (`streams/gate.py`) in front of a sink, each
kind of rejection logged once per source and every one counted (`feed.<source>.rejected` and
`feed.<source>.rejected.<reason>` in the stats hash, when flushed)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping

from redis import asyncio as aioredis

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedStatus, MarketEvent, Metric, Quote, Tick
from streams.feed import Sink
from streams.feed_counts import add_counts
from streams.gate import EventGate
from streams.keys import Keys

log = logging.getLogger(__name__)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def gate_of(feeds: FeedsConfig) -> EventGate:
    """The gate as `feeds:` of the config sets it up."""
    return EventGate(max_past_ms=round(feeds.max_past_s * 1000),
                     max_future_ms=round(feeds.max_future_s * 1000),
                     late_tolerance_ms=round(feeds.late_tolerance_s * 1000))


def rejected_summary(counts: Mapping[tuple[str, str], int]) -> str:
    """`2 events rejected at the edge (yahoo: 1 time out of window, 1 late)`, or ''."""
    total = sum(counts.values())
    if not total:
        return ""
    by_source: dict[str, list[str]] = {}
    for (source, reason), n in sorted(counts.items()):
        by_source.setdefault(source or "unknown source", []).append(f"{n} {reason}")
    parts = "; ".join(f"{source}: {', '.join(kinds)}" for source, kinds in by_source.items())
    return f"{total} event{'s' * (total != 1)} rejected at the edge ({parts})"


class GatedSink:
    """A sink that lets into `sink` only the events the gate accepts at `clock()` (epoch ms:
    the wall clock live, the tape's on replay)."""

    def __init__(self, sink: Sink, feeds: FeedsConfig,
                 clock: Callable[[], int] = wall_clock_ms) -> None:
        self.sink = sink
        self.gate = gate_of(feeds)
        self.clock = clock
        self._flushed: Counter[tuple[str, str]] = Counter()

    async def __call__(self, event: MarketEvent | FeedStatus) -> None:
        if isinstance(event, Tick | Quote | Metric):
            now = self.clock()
            reason = self.gate.check(event, now)
            if reason is not None:
                if self.gate.counts[event.source, reason] == 1:
                    log.warning("%s; further such events are counted, not logged",
                                self.gate.describe(event, reason, now))
                return
        await self.sink(event)

    @property
    def rejected(self) -> dict[tuple[str, str], int]:
        """Events rejected so far, per (source, reason)."""
        return dict(self.gate.counts)

    def summary(self) -> str:
        """What was rejected so far, in one line (see `rejected_summary`)."""
        return rejected_summary(self.gate.counts)

    async def flush(self, redis: aioredis.Redis, keys: Keys) -> bool:
        """Add the counts' growth to the stats hash; False (kept for next time) if it failed."""
        growth = self.gate.counts - self._flushed
        if not growth:
            return True
        counters: Counter[str] = Counter()
        for (source, reason), n in growth.items():
            counters[f"feed.{source}.rejected"] += n
            counters[f"feed.{source}.rejected.{reason.replace(' ', '_')}"] += n
        if not await add_counts(redis, keys, counters, "edge counts"):
            return False
        self._flushed.update(growth)
        return True

    async def run(self, redis: aioredis.Redis, keys: Keys, interval_s: float = 1.0) -> None:
        """Flush the counts every `interval_s` until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            await self.flush(redis, keys)
