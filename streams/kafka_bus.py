"""The Kafka bus: market events published to one topic per namespace, keyed by instrument id
(so every event of an id lands on one partition, in order, with that id's table state).

`KafkaWriter` has the `StreamWriter`'s shape (`put`, `flush`, `pending`, `run`), so feeds and
replays write to it unchanged; a send the broker refuses is retried with backoff until it
lands. Redis stays the serving layer: the pipeline also writes every event there.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from crosscurrent.events import AnyEvent, FeedStatus, MarketEvent, Metric, Tick, encode
from streams.feed import Sink
from streams.redis_client import BusUnavailableError

log = logging.getLogger(__name__)


def topic_names(prefix: str, namespace: str) -> tuple[str, str]:
    """(events, changes): market events keyed by id, and the per-instrument stage's output."""
    return f"{prefix}.{namespace}.events", f"{prefix}.{namespace}.changes"


def bootstrap(broker: str) -> str:
    """aiokafka's bootstrap servers from Faust's broker URL (kafka://host:port;...)."""
    return ",".join(part.removeprefix("kafka://") for part in broker.split(";"))


def both(first: Sink, second: Sink) -> Sink:
    """A sink that puts each event into `first`, then `second`."""

    async def put(event: MarketEvent | FeedStatus) -> None:
        await first(event)
        await second(event)

    return put


class KafkaWriter:
    """Publishes ticks and metrics to `topic`, keyed by id; other events are not its job.
    An event without a receive time (a replay's) gets the time it was put, one nanosecond
    apart at least: the market stage orders events of one time by it, as they were put."""

    def __init__(self, broker: str, topic: str, *, buffer: int = 100_000) -> None:
        self.topic = topic
        self.broker = broker
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap(broker), acks="all", linger_ms=5,
            enable_idempotence=False, request_timeout_ms=10_000)
        self._queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue(buffer)
        self._sending = 0
        self._last_ns = 0
        self.retries = 0

    async def start(self) -> None:
        quiet = logging.getLogger("aiokafka")  # its own line for what we say in one
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            await self.producer.start()
        except KafkaError as exc:
            await self.producer.stop()
            raise BusUnavailableError(
                f"cannot reach Kafka at {self.broker} ({exc}); start it, or fix kafka.broker "
                "(CROSSCURRENT_KAFKA_BROKER), or run without --bus kafka") from None
        finally:
            quiet.setLevel(level)

    async def stop(self) -> None:
        await self.producer.stop()

    async def put(self, event: AnyEvent) -> None:
        if isinstance(event, Tick | Metric):
            if not event.recv_ns:
                self._last_ns = max(self._last_ns + 1, time.time_ns())
                event = event.model_copy(update={"recv_ns": self._last_ns})
            await self._queue.put((event.id.encode(), encode(event)))

    @property
    def pending(self) -> int:
        return self._queue.qsize() + self._sending

    async def flush(self) -> None:
        await self._queue.join()

    async def run(self, batch: int = 1000) -> None:
        """Send what is put, a batch at a time, each batch acknowledged before the next."""
        queue = self._queue
        while True:
            items = [await queue.get()]
            while len(items) < batch and not queue.empty():
                items.append(queue.get_nowait())
            self._sending = len(items)
            await self._send(items)
            self._sending = 0
            for _ in items:
                queue.task_done()

    async def _send(self, items: list[tuple[bytes, bytes]]) -> None:
        delay = 0.1
        while items:
            futures = [await self.producer.send(self.topic, value, key=key)
                       for key, value in items]
            failed, error = [], ""
            for item, future in zip(items, futures, strict=True):
                try:
                    await future
                except KafkaError as exc:
                    failed.append(item)
                    error = str(exc)
            items = failed  # resent in order, keys unchanged; a duplicate is harmless
            if failed:
                self.retries += 1
                log.warning("kafka: %d events not acknowledged (%s); resending in %.1fs",
                            len(failed), error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
