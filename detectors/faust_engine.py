"""The detectors as Faust agents on Kafka: the scale-out engine (`worker --engine faust`).

  events topic   (keyed by instrument id)  ->  agent `instruments`: the per-instrument
                 detectors, state in the `instruments` table under the id
  changes topic  (one key, "market")        ->  agent `market`: the cross-market detectors
                 and the synthesis, state in the `market` table

The detector code is the embedded engine's (`detectors/stages.py` splits it). Alerts are
written back to Redis's alerts stream, each transition once (`streams/alert_writer.py`), so
the alert lifecycle, notifications, dashboard and report work unchanged.

Faust is at-least-once: after a worker dies, its partitions resume from the last committed
offset, with the table state of the changelog. Events seen again raise no alert twice: the
latches hold in the restored state, a change already taken is skipped by its offset, and an
alert written before is not written again.

The feeds key every event by instrument id, the table's key, so the events topic is already
partitioned as the table is: a `group_by` would only add a repartition topic.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from pydantic import ValidationError
from redis.exceptions import RedisError

from crosscurrent.config import Config
from crosscurrent.events import Alert, Metric, Tick, decode
from detectors.base import Detector
from detectors.faust_fixes import wait_fetches
from detectors.stages import Change, Instruments, Market, split
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
Forward = Callable[[bytes], Awaitable[Any]]


@dataclass
class Engine:
    """A Faust app with the two agents, and what they share in this process."""

    app: faust.App
    instruments: faust.types.AgentT[Any]
    market: faust.types.AgentT[Any]
    counts: Counter[str] = field(default_factory=Counter)


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
        broker_commit_interval=1.0, consumer_auto_offset_reset="earliest",
        key_serializer="raw", value_serializer="raw", web_enabled=False,
        consumer_group_instance_id=instance_id,
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

    def event_of(value: bytes) -> Tick | Metric | None:
        """The market event of an events-topic message; None (counted, logged) if not one."""
        try:
            event = decode(value)
        except (ValidationError, ValueError) as exc:
            reason = str(exc).splitlines()[0]
        else:
            if isinstance(event, Tick | Metric):
                return event
            reason = f"not a market event: {event.kind}"
        counts["instruments.malformed"] += 1
        log.warning("instruments: malformed message #%d skipped: %s",
                    counts["instruments.malformed"], reason)
        return None

    @app.agent(events, name="instruments")
    async def instruments(stream: faust.StreamT[bytes]) -> None:
        writer, history = redis_parts()
        live = Instruments(lambda: split(make_detectors())[0], market_ids, history,
                           config.history.window)
        reported: dict[int, float] = {}  # partition -> when its progress was last sent
        async for record in stream.events():
            counts["instruments.consumed"] += 1
            event = event_of(record.value)
            if event is None:
                continue
            key = event.id.encode()
            instrument = live.get(event.id, instrument_table.get(key))
            await instrument.baselines.load([event])
            instrument.baselines.give(event)
            alerts, forwarded = instrument.on_event(event)
            await writer.write(alerts)  # before the state moves on: redone if we die here
            partition, offset = record.message.partition, record.message.offset
            if forwarded:
                await send(Change.of(event, alerts, partition, offset).to_bytes())
                counts["instruments.forwarded"] += 1
                reported[partition] = time.monotonic()
            elif time.monotonic() - reported.get(partition, 0.0) >= PROGRESS_S:
                await send(Change(None, (), partition, offset, event.ts,
                                  event.recv_ns).to_bytes())
                reported[partition] = time.monotonic()
            instrument_table[key] = live.saved(event.id, instrument)

    @app.agent(changes, name="market")
    async def market(stream: faust.StreamT[bytes]) -> None:
        writer, history = redis_parts()
        state: dict[str, Any] = {"market": None, "saved": None}
        async for record in stream.events():
            counts["market.consumed"] += 1
            change = None
            if record.value != TICK:
                try:
                    change = Change.from_bytes(record.value)
                except (ValidationError, ValueError, KeyError, TypeError) as exc:
                    counts["market.malformed"] += 1
                    log.warning("market: malformed change skipped: %s",
                                str(exc).splitlines()[0])
                    continue
            saved = market_table.get(MARKET)
            if state["market"] is None or state["saved"] is not saved:
                state["market"] = Market(split(make_detectors())[1], history,
                                         config.history.window, idle_ms, kafka.partitions)
                if saved is not None:
                    state["market"].restore(saved)
            stage: Market = state["market"]
            now = time.time_ns() // 1_000_000
            if change is None:
                alerts: list[Alert] | None = stage.release(now)
            else:
                if change.event is not None:
                    await stage.baselines.load([change.event])
                alerts = stage.take(change, now)
            if alerts is None:
                counts["market.repeated"] += 1
                continue
            await writer.write(alerts)
            state["saved"] = market_table[MARKET] = stage.snapshot()

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
        """This worker's counters, added to the namespace's stats (for `audit`)."""
        if not counts:
            return
        redis_parts()
        grown = dict(counts)
        tx = shared["redis"].pipeline(transaction=True)
        for name, n in grown.items():
            stage, what = name.split(".")
            tx.hincrby(keys.stats, f"agent.faust-{stage}.{what}", n)
            tx.hincrby(keys.workers, f"{WORKER}.{name}", n)
        try:
            await tx.execute()
        except (RedisError, OSError) as exc:
            log.warning("counters not written (%s); carried to the next second", exc)
            return
        counts.subtract(grown)
        for name in [n for n, v in counts.items() if not v]:
            del counts[name]

    return Engine(app, instruments, market, counts)

