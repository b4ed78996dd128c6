from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from crosscurrent.config import AgentConfig
from crosscurrent.events import Metric, Tick, encode
from streams.bus import FIELD, StreamWriter
from streams.consumer import GroupConsumer
from streams.keys import Keys
from streams.redis_client import client, connect
from streams.redis_server import EmbeddedRedis


class Sizes(GroupConsumer[Tick | Metric]):
    """Notes the size of each batch it handles."""

    sizes: list[int]

    def handle(self, events: list[Tick | Metric]) -> None:
        self.sizes.append(len(events))


def batch_sizes(redis_url: str, pace_s: float, events: int = 300) -> list[int]:
    """The batches a consumer takes `events` in, written one by one about every millisecond."""
    keys = Keys("cctest", uuid.uuid4().hex[:12])

    async def main() -> list[int]:
        redis = await connect(redis_url)
        writer = StreamWriter(redis, keys)
        writing = asyncio.create_task(writer.run())
        consumer = Sizes("sizes", redis, keys, [keys.events("crypto")], AgentConfig())
        consumer.pace_s, consumer.sizes = pace_s, []
        running = asyncio.create_task(consumer.run())
        for i in range(events):
            await writer.put(Tick(id="crypto:BTC", ts=i + 1, price=100.0 + i))
            await asyncio.sleep(0.001)
        await writer.flush()
        while consumer.processed < events:
            await asyncio.sleep(0.01)
        consumer.stop()
        await asyncio.wait_for(running, 5)
        writing.cancel()
        await redis.aclose()
        return consumer.sizes

    return asyncio.run(main())


def test_a_paced_consumer_takes_a_trickle_in_fewer_bigger_batches(redis_url: str) -> None:
    """Off the alert path, a consumer waits `pace_s` after a short batch: 300 events over at
    least 0.3 s come in at most one batch per 50 ms, where an unpaced consumer takes them
    as they come."""
    paced = batch_sizes(redis_url, pace_s=0.05)
    unpaced = batch_sizes(redis_url, pace_s=0.0)
    assert sum(paced) == sum(unpaced) == 300
    assert len(paced) <= 20
    assert len(unpaced) > 2 * len(paced)


def test_a_consumer_starts_over_on_connections_a_redis_restart_left_good(tmp_path: Path
                                                                        ) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    keys = Keys("cctest", "restart")

    async def main() -> None:
        redis = client(server.url)
        writer = StreamWriter(redis, keys)
        consumer = Sizes("sizes", redis, keys, [keys.events("crypto")], AgentConfig())
        consumer.sizes = []
        writing = asyncio.create_task(writer.run())
        await consumer.start()
        await writer.put(Tick(id="crypto:BTC", ts=1, price=100.0))
        await writer.flush()
        assert await consumer.step() == 1  # its read and commit connections are now open
        await asyncio.sleep(1.2)  # appendfsync everysec: on disk before the kill
        server.kill()
        await asyncio.to_thread(server.start)  # both are stale now
        await writer.put(Tick(id="crypto:BTC", ts=2, price=101.0))
        await asyncio.wait_for(writer.flush(), 20)
        await consumer.start()  # as after any Redis error
        assert await consumer.step() == 1  # not a ConnectionError from a stale connection
        assert consumer.sizes == [1, 1]
        writing.cancel()
        await redis.aclose()

    try:
        asyncio.run(main())
    finally:
        server.stop()


class Order(GroupConsumer[Tick | Metric]):
    """Notes the events it handles, in the order it handles them."""

    seen: list[tuple[int, str, float]]

    def handle(self, events: list[Tick | Metric]) -> None:
        self.seen += [(e.ts, e.id, e.price if isinstance(e, Tick) else e.value) for e in events]


def caught_up_order(redis_url: str, events: list[Tick | Metric], pack: int) -> list[Any]:
    """What `catch_up` hands a consumer of `events`, written in that order, `pack` a entry."""
    keys = Keys("cctest", uuid.uuid4().hex[:12])

    async def main() -> list[Any]:
        redis = await connect(redis_url)
        streams = sorted({keys.stream_for(e) for e in events})
        consumer = Order("order", redis, keys, streams, AgentConfig(batch=2))
        consumer.seen = []
        await consumer.start()
        writer = StreamWriter(redis, keys, pack=pack, batch_size=3)
        writing = asyncio.create_task(writer.run())
        for event in events:
            await writer.put(event)
        await writer.flush()
        handled = await consumer.catch_up()
        writing.cancel()
        assert await consumer.lag() == 0 and handled > 0
        await redis.aclose()
        return consumer.seen

    return asyncio.run(main())


def test_catch_up_hands_over_what_was_written_in_one_stable_order(redis_url: str) -> None:
    """However the events of a tape time reached the bus (which source's connection was
    first, how the writer packed them, how many entries a read takes), a replay's consumer
    handles them in the same order: by event time, then by what they are."""
    events: list[Tick | Metric] = [
        Tick(id="crypto:BTC", ts=2, price=71000.0, source="binance"),
        Tick(id="hk:HSTECH", ts=2, price=5500.0, source="yahoo"),
        Metric(id="stable:USDT", ts=1, value=1.8e11, source="defillama"),
        Tick(id="crypto:ETH", ts=2, price=2200.0, source="binance"),
        Tick(id="crypto:BTC", ts=2, price=70990.0, source="binance"),
        Tick(id="hk:HSI", ts=1, price=25000.0, source="yahoo"),
    ]
    first = caught_up_order(redis_url, events, pack=1)
    again = caught_up_order(redis_url, events[::-1], pack=4)
    assert first == again
    assert [ts for ts, _, _ in first] == [1, 1, 2, 2, 2, 2]
    assert first[0][1] == "hk:HSI" and first[2][1] == "crypto:BTC"


