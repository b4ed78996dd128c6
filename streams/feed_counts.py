"""Feeds' frame counters kept in Redis, so `audit` counts across process restarts.

A feed counts in memory (it must not wait on Redis per frame); `FeedCounts` adds what each
counter grew by since its last flush to `feed.<source>.<counter>` in the stats hash, once a
second and when the pipeline stops. A flush that fails (Redis away) is carried to the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
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
        tx = self.redis.pipeline(transaction=True)
        count(tx, self.keys, {f"feed.{self.feeds[index].source}.{COUNTERS[counter]}": grew
                              for (index, counter), grew in growth.items()})
        try:
            await tx.execute()
        except (RedisError, OSError) as exc:
            reraise_cancellation()
            log.debug("feed counts not flushed (%s); carried to the next flush", exc)
            return False
        for key, grew in growth.items():
            self._flushed[key] = self._flushed.get(key, 0) + grew
        return True

    async def run(self, interval_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.flush()
