"""Feeds' frame counters kept in Redis: the one count of each source's frames, which `feeds`
and `audit` both read, across process restarts.

A feed counts in memory (it must not wait on Redis per frame); `FeedCounts` adds what each
counter grew by since its last flush to `feed.<source>.<counter>` in the stats hash, once a
second and when the pipeline stops. A flush that fails (Redis away) is carried to the next.
A live run and a replay count alike: a replay's feeds are flushed while the tape plays, and
at its end `count_replayed` settles them on the frames read once every frame sent was read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from streams.consumer import count
from streams.keys import Keys
from streams.redis_client import reraise_cancellation

log = logging.getLogger(__name__)

COUNTERS = {"frames": "received", "malformed": "malformed"}  # attribute -> name in Redis


class Counted(Protocol):
    frames: int
    malformed: int

    @property
    def source(self) -> str: ...


async def add_counts(redis: aioredis.Redis, keys: Keys, counters: Mapping[str, int],
                     what: str) -> bool:
    """Add to stats counters in one transaction; False (logged at debug: the caller keeps
    them for its next flush) if Redis is away."""
    tx = redis.pipeline(transaction=True)
    count(tx, keys, counters)
    try:
        await tx.execute()
    except (RedisError, OSError) as exc:
        reraise_cancellation()
        log.debug("%s not flushed (%s); carried to the next flush", what, exc)
        return False
    return True


async def read_counts(redis: aioredis.Redis, keys: Keys) -> dict[str, tuple[int, int]]:
    """Each source's frames received and malformed as Redis counts them, over every run, as
    of each feed's last flush (sources that never flushed are absent)."""
    found: dict[str, tuple[int, int]] = {}
    for key, value in (await redis.hgetall(keys.stats)).items():
        parts = (key.decode() if isinstance(key, bytes) else str(key)).split(".")
        if len(parts) != 3 or parts[0] != "feed" or parts[2] not in COUNTERS.values():
            continue  # another stage's, or feed.<source>.sent, .rejected.<why>
        source, counter = parts[1], parts[2]
        received, malformed = found.get(source, (0, 0))
        found[source] = (int(value), malformed) if counter == "received" \
            else (received, int(value))
    return found


class FeedCounts:
    def __init__(self, redis: aioredis.Redis, keys: Keys, feeds: Sequence[Counted]) -> None:
        self.redis = redis
        self.keys = keys
        self.feeds = list(feeds)
        self._flushed: dict[tuple[int, str], int] = {}  # (feed index, counter) -> flushed
        self._lock = asyncio.Lock()  # one flush at a time, and none after `settle`
        self.settled = False

    async def flush(self) -> bool:
        """Add the counters' growth to Redis; False (and kept for next time) if it failed."""
        async with self._lock:
            if self.settled:
                return True
            return await self._flush()

    async def _flush(self) -> bool:
        growth: dict[tuple[int, str], int] = {}
        for index, feed in enumerate(self.feeds):
            for counter in COUNTERS:
                grew = getattr(feed, counter) - self._flushed.get((index, counter), 0)
                if grew:
                    growth[index, counter] = grew
        if not growth:
            return True
        totals: dict[str, int] = {}  # two feeds of one source (USD-M /public, /market) add up
        for (index, counter), grew in growth.items():
            name = f"feed.{self.feeds[index].source}.{COUNTERS[counter]}"
            totals[name] = totals.get(name, 0) + grew
        if not await add_counts(self.redis, self.keys, totals, "feed counts"):
            return False
        for key, grew in growth.items():
            self._flushed[key] = self._flushed.get(key, 0) + grew
        return True

    async def settle(self, final: Mapping[str, tuple[int, int]],
                     more: Mapping[str, int] | None = None) -> bool:
        """Stop flushing, and bring each source's counters to `final` (frames received,
        malformed, counted by the caller at a moment of its choosing: a replay's, once
        every frame sent was read), adding what was not flushed yet (or taking back what was
        flushed past it), with the other `more` counters, in one transaction."""
        async with self._lock:
            self.settled = True
            flushed: dict[str, int] = {}
            for (index, counter), n in self._flushed.items():
                name = f"feed.{self.feeds[index].source}.{COUNTERS[counter]}"
                flushed[name] = flushed.get(name, 0) + n
            totals = dict(more or {})
            for source, numbers in final.items():
                for name, n in zip(COUNTERS.values(), numbers, strict=True):
                    key = f"feed.{source}.{name}"
                    totals[key] = totals.get(key, 0) + n - flushed.get(key, 0)
            totals = {name: n for name, n in totals.items() if n}
            return not totals or await add_counts(self.redis, self.keys, totals,
                                                  "the replay's feed counts")

    async def run(self, interval_s: float = 1.0) -> None:
        while not self.settled:
            await asyncio.sleep(interval_s)
            await self.flush()


async def count_replayed(redis: aioredis.Redis, keys: Keys,
                         frames: Mapping[str, tuple[int, int, int]],
                         counts: FeedCounts | None = None) -> None:
    """A replay's feed stage, for `audit` and `feeds`: per source, the frames its simulator
    sent and the feed received and found malformed (counted once every frame sent was read).
    `counts`: the replay's `FeedCounts`, which flushed its feeds' counters while the tape
    played; it stops, and only what it had not flushed is added, so the counters end on
    those figures, counted once."""
    sent = {f"feed.{source}.sent": numbers[0] for source, numbers in frames.items()
            if numbers[0]}
    read = {source: (received, malformed) for source, (_, received, malformed)
            in frames.items()}
    if counts is not None:
        await counts.settle(read, sent)
        return
    await add_counts(redis, keys, sent | {
        f"feed.{source}.{name}": n for source, numbers in read.items()
        for name, n in zip(COUNTERS.values(), numbers, strict=True) if n},
        "the replay's feed counts")
