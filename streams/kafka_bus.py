"""The Kafka bus: market events published to one topic per namespace, partitioned by
instrument id as Kafka's default partitioner does with the id as key (so every event of an
id lands on one partition, in order, with that id's table state). A message holds the events
of one partition put since the last was sent (`pack`, the Redis bus's form of several events
in an entry): a backlog goes as hundreds of events a message, which the Faust engine takes
for the cost of one, and live events go as they come, one or a few a message.

(By family, the other way to keep an id on one partition, murmur2 puts the nine families of
the scale bench's 37 ids on three of four partitions, with 3, 9 and 25 of them: one worker of
two would take most of the work, and the market stage would wait `kafka.idle_s` for the
empty partition at every start. By id they spread 9, 13, 6 and 9.)

`KafkaWriter` has the `StreamWriter`'s shape (`put`, `flush`, `pending`, `run`), so feeds and
replays write to it unchanged; a send the broker refuses is retried with backoff until it
lands. Redis stays the serving layer: the pipeline also writes every event there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from crosscurrent.events import AnyEvent, FeedStatus, MarketEvent, Metric, Tick, encode, pack
from streams.feed import Sink
from streams.redis_client import BusUnavailableError

log = logging.getLogger(__name__)


PACK = 1000  # events a message holds at most (some 150 KB of ticks; Kafka's limit is 1 MB)


def topic_names(prefix: str, namespace: str) -> tuple[str, str]:
    """(events, changes): market events keyed by id, and the per-instrument stage's output."""
    return f"{prefix}.{namespace}.events", f"{prefix}.{namespace}.changes"


def partition_of(key: bytes, partitions: int) -> int:
    """The partition of a message keyed `key`, as Kafka's default partitioner puts it."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


def packed(items: list[tuple[bytes, bytes]], partition: Callable[[bytes], int]
           ) -> list[tuple[int, bytes]]:
    """(id, encoded event) pairs as messages: the events of each partition in one (`pack`),
    in the order they were put."""
    by_partition: dict[int, list[bytes]] = {}
    for key, value in items:
        by_partition.setdefault(partition(key), []).append(value)
    return [(p, pack(values)) for p, values in sorted(by_partition.items())]


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
    """Publishes ticks and metrics to `topic`, on the partition of their id, up to `PACK` a
    message (`packed`); other events are not its job.
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
        self._partitions: dict[bytes, int] = {}  # id -> its partition
        self._count = 0  # the topic's partitions, once known
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

    def partition(self, key: bytes) -> int:
        found = self._partitions.get(key)
        if found is None:
            found = self._partitions[key] = partition_of(key, self._count)
        return found

    async def run(self, batch: int = PACK) -> None:
        """Send what is put, a batch at a time (a message per partition), each batch
        acknowledged before the next."""
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
        messages: list[tuple[int, bytes]] | None = None
        while True:
            try:
                if not self._count:  # the topic's metadata, with its partitions
                    self._count = len(await self.producer.partitions_for(self.topic) or ())
                    if not self._count:
                        raise KafkaError(f"no partitions of {self.topic} known yet")
                if messages is None:
                    messages = packed(items, self.partition)
                messages, error = await self._deliver(messages)
            except KafkaError as exc:
                error = str(exc)
            else:
                if not messages:
                    return
            self.retries += 1
            log.warning("kafka: %s not acknowledged (%s); resending in %.1fs",
                        f"{len(items)} events" if messages is None else
                        f"{len(messages)} messages", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _deliver(self, messages: list[tuple[int, bytes]]
                       ) -> tuple[list[tuple[int, bytes]], str]:
        """Send each message to its partition: those not acknowledged, in order (a
        duplicate is harmless), and why."""
        futures = [await self.producer.send(self.topic, value, partition=partition)
                   for partition, value in messages]
        failed, error = [], ""
        for message, future in zip(messages, futures, strict=True):
            try:
                await future
            except KafkaError as exc:
                failed.append(message)
                error = str(exc)
        return failed, error
