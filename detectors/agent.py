"""Detector agents: a consumer group in, sans-I/O detectors in the middle, alerts out.

Each batch commits its alerts (XADD) and the detectors' snapshot (HSET) with the XACKs in one
transaction (see `streams/consumer.py`), so a restart neither skips an event nor repeats an
alert.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import orjson
from redis import asyncio as aioredis
from redis.asyncio.client import Pipeline

from crosscurrent.catalog import family
from crosscurrent.config import AgentConfig
from crosscurrent.events import Alert, Metric, Tick, encode
from detectors.base import Detector
from streams.bus import FIELD
from streams.consumer import GroupConsumer
from streams.keys import Keys

log = logging.getLogger(__name__)

ALERTS_MAXLEN = 100_000


class Agent(GroupConsumer):
    def __init__(
        self,
        name: str,
        detectors: Sequence[Detector],
        redis: aioredis.Redis,
        keys: Keys,
        config: AgentConfig,
        consumer: str | None = None,
    ) -> None:
        self.detectors = list(detectors)
        self._routes: dict[str, list[Detector]] = {}
        for detector in self.detectors:
            for ident in detector.ids():
                self._routes.setdefault(ident, []).append(detector)
        streams = sorted({keys.events(family(i)) for i in self._routes})
        super().__init__(name, redis, keys, streams, config, consumer)
        self.alerts = 0
        self._raised: list[Alert] = []

    async def restore(self) -> None:
        saved = await self.redis.hgetall(self.keys.state(self.name))
        if saved:
            states = orjson.loads(saved[b"detectors"])
            for detector in self.detectors:
                detector.restore(states.get(detector.name, {}))
            self.processed = int(saved.get(b"processed", 0))
            log.info("agent %s resumed after %d events", self.name, self.processed)

    def handle(self, events: list[Tick | Metric]) -> None:
        self._raised = [alert for event in events
                        for detector in self._routes.get(event.id, ())
                        for alert in detector.on_event(event)]

    def write(self, tx: Pipeline, processed: int) -> None:
        for alert in self._raised:
            tx.xadd(self.keys.alerts, {FIELD: encode(alert)}, maxlen=ALERTS_MAXLEN,
                    approximate=True)
        snapshot: dict[str, Any] = {d.name: d.snapshot() for d in self.detectors}
        tx.hset(self.keys.state(self.name), mapping={
            "detectors": orjson.dumps(snapshot), "processed": processed, "pid": os.getpid(),
        })
        if self._raised:
            tx.hincrby(self.keys.stats, f"agent.{self.name}.alerts", len(self._raised))

    async def committed(self) -> None:
        self.alerts += len(self._raised)
        self._raised = []
