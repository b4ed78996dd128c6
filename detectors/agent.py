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

from crosscurrent.baselines import Baseline
from crosscurrent.catalog import default_catalog, family
from crosscurrent.config import AgentConfig
from crosscurrent.events import Alert, Metric, Tick, encode
from detectors.base import Detector, UsesBaselines, UsesFindings, UsesQuotes
from detectors.common import Moves
from streams.bus import ALERTS_MAXLEN, FIELD
from streams.commit import Commit
from streams.consumer import GroupConsumer, count
from streams.history import HistoryStore
from streams.keys import MINUTE_STATS_TTL_S, Keys, this_minute

log = logging.getLogger(__name__)

class DetectorSet:
    """Detectors run together, sans-I/O: each event goes to the detectors that read its id,
    then the alerts they raised go to the detectors of findings (the synthesis)."""

    def __init__(self, detectors: Sequence[Detector]) -> None:
        """Each detector belongs to one set: the set gives it its shared `Moves`."""
        self.detectors = list(detectors)
        self.routes: dict[str, list[Detector]] = {}
        for detector in detectors:
            for ident in detector.ids():
                self.routes.setdefault(ident, []).append(detector)
        self.readers = [d for d in detectors if isinstance(d, UsesFindings)]
        self.moves = Moves(shared=True)
        quoted: set[str] = set()
        for detector in detectors:
            if isinstance(detector, UsesQuotes):
                self.moves.merge(detector.moves.quotes)  # what it held before it joined
                detector.moves = self.moves
                quoted |= detector.ids()
        self.quoted = frozenset(quoted)  # the ids whose ticks the shared view takes

    def on_event(self, event: Tick | Metric, upstream: Sequence[Alert] = ()) -> list[Alert]:
        """The alerts `event` raises. `upstream`: alerts it already raised in detectors run
        elsewhere (a partitioned engine's per-instrument stage), shown to the readers too."""
        ident = event.id
        if ident in self.quoted and isinstance(event, Tick):
            self.moves.hold(event)
        raised: list[Alert] = [*upstream] if upstream else []
        for detector in self.routes.get(ident, ()):
            found = detector.on_event(event)
            if found:
                raised += found
        if raised:
            for reader in self.readers:
                raised += reader.on_alerts(raised, event)
        return raised[len(upstream):] if upstream else raised

    def snapshot(self) -> dict[str, Any]:
        """Each detector's state, and the quotes they share (once)."""
        return {"detectors": {d.name: d.snapshot() for d in self.detectors},
                "quotes": self.moves.quotes}

    def restore(self, state: dict[str, Any]) -> None:
        """Resume from `snapshot()`, or from a snapshot of before the quotes were shared
        (each detector's own are merged)."""
        self.moves.quotes = {}
        self.moves.load(state)
        for detector in self.detectors:
            detector.restore(state["detectors"].get(detector.name, {}))


