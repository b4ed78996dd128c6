"""Detector agents: a consumer group in, sans-I/O detectors in the middle, alerts out.

Each batch commits its alerts (XADD) and the detectors' snapshot (HSET) with the XACKs in one
transaction (see `streams/consumer.py`), so a restart neither skips an event nor repeats an
alert.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
from redis import asyncio as aioredis
from redis.asyncio.client import Pipeline

from crosscurrent.baselines import Baseline
from crosscurrent.catalog import default_catalog, family
from crosscurrent.config import AgentConfig
from crosscurrent.events import Alert, Metric, Tick, encode
from detectors.base import Detector, UsesBaselines, UsesFindings
from streams.bus import FIELD
from streams.consumer import GroupConsumer
from streams.history import HistoryStore
from streams.keys import Keys

log = logging.getLogger(__name__)

ALERTS_MAXLEN = 100_000


class DetectorSet:
    """Detectors run together, sans-I/O: each event goes to the detectors that read its id,
    then the alerts they raised go to the detectors of findings (the synthesis)."""

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self.routes: dict[str, list[Detector]] = {}
        for detector in detectors:
            for ident in detector.ids():
                self.routes.setdefault(ident, []).append(detector)
        self.readers = [d for d in detectors if isinstance(d, UsesFindings)]

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        raised: list[Alert] = []
        for detector in self.routes.get(event.id, ()):
            raised.extend(detector.on_event(event))
        if raised:
            for reader in self.readers:
                raised.extend(reader.on_alerts(raised, event))
        return raised


class Agent(GroupConsumer[Tick | Metric]):
    def __init__(
        self,
        name: str,
        detectors: Sequence[Detector],
        redis: aioredis.Redis,
        keys: Keys,
        config: AgentConfig,
        consumer: str | None = None,
        history: HistoryStore | None = None,
        window: int = 20,
    ) -> None:
        """`history`: where detectors that use baselines get them from (`window` sessions)."""
        self.detectors = list(detectors)
        self.history = history
        self.window = window
        self._baseline_days: dict[str, date] = {}  # id -> the session its baseline is for
        self._baseline_users = [d for d in self.detectors if isinstance(d, UsesBaselines)]
        self._loaded: dict[tuple[str, date], Baseline] = {}
        self._catalog = default_catalog()
        self.set = DetectorSet(self.detectors)
        streams = sorted({keys.events(family(i)) for i in self.set.routes})
        super().__init__(name, redis, keys, streams, config, consumer)
        self.alerts = 0
        self._raised: list[Alert] = []

    async def restore(self) -> None:
        self._baseline_days.clear()  # given again after a restart
        saved = await self.redis.hgetall(self.keys.state(self.name))
        if saved:
            states = orjson.loads(saved[b"detectors"])
            for detector in self.detectors:
                detector.restore(states.get(detector.name, {}))
            self.processed = int(saved.get(b"processed", 0))
            log.info("agent %s resumed after %d events", self.name, self.processed)

    async def prepare(self, events: list[Tick | Metric]) -> None:
        """Load the baselines of every (id, session) of the batch that detectors need."""
        self._loaded = {}
        if self.history is None or not self._baseline_users:
            return
        for event in events:
            key = (event.id, self._session(event))
            if key not in self._loaded and self._baseline_days.get(event.id) != key[1]:
                found = await self.history.baselines([event.id], event.ts, self.window)
                self._loaded[key] = found[event.id]

    def handle(self, events: list[Tick | Metric]) -> None:
        self._raised = []
        for event in events:
            if self._loaded:  # this batch opens new sessions for some ids
                day = self._session(event)
                baseline = self._loaded.get((event.id, day))
                if baseline is not None and self._baseline_days.get(event.id) != day:
                    self._baseline_days[event.id] = day  # the first event of this session
                    for user in self._baseline_users:
                        user.set_baselines({event.id: baseline})
            self._raised.extend(self.set.on_event(event))

    def _session(self, event: Tick | Metric) -> date:
        return self._catalog[event.id].calendar.session_date(event.ts)

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
