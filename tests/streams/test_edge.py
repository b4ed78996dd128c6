"""The edge in front of the bus: rejected events never reach Redis, each kind is logged once
per source, every one is counted in the stats hash."""

from __future__ import annotations

import asyncio
import logging
import math

import pytest

from crosscurrent.config import FeedsConfig
from crosscurrent.events import (
    AnyEvent,
    FeedState,
    FeedStatus,
    MarketEvent,
    Metric,
    Quote,
)
from streams.bus import StreamWriter
from streams.edge import GatedSink, rejected_summary
from streams.keys import Keys
from streams.redis_client import client
from tests.conftest import stream_events
from tests.streams.test_gate import MINUTE, NOW, tick


def test_only_accepted_events_reach_the_bus_and_rejections_are_counted_in_redis(
        redis_url: str, keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    sent: list[MarketEvent | FeedStatus] = [
        tick(NOW),
        tick(253_402_214_400_000),  # 9999-12-31: out of window
        tick(NOW - 5 * MINUTE),  # back 5 min: within the tolerance
        tick(NOW - 11 * MINUTE),  # back 11 min: late
        tick(NOW - 12 * MINUTE),  # late again: counted, not logged
        tick(NOW + MINUTE, price=math.nan),
        Quote(id="crypto:BTC", ts=NOW, bid=-1, bid_size=1, ask=2, ask_size=1, source="binance"),
        Metric(id="funding:BTC", ts=NOW, value=-0.0004, source="binance-usdm"),
        FeedStatus(source="yahoo", ts=0, state=FeedState.CONNECTED),
        tick(NOW + 2 * MINUTE),
    ]

    async def main() -> tuple[list[AnyEvent], dict[bytes, bytes], GatedSink]:
        redis = client(redis_url)
        writer = StreamWriter(redis, keys)
        task = asyncio.create_task(writer.run())
        edge = GatedSink(writer.put, FeedsConfig(), clock=lambda: NOW)
        try:
            with caplog.at_level(logging.WARNING, logger="streams.edge"):
                for event in sent:
                    await edge(event)
            await writer.flush()
            assert await edge.flush(redis, keys)
            assert await edge.flush(redis, keys)  # nothing new: nothing added twice
            landed = [*await stream_events(redis, keys.events("hk")),
                      *await stream_events(redis, keys.quotes("crypto")),
                      *await stream_events(redis, keys.events("funding")),
                      *await stream_events(redis, keys.status)]
            stats: dict[bytes, bytes] = await redis.hgetall(keys.stats)  # type: ignore[assignment]
        finally:
            task.cancel()
            await redis.aclose()
        return landed, stats, edge

    landed, stats, edge = asyncio.run(main())
    assert landed == [sent[0], sent[2], sent[9], sent[7], sent[8]]
    assert {k: int(v) for k, v in stats.items() if k.startswith(b"feed.")} == {
        b"feed.yahoo.rejected": 4, b"feed.yahoo.rejected.time_out_of_window": 1,
        b"feed.yahoo.rejected.late": 2, b"feed.yahoo.rejected.non-finite_price": 1,
        b"feed.binance.rejected": 1, b"feed.binance.rejected.non-positive_price": 1}
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "yahoo: hk:HSTECH at 9999-12-31T00:00Z rejected: time out of window (now "
        "2026-04-08T02:36Z, accepted -7 d … +1 h); further such events are counted, not logged",
        "yahoo: hk:HSTECH at 2026-04-08T02:25Z rejected: late (11 min before the latest ticker "
        "tick of the id, tolerance 10 min); further such events are counted, not logged",
        "yahoo: hk:HSTECH at 2026-04-08T02:37Z rejected: non-finite price (price nan, previous "
        "close 5610.0); further such events are counted, not logged",
        "binance: crypto:BTC at 2026-04-08T02:36Z rejected: non-positive price (bid -1.0, "
        "ask 2.0); further such events are counted, not logged",
    ]
    assert edge.summary() == ("5 events rejected at the edge (binance: 1 non-positive price; "
                              "yahoo: 2 late, 1 non-finite price, 1 time out of window)")


def test_the_window_follows_the_clock_it_is_given() -> None:
    now = [NOW]
    passed: list[object] = []

    async def into(event: object) -> None:
        passed.append(event)

    async def main() -> GatedSink:
        edge = GatedSink(into, FeedsConfig(max_past_s=60, max_future_s=60),
                         clock=lambda: now[0])
        await edge(tick(NOW + 10 * MINUTE))  # ten minutes ahead of the clock: rejected
        now[0] = NOW + 10 * MINUTE  # the tape moved on
        await edge(tick(NOW + 10 * MINUTE))
        return edge

    edge = asyncio.run(main())
    assert passed == [tick(NOW + 10 * MINUTE)]
    assert edge.rejected == {("yahoo", "time out of window"): 1}


def test_summary_is_empty_when_nothing_was_rejected() -> None:
    assert rejected_summary({}) == ""
    assert rejected_summary({("yahoo", "late"): 1}) == (
        "1 event rejected at the edge (yahoo: 1 late)")
