"""Feeds' counters in Redis: growth added once, a failed flush carried to the next."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from streams.feed_counts import FeedCounts, count_replayed, read_counts
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


def test_a_replay_settles_its_counters_on_the_frames_it_counted_once(redis_url: str,
                                                                     keys: Keys) -> None:
    """A replay's counters are flushed as its tape plays (what `feeds` and `audit` show
    meanwhile), then settled on the frames read once every frame sent was read: each
    figure counted once, what was flushed past it taken back, nothing flushed after."""
    async def main() -> None:
        redis = client(redis_url)
        feeds = [Counter("binance", frames=5), Counter("binance-usdm", frames=3),
                 Counter("binance-usdm", frames=4, malformed=1)]  # its /market and /public
        counts = FeedCounts(redis, keys, feeds)
        try:
            assert await counts.flush()
            assert await read_counts(redis, keys) == {"binance": (5, 0), "binance-usdm": (7, 1)}
            feeds[0].frames = 9  # a poller asking on after the replay's count: flushed past it
            assert await counts.flush()
            feeds[1].frames = 5  # read, not flushed yet
            await count_replayed(redis, keys, {"binance": (8, 8, 0),
                                               "binance-usdm": (10, 10, 1)}, counts)
            feeds[0].frames = feeds[1].frames = 20
            assert await counts.flush()  # settled: nothing more
            await asyncio.wait_for(counts.run(interval_s=0.01), 1)  # returns: settled
            assert await read_counts(redis, keys) == {"binance": (8, 0),
                                                      "binance-usdm": (10, 1)}
            stats = await redis.hgetall(keys.stats)
            assert stats[b"feed.binance.sent"] == b"8" and stats[b"feed.binance-usdm.sent"] == b"10"
        finally:
            await redis.aclose()

    asyncio.run(main())


def test_counts_are_read_per_source_and_nothing_else(redis_url: str, keys: Keys) -> None:
    async def main() -> dict[str, tuple[int, int]]:
        redis = client(redis_url)
        await redis.hset(keys.stats, mapping={
            "feed.yahoo.received": 7, "feed.yahoo.sent": 7, "feed.yahoo.rejected": 2,
            "feed.yahoo.rejected.malformed": 2, "feed.ccxt:okx.malformed": 1,
            "bus.cc:x:events:crypto.added": 5, "agent.detectors.malformed": 3})
        found = await read_counts(redis, keys)
        await redis.aclose()
        return found

    assert asyncio.run(main()) == {"yahoo": (7, 0), "ccxt:okx": (0, 1)}