class Seen(GroupConsumer[Tick | Metric]):
    """Notes the times of the events it handles, in the order it handles them; busy
    `busy_s` a batch, as detectors are (asleep: other threads run meanwhile)."""

    seen: list[int]
    busy_s = 0.0

    def handle(self, events: list[Tick | Metric]) -> None:
        self.seen += [e.ts for e in events]
        if self.busy_s:
            time.sleep(self.busy_s)


def trickled(redis_url: str, max_wait_ms: float, entries: int = 300) -> Seen:
    """A consumer busy 1 ms a batch, taking `entries` written one by one by another thread
    every 0.3 ms or so (faster than it takes them one at a time)."""
    keys = Keys("cctest", uuid.uuid4().hex[:12])
    stream = keys.events("crypto")

    def write() -> None:
        sync = redis.Redis.from_url(redis_url)
        for i in range(entries):
            sync.xadd(stream, {FIELD: encode(Tick(id="crypto:BTC", ts=i + 1, price=100.0))})
            time.sleep(0.0003)
        sync.close()

    async def main() -> Seen:
        bus = await connect(redis_url)
        consumer = Seen("trickle", bus, keys, [stream],
                        AgentConfig(max_wait_ms=max_wait_ms))
        consumer.seen, consumer.busy_s = [], 0.001
        await consumer.start()
        running = asyncio.create_task(consumer.run())
        writing = asyncio.create_task(asyncio.to_thread(write))
        while consumer.processed < entries:
            await asyncio.sleep(0.01)
        await writing
        consumer.stop()
        await asyncio.wait_for(running, 5)
        assert await consumer.lag() == 0
        await bus.delete(stream, keys.stats)
        await bus.aclose()
        return consumer

    return asyncio.run(main())


def test_entries_that_keep_coming_are_taken_several_a_round_trip(redis_url: str) -> None:
    """Adaptive batching: while each commit's read brings more entries, a batch waits up to
    `max_wait_ms` before its commit, whose read takes what came meanwhile: a trickle of 300
    entries goes through in far fewer commits than without waiting, each entry once, in
    order."""
    waiting = trickled(redis_url, max_wait_ms=20)
    eager = trickled(redis_url, max_wait_ms=0)
    for consumer in (waiting, eager):
        assert consumer.seen == list(range(1, 301))
        assert consumer.entries == 300
    assert waiting.waits > 0 and eager.waits == 0
    assert waiting.batches < 300 / 5  # a round trip takes some sixty entries once it waits
    assert eager.batches > 2 * waiting.batches


def test_a_lone_entry_is_committed_without_waiting(redis_url: str) -> None:
    """Nothing came while the last batches were handled: an entry is handled and committed
    at once, and so is a burst one read takes whole; entries that keep coming with each
    commit's read are waited for."""
    keys = Keys("cctest", uuid.uuid4().hex[:12])
    stream = keys.events("crypto")

    async def main() -> None:
        redis = await connect(redis_url)

        async def write(*stamps: int) -> None:
            for ts in stamps:
                await redis.xadd(stream, {FIELD: encode(Tick(id="crypto:BTC", ts=ts,
                                                             price=100.0))})

        consumer = Seen("lone", redis, keys, [stream], AgentConfig(batch=2, max_wait_ms=1000))
        consumer.seen = []
        await consumer.start()
        await write(1)
        assert await consumer.step() == 1
        assert (consumer.batches, consumer.waits, consumer.processed) == (1, 0, 1)
        assert await consumer.lag() == 0  # committed, acknowledged
        await write(2, 3)
        assert await consumer.step() == 2  # a burst taken whole: no wait
        assert consumer.waits == 0
        await write(4, 5, 6, 7, 8)  # each commit's read brings more: 4 5, then 6 7, then 8
        assert [await consumer.step() for _ in range(3)] == [2, 2, 1]
        assert consumer.waits == 1  # the last, short of a batch, after two reads that brought
        assert consumer.seen == [1, 2, 3, 4, 5, 6, 7, 8]
        assert await consumer.lag() == 0
        await redis.delete(stream, keys.stats)
        await redis.aclose()

    asyncio.run(main())


def test_a_consumer_that_never_waits_commits_each_entry_as_it_comes(redis_url: str) -> None:
    """`max_wait_ms: 0`: no batch waits, whatever comes."""
    keys = Keys("cctest", uuid.uuid4().hex[:12])
    stream = keys.events("crypto")

    async def main() -> None:
        redis = await connect(redis_url)
        consumer = Seen("eager", redis, keys, [stream], AgentConfig(max_wait_ms=0))
        consumer.seen = []
        await consumer.start()
        for ts in (1, 2, 3):
            await redis.xadd(stream, {FIELD: encode(Tick(id="crypto:BTC", ts=ts, price=100.0))})
            assert await consumer.step() == 1
        assert (consumer.batches, consumer.waits, consumer.seen) == (3, 0, [1, 2, 3])
        await redis.delete(stream, keys.stats)
        await redis.aclose()

    asyncio.run(main())