class Baselines:
    """Gives the detectors that use baselines each id's `Baseline` before the first event of
    each of its sessions: `load` fetches what a batch needs (I/O), `give` hands it over."""

    def __init__(self, detectors: Sequence[Detector], history: HistoryStore | None,
                 window: int) -> None:
        self.users = [d for d in detectors if isinstance(d, UsesBaselines)]
        self.history = history
        self.window = window
        self.given: dict[str, tuple[int, int, date]] = {}  # id -> the day it was given for
        self._loaded: dict[tuple[str, date], Baseline] = {}
        self._catalog = default_catalog()

    def forget(self) -> None:
        """Give every baseline again (after a restore: the detectors' copies are gone)."""
        self.given.clear()

    def _new_day(self, event: Tick | Metric) -> date | None:
        """The session `event` opens for its id, or None if its baseline was given."""
        given = self.given.get(event.id)
        if given is not None and given[0] <= event.ts < given[1]:
            return None
        span = self._catalog[event.id].calendar.day_span(event.ts)
        return None if given == span else span[2]

    async def load(self, events: Sequence[Tick | Metric]) -> None:
        """Fetch the baselines of every (id, session) of `events` not given yet."""
        if self.history is None or not self.users:
            return
        for event in events:
            try:
                day = self._new_day(event)
            except (ArithmeticError, ValueError, KeyError):
                continue  # a bad event: `Agent.handle` counts it when it fails there too
            if day is not None and (event.id, day) not in self._loaded:
                found = await self.history.baselines([event.id], event.ts, self.window)
                self._loaded[event.id, day] = found[event.id]

    def give(self, event: Tick | Metric) -> None:
        """Before `event` is detected on: its id's baseline if it opens a new session."""
        if not self._loaded:  # nothing loaded: no new session in this batch
            return
        day = self._new_day(event)
        baseline = None if day is None else self._loaded.pop((event.id, day), None)
        if baseline is not None:
            self.given[event.id] = self._catalog[event.id].calendar.day_span(event.ts)
            for user in self.users:
                user.set_baselines({event.id: baseline})


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
        self.baselines = Baselines(self.detectors, history, window)
        self.set = DetectorSet(self.detectors)
        streams = sorted({keys.events(family(i)) for i in self.set.routes})
        super().__init__(name, redis, keys, streams, config, consumer)
        self.alerts = 0
        self._raised: list[Alert] = []

    async def restore(self) -> None:
        self.baselines.forget()  # given again after a restart
        saved = await self.redis.hgetall(self.keys.state(self.name))
        # nothing committed yet: back to the start (a refused first commit left the
        # detectors holding what they saw, which they will see again)
        self.set.restore({"detectors": orjson.loads(saved.get(b"detectors", b"{}")),
                          "quotes": orjson.loads(saved.get(b"quotes", b"{}"))})
        self.processed = int(saved.get(b"processed", 0))
        if saved:
            log.info("agent %s resumed after %d events", self.name, self.processed)

    async def prepare(self, events: list[Tick | Metric]) -> None:
        await self.baselines.load(events)

    def handle(self, events: list[Tick | Metric]) -> None:
        raised: list[Alert] = []
        give, detect = self.baselines.give, self.set.on_event
        for event in events:
            try:
                give(event)
                found = detect(event)
            except Exception as exc:  # one bad event must not stop the agent
                self._skip(event, exc)
                continue
            if found:
                raised += found
        self._raised = raised

    def _skip(self, event: Tick | Metric, exc: Exception) -> None:
        """An event the baselines or a detector failed on: counted as malformed, logged (the
        first ten, then every thousandth), skipped."""
        n = self.count_malformed()  # the base class's counter (mypyc: not this class's)
        if n <= 10 or n % 1000 == 0:
            log.warning("%s: %s %s at ts %d skipped as malformed (#%d): the detectors failed "
                        "on it (%s: %s)", self.name, event.kind, event.id, event.ts, n,
                        type(exc).__name__, exc)

    def write(self, tx: Commit, processed: int) -> None:
        if self._raised:
            for alert in self._raised:
                tx.xadd(self.keys.alerts, {FIELD: encode(alert)}, maxlen=ALERTS_MAXLEN)
            # as the bus writer counts its entries: in the minute's counters alone
            tx.counters(self.keys.stats_at(this_minute()), "",
                        {f"bus.{self.keys.alerts}.added": len(self._raised)},
                        MINUTE_STATS_TTL_S)
        snapshot = self.set.snapshot()
        tx.hset(self.keys.state(self.name), mapping={
            "detectors": orjson.dumps(snapshot["detectors"]),
            "quotes": orjson.dumps(snapshot["quotes"]), "processed": processed,
            "pid": os.getpid(),
        })
        if self._raised:
            count(tx, self.keys, {f"agent.{self.name}.alerts": len(self._raised)})

    async def committed(self) -> None:
        self.alerts += len(self._raised)
        self._raised = []
