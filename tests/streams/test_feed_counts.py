"""Feeds' counters in Redis: growth added once, a failed flush carried to the next."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from streams.feed_counts import FeedCounts
from streams.keys import Keys
from streams.redis_client import client


@dataclass
class Counter:
    source: str
    frames: int = 0
    malformed: int = 0


def test_growth_is_added_once_and_a_failed_flush_is_carried(redis_url: str, keys: Keys
                                                            ) -> None:
    async def main() -> None:
        redis, away = client(redis_url), client("redis://127.0.0.1:1")  # nothing listens on 1
        feeds = [Counter("binance", frames=5, malformed=1), Counter("yahoo")]
        counts = FeedCounts(redis, keys, feeds)
        try:
            assert await counts.flush()
            feeds[0].frames, feeds[1].frames = 8, 2
            counts.redis = away
            assert not await counts.flush()
            counts.redis = redis
            assert await counts.flush()
            assert await counts.flush()  # nothing grew: nothing added
            assert await redis.hgetall(keys.stats) == {
                b"feed.binance.received": b"8", b"feed.binance.malformed": b"1",
                b"feed.yahoo.received": b"2"}
            again = FeedCounts(redis, keys, [Counter("binance", frames=3)])  # a new run
            assert await again.flush()
            assert await redis.hget(keys.stats, "feed.binance.received") == b"11"
        finally:
            await redis.aclose()
            await away.aclose()

    asyncio.run(main())
