from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from crosscurrent.config import AgentConfig
from crosscurrent.events import Metric, Tick
from streams.bus import StreamWriter
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
