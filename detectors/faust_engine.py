"""The detectors as Faust agents on Kafka: the scale-out engine (`worker --engine faust`).

  events topic   (partitioned by id)    ->  agent `instruments`: the per-instrument
                 detectors, state in the `instruments` table under each id
  changes topic  (one key, "market")    ->  agent `market`: the cross-market detectors
                 and the synthesis, state in the `market` table (and the changes it
                 holds, in chunks of their own: `Market.save`)

The detector code is the embedded engine's (`detectors/stages.py` splits it). Alerts are
written back to Redis's alerts stream, each transition once (`streams/alert_writer.py`), so
the alert lifecycle, notifications, dashboard and report work unchanged.

Both agents take a batch at a time (`stream.take_events`), and a message of the events topic
holds several events (`streams/kafka_bus.py`): Faust's own cost, some 100 µs a message, is
paid for hundreds of events. Each partition's batch is decoded as the embedded engine
decodes an entry, runs through the same detector code, writes its alerts, sends its changes
as one message, and then writes the table: each id it moved once, to the changelog partition
of the events partition it came from.

Faust is at-least-once: after a worker dies, its partitions resume from the last committed
offset (committed only once what the batches before it sent, changes and changelog, is
flushed), with the table state of the changelog. Events seen again raise no alert twice: the
latches hold in the restored state, a change already taken is skipped by its position
(partition, offset, index in the message), and an alert written before is not written again.

The feeds put every event on its id's partition (`streams/kafka_bus.py`), so an id's events
come in order on one partition, the one whose changelog partition holds the id's table
state: a `group_by` would only add a repartition topic.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import faust
from faust.types import EventT
from pydantic import ValidationError
from redis.exceptions import RedisError

from crosscurrent.catalog import default_catalog, exchange_schedule
from crosscurrent.config import Config
from crosscurrent.events import Alert, Metric, Tick, decode_entry
from crosscurrent.heap import freeze_startup
from detectors.base import Detector
from detectors.faust_fixes import wait_fetches
from detectors.stages import Changes, Instruments, Market, pack_changes, run_batch, split
from streams.alert_writer import AlertWriter
from streams.history import HistoryStore
from streams.kafka_bus import topic_names
from streams.keys import Keys
from streams.redis_client import client

log = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"  # this process, in the workers hash
MARKET = b"market"  # the one key of the changes topic, and of the market table
TICK = b"tick"  # a changes-topic message that only says the time passes
TICK_S = 0.5
PROGRESS_S = 0.05  # how often a partition's progress is sent when it forwards nothing
TAKE = 64  # messages an agent takes at most in a batch
# What a fetch brings of each partition at most (Faust's own: 1 MB, some 7,000 events): less
# keeps a worker's partitions near one another in event time, and so the changes the market
# stage holds for the slowest few.
FETCH_BYTES = 128 * 1024
TAKE_S = 0.01  # how long it waits for more once it has one
Forward = Callable[[bytes], Awaitable[Any]]


def batches(stream: faust.StreamT[bytes]) -> AsyncIterator[Sequence[EventT[bytes]]]:
    """The stream's events, `TAKE` messages at most a batch, each acknowledged once the
    next batch is asked for (Faust's `take_events`, which its `StreamT` does not name)."""
    taken: AsyncIterator[Sequence[EventT[bytes]]] = cast(faust.Stream[bytes], stream) \
        .take_events(TAKE, within=TAKE_S)
    return taken


def warm_up() -> None:
    """What the detectors would otherwise build on the first events, built now: the
    exchanges' calendars (importing exchange_calendars and pandas's holidays: a third of the
    market stage's profile over a 50,000-event backlog). Then the worker's heap, built, is
    kept out of every full collection, as the embedded pipeline's is (`freeze_startup`): with
    Faust's and aiokafka's objects in every walk, one worker took 1.41 CPU seconds for a
    backlog it took in 0.80-0.97 without."""
    if shared_heap["frozen"]:
        return
    for code in sorted({i.calendar.exchange for i in default_catalog() if i.calendar.exchange}):
        exchange_schedule(code)
    freeze_startup()
    shared_heap["frozen"] = True


shared_heap = {"frozen": False}


@dataclass
class Engine:
    """A Faust app with the two agents, and what they share in this process."""

    app: faust.App
    instruments: faust.types.AgentT[Any]
    market: faust.types.AgentT[Any]
    counts: Counter[str] = field(default_factory=Counter)
    # stage -> (wall time, this process's CPU seconds) when it last finished a batch
    progress: dict[str, tuple[float, float]] = field(default_factory=dict)


def create_engine(config: Config, redis_url: str, namespace: str,
                  make_detectors: Callable[[], list[Detector]],
                  forward: Forward | None = None, instance_id: str | None = None) -> Engine:
    """The engine for `namespace`. `forward`: where the per-instrument stage's changes go
    (default: the changes topic; Faust's test_context gives its own). `instance_id`: the
    worker's static group membership (KIP-345), kept across its restarts."""
    kafka = config.kafka
    keys = Keys(config.redis.prefix, namespace)
    events_topic, changes_topic = topic_names(config.redis.prefix, namespace)
    app = faust.App(
        f"{config.redis.prefix}-{namespace}-detectors", broker=kafka.broker,
        store="memory://", topic_partitions=kafka.partitions,
        topic_allow_declare=kafka.declare, broker_session_timeout=kafka.session_timeout_s,
        broker_heartbeat_interval=min(3.0, kafka.session_timeout_s / 3),
        broker_commit_interval=kafka.commit_interval_s, consumer_auto_offset_reset="earliest",
        key_serializer="raw", value_serializer="raw", web_enabled=False,
        consumer_group_instance_id=instance_id, consumer_max_fetch_size=FETCH_BYTES,
        datadir=Path(tempfile.gettempdir()) / "crosscurrent-faust",  # not the working directory
    )
    wait_fetches(app, int(kafka.fetch_wait_s * 1000))
    events = app.topic(events_topic, key_type=bytes, value_type=bytes,
                       partitions=kafka.partitions)
    changes = app.topic(changes_topic, key_type=bytes, value_type=bytes,
                        partitions=kafka.partitions)
    instrument_table = app.Table("instruments", default=None, partitions=kafka.partitions,
                                 key_type=bytes, value_type=bytes)
    market_table = app.Table("market", default=None, partitions=kafka.partitions,
                             key_type=bytes, value_type=bytes)
    counts: Counter[str] = Counter()
    progress: dict[str, tuple[float, float]] = {}
    shared: dict[str, Any] = {}

    def redis_parts() -> tuple[AlertWriter, HistoryStore]:
        """Made on first use, inside the worker's event loop."""
        if "redis" not in shared:
            redis = shared["redis"] = client(redis_url)
            shared["alerts"] = AlertWriter(redis, keys, "faust")
            shared["history"] = HistoryStore(redis, keys, config.history.sessions,
                         config.history.volatility_window)
        return shared["alerts"], shared["history"]

    _, cross = split(make_detectors())
    idle_ms = int(kafka.idle_s * 1000)
    market_ids = frozenset(d for detector in cross for d in detector.ids())

    async def send_change(data: bytes) -> None:
        await changes.send(key=MARKET, value=data)

    send = forward or send_change

    def events_of(value: bytes) -> list[Tick | Metric]:
        """The market events of an events-topic message (one, or several `pack`ed), each
        counted; what is not one is counted and logged too."""
        events, problems = decode_entry(value)
        counts["instruments.consumed"] += len(events) + len(problems)
        found: list[Tick | Metric] = []
        for event in events:
            if isinstance(event, Tick | Metric):
                found.append(event)
            else:
                problems.append(f"not a market event: {event.kind}")
        for reason in problems:
            counts["instruments.malformed"] += 1
            log.warning("instruments: malformed message #%d skipped: %s",
                        counts["instruments.malformed"], reason.splitlines()[0])
        return found

    def put(table: Any, partition: int, key: bytes, value: bytes) -> None:
        """`table[key] = value`, its changelog record on `partition` (that of the batch's
        events: Faust's own would be the stream's current event's, of any partition)."""
        table.send_changelog(partition, key, value)
        table.data[key] = value

    def remove(table: Any, partition: int, key: bytes) -> None:
        """`del table[key]` (if there), its changelog record on `partition`."""
        table.send_changelog(partition, key, None, value_serializer="raw")
        table.data.pop(key, None)

    @app.agent(events, name="instruments")
    async def instruments(stream: faust.StreamT[bytes]) -> None:
        warm_up()
        writer, history = redis_parts()
        live = Instruments(lambda: split(make_detectors())[0], market_ids, history,
                           config.history.window)
        reported: dict[int, float] = {}  # partition -> when its progress was last sent
        load = instrument_table.get

        def saved(ident: str) -> bytes | None:
            return load(ident.encode())

        async for batch in batches(stream):
            parts: dict[int, list[tuple[int, int, Tick | Metric]]] = {}
            for record in batch:
                message = record.message
                entries = parts.setdefault(message.partition, [])
                offset = message.offset
                found = events_of(record.value)
                entries += [(offset, index, event) for index, event in enumerate(found)]
            for partition, entries in parts.items():
                mine = live.of((event for _, _, event in entries), saved)
                for instrument, its in mine.values():
                    await instrument.baselines.load(its)
                alerts, changes, mark = run_batch(entries, mine)
                await writer.write(alerts)  # before the state moves on: redone if we die here
                now = time.monotonic()
                if changes or (mark and now - reported.get(partition, 0.0) >= PROGRESS_S):
                    for data in pack_changes(partition, mark, changes):
                        await send(data)
                    counts["instruments.forwarded"] += len(changes)
                    reported[partition] = now
                for ident, (instrument, _) in mine.items():
                    put(instrument_table, partition, ident.encode(), live.saved(ident, instrument))
            progress["instruments"] = time.time(), time.process_time()

    @app.agent(changes, name="market")
    async def market(stream: faust.StreamT[bytes]) -> None:
        warm_up()
        writer, history = redis_parts()
        state: dict[str, Any] = {"market": None, "saved": None}
        async for batch in batches(stream):
            saved = market_table.get(MARKET)
            if state["market"] is None or state["saved"] is not saved:
                state["market"] = Market(split(make_detectors())[1], history,
                                         config.history.window, idle_ms, kafka.partitions)
                if saved is not None:
                    state["market"].restore(saved, market_table.get)
            stage: Market = state["market"]
            alerts: list[Alert] = []
            moved = None  # the partition of the last message that moved the stage
            for record in batch:
                counts["market.consumed"] += 1
                now = time.time_ns() // 1_000_000
                if record.value == TICK:
                    held = len(stage.held)
                    alerts += stage.release(now)
                    if len(stage.held) != held:  # it released some: the state moved
                        moved = record.message.partition
                    continue
                try:
                    message = Changes.from_bytes(record.value)
                except (ValidationError, ValueError, KeyError, TypeError) as exc:
                    counts["market.malformed"] += 1
                    log.warning("market: malformed change skipped: %s",
                                str(exc).splitlines()[0])
                    continue
                await stage.baselines.load(message.events())
                released, repeated = stage.take_all(message, now)
                alerts += released
                counts["market.taken"] += len(message.changes) - repeated
                if repeated:
                    counts["market.repeated"] += repeated
                moved = record.message.partition
            await writer.write(alerts)
            if moved is not None:
                writes, data, drop = stage.save()
                for key, value in writes:
                    put(market_table, moved, key, value)
                put(market_table, moved, MARKET, data)
                for key in drop:
                    remove(market_table, moved, key)
                state["saved"] = data
            progress["market"] = time.time(), time.process_time()

    async def record_partitions(mine: list[int]) -> None:
        """Which events partitions this worker holds now, in the workers hash."""
        redis_parts()
        try:
            await shared["redis"].hset(keys.workers, f"{WORKER}.partitions",
                                       ",".join(map(str, mine)))
        except (RedisError, OSError) as exc:
            log.warning("could not record this worker's partitions (%s)", exc)

    @app.on_partitions_revoked.connect
    async def revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await record_partitions([])  # none until the group's next assignment

    @app.on_partitions_assigned.connect
    async def assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        tps = args[0] if args else kwargs.get("assigned", ())
        await record_partitions(sorted(tp.partition for tp in tps if tp.topic == events_topic))

    if forward is None:
        @app.timer(TICK_S)  # type: ignore[untyped-decorator]
        async def tick() -> None:
            """Lets the market stage release what idle partitions would hold back."""
            await changes.send(key=MARKET, value=TICK)

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def flush_counts() -> None:
        """This worker's counters, added to the namespace's stats (for `audit`), and when
        each stage last finished a batch, with the CPU time this process had used by then
        (for the scale bench)."""
        if not counts:
            return
        redis_parts()
        grown = dict(counts)
        tx = shared["redis"].pipeline(transaction=True)
        for name, n in grown.items():
            stage, what = name.split(".")
            tx.hincrby(keys.stats, f"agent.faust-{stage}.{what}", n)
            tx.hincrby(keys.workers, f"{WORKER}.{name}", n)
        for stage, (wall, cpu) in progress.items():
            tx.hset(keys.workers, f"{WORKER}.{stage}.last", f"{wall:.6f} {cpu:.6f}")
        try:
            await tx.execute()
        except (RedisError, OSError) as exc:
            log.warning("counters not written (%s); carried to the next second", exc)
            return
        counts.subtract(grown)
        for name in [n for n, v in counts.items() if not v]:
            del counts[name]

    return Engine(app, instruments, market, counts, progress)

