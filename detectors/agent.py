"""The agent runtime: consumer group in, detectors in the middle, alerts and a snapshot out.

Each batch commits in one MULTI/EXEC transaction: the alerts it raised (XADD), the
detectors' snapshot and progress (HSET), the acknowledgements (XACK) and the counters. A
crash before EXEC leaves the entries pending and the snapshot as it was, so the restarted
agent re-reads exactly those entries from the same state: no event skipped, no alert twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import ValidationError
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from crosscurrent.catalog import family
from crosscurrent.config import AgentConfig
from crosscurrent.events import Alert, Metric, Tick, decode, encode
from detectors.base import Detector
from streams.bus import FIELD, Entry, GroupReader
from streams.keys import Keys

log = logging.getLogger(__name__)

ALERTS_MAXLEN = 100_000


class Agent:
    def __init__(
        self,
        name: str,
        detectors: Sequence[Detector],
        redis: aioredis.Redis,
        keys: Keys,
        config: AgentConfig,
        consumer: str | None = None,
    ) -> None:
        self.name = name
        self.detectors = list(detectors)
        self.redis = redis
        self.keys = keys
        self._routes: dict[str, list[Detector]] = {}
        for detector in self.detectors:
            for ident in detector.ids():
                self._routes.setdefault(ident, []).append(detector)
        streams = sorted({keys.events(family(i)) for i in self._routes})
        self.reader = GroupReader(
            redis, streams, group=name, consumer=consumer or f"{name}@{socket.gethostname()}",
            batch=config.batch, block_ms=config.block_ms, claim_idle_ms=config.claim_idle_ms,
        )
        self.processed = 0
        self.malformed = 0
        self._malformed_counted = 0
        self.alerts = 0
        self.resumes = 0

    async def start(self) -> None:
        """Create the groups and restore the last committed snapshot."""
        self.reader.reset()
        await self.reader.ensure_groups()
        saved = await self.redis.hgetall(self.keys.state(self.name))
        if saved:
            states = orjson.loads(saved[b"detectors"])
            for detector in self.detectors:
                detector.restore(states.get(detector.name, {}))
            self.processed = int(saved.get(b"processed", 0))
            log.info("agent %s resumed after %d events", self.name, self.processed)

    async def run(self, max_backoff_s: float = 5.0) -> None:
        """Process until cancelled. On a Redis error, resume from the last committed snapshot
        as a restarted agent would: in-memory state may be ahead of what was committed."""
        delay = 0.1
        while True:
            try:
                await self.start()
                while True:
                    await self.step()
                    delay = 0.1
            except (RedisError, OSError) as exc:
                self.resumes += 1
                log.warning("agent %s: Redis error (%s); resuming from the last snapshot in "
                            "%.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_backoff_s)

    async def step(self) -> int:
        """Read, process and commit one batch; returns the number of entries handled."""
        entries = await self.reader.read()
        if entries:
            await self._commit(entries, self.process(entries))
        return len(entries)

    def process(self, entries: list[Entry]) -> list[Alert]:
        events: list[Tick | Metric] = []
        for entry in entries:
            if not entry.payload:
                self.malformed += 1
                log.warning("agent %s: entry %s of %s was trimmed before it was read",
                            self.name, entry.id.decode(), entry.stream)
                continue
            try:
                event = decode(entry.payload)
            except ValidationError as exc:
                self.malformed += 1
                log.warning("agent %s: bad entry %s in %s skipped: %s", self.name,
                            entry.id.decode(), entry.stream, exc.errors()[0]["msg"])
                continue
            if isinstance(event, Tick | Metric):
                events.append(event)
        events.sort(key=lambda e: e.ts)  # several streams in one batch: merge by event time
        alerts: list[Alert] = []
        for event in events:
            for detector in self._routes.get(event.id, ()):
                alerts.extend(detector.on_event(event))
        return alerts

    async def _commit(self, entries: list[Entry], alerts: list[Alert]) -> None:
        processed = self.processed + len(entries)
        snapshot: dict[str, Any] = {d.name: d.snapshot() for d in self.detectors}
        by_stream: dict[str, list[bytes]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry.id)
        async with self.redis.pipeline(transaction=True) as tx:
            for alert in alerts:
                tx.xadd(self.keys.alerts, {FIELD: encode(alert)},
                        maxlen=ALERTS_MAXLEN, approximate=True)
            tx.hset(self.keys.state(self.name), mapping={
                "detectors": orjson.dumps(snapshot),
                "processed": processed,
                "pid": os.getpid(),
            })
            for stream, ids in by_stream.items():
                tx.xack(stream, self.reader.group, *ids)
            tx.hincrby(self.keys.stats, f"agent.{self.name}.consumed", len(entries))
            if alerts:
                tx.hincrby(self.keys.stats, f"agent.{self.name}.alerts", len(alerts))
            if self.malformed > self._malformed_counted:
                tx.hincrby(self.keys.stats, f"agent.{self.name}.malformed",
                           self.malformed - self._malformed_counted)
            await tx.execute()
        self.processed = processed
        self.alerts += len(alerts)
        self._malformed_counted = self.malformed

    async def lag(self) -> int:
        return await self.reader.lag()
