"""Feeds' frame counters kept in Redis, so `audit` counts across process restarts.

A feed counts in memory (it must not wait on Redis per frame); `FeedCounts` adds what each
counter grew by since its last flush to `feed.<source>.<counter>` in the stats hash, once a
second and when the pipeline stops. A flush that fails (Redis away) is carried to the next.
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


class FeedCounts:
    def __init__(self, redis: aioredis.Redis, keys: Keys, feeds: Sequence[Counted]) -> None:
        self.redis = redis
        self.keys = keys
        self.feeds = list(feeds)
        self._flushed: dict[tuple[int, str], int] = {}  # (feed index, counter) -> flushed

    async def flush(self) -> bool:
        """Add the counters' growth to Redis; False (and kept for next time) if it failed."""
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

    async def run(self, interval_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.flush()


async def count_replayed(redis: aioredis.Redis, keys: Keys,
                         frames: dict[str, tuple[int, int, int]]) -> None:
    """A replay's feed stage, for `audit`: per source, the frames its simulator sent and the
    feed received and found malformed (counted once every frame sent was read)."""
    await add_counts(redis, keys, {
        f"feed.{source}.{name}": n for source, counts in frames.items()
        for name, n in zip(("sent", "received", "malformed"), counts, strict=True) if n},
        "the replay's feed counts")
