"""The consumer-group runtime shared by detector agents and the history recorder.

Each batch is read, turned into what the consumer makes of it, and committed in one atomic
script call (`streams/commit.py`) together with the XACKs. A crash before the call leaves
the entries pending and the committed state as it was, so a restarted consumer re-reads
exactly those entries from the same state: no event skipped, nothing written twice. After a
Redis error the running process does the same: it restores the committed state and starts
over. The commit also reads the next new entries, without blocking: they become pending with
it (a crash leaves them to be re-read like any other), and under load a batch costs one round
trip, not two.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any, Generic, TypeVar

from redis import asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from crosscurrent.config import AgentConfig
from crosscurrent.events import Alert, Metric, Tick, decode_entry
from streams.bus import Entry, GroupReader, entries_of
from streams.commit import Commit
from streams.keys import MINUTE_STATS_TTL_S, Keys, this_minute
from streams.redis_client import Link, reraise_cancellation

log = logging.getLogger(__name__)

E = TypeVar("E", Tick | Metric, Alert)
BY_TIME = attrgetter("ts")


def stable_order(event: Tick | Metric | Alert) -> tuple[Any, ...]:
    """Event time, then what the event is (id, source, figures): an order that does not
    depend on which connection, stream or batch brought each event first."""
    if isinstance(event, Tick):
        return (event.ts, event.id, event.source, 0, event.price, event.prev_close or 0.0,
                event.volume or 0.0)
    if isinstance(event, Metric):
        return (event.ts, event.id, event.source, 1, event.value, 0.0, 0.0)
    return (event.ts, event.key, str(event.state), str(event.severity), "", 0.0, 0.0)


def count(tx: Pipeline | Commit, keys: Keys, counters: Mapping[str, int]) -> None:
    """Queue more on stats counters (name: how many more), in all and in this minute's
    bucket."""
    minute = keys.stats_at(this_minute())
    for counter, n in counters.items():
        tx.hincrby(keys.stats, counter, n)
        tx.hincrby(minute, counter, n)
    tx.expire(minute, MINUTE_STATS_TTL_S)


class GroupConsumer(Generic[E]):
    """Subclasses fill in `restore`, `prepare` (I/O a batch needs), `handle` (pure),
    `write` (the batch's results, queued in the transaction) and `committed`. `accepts`: the
    event kinds they read (other entries are acknowledged and skipped)."""

    accepts: tuple[type[Any], ...] = (Tick, Metric)
    pace_s = 0.0
    """For a consumer off the alert path: after a batch short of the reader's `batch`, wait
    this long before the next read (which is then not read ahead), so that batches come
    bigger and round trips fewer. Each costs a consumer the CPU of some ten events, CPU the
    consumers on the alert path in the same process then have."""

    def __init__(
        self,
        name: str,
        redis: aioredis.Redis,
        keys: Keys,
        streams: Iterable[str],
        config: AgentConfig,
        consumer: str | None = None,
    ) -> None:
        self.name = name
        self.redis = redis
        self.keys = keys
        self.reader = GroupReader(
            redis, streams, group=name, consumer=consumer or f"{name}@{socket.gethostname()}",
            batch=config.batch, block_ms=config.block_ms, claim_idle_ms=config.claim_idle_ms,
        )
        self.stopping = asyncio.Event()
        self.processed = 0  # events read and committed
        self.malformed = 0
        self._malformed_counted = 0
        self.resumes = 0
        self._ahead: list[Entry] = []  # read in the last commit, handled next
        self.link = Link(redis)  # the commits' own connection

    # -- to override -----------------------------------------------------------------------
    async def restore(self) -> None:
        """Load the last committed state."""

    async def prepare(self, events: list[E]) -> None:
        """Reads a batch needs before `handle` (kept out of the pure part)."""

    def handle(self, events: list[E]) -> None:
        raise NotImplementedError

    def write(self, tx: Commit, processed: int) -> None:
        """Queue the batch's results in the commit."""

    async def committed(self) -> None:
        """The batch's transaction went through."""

    # -- the runtime -----------------------------------------------------------------------
    async def start(self) -> None:
        """Create the groups and restore the last committed state, on connections the pool
        has checked (one left from before a Redis restart would fail the first call)."""
        await self.link.release()
        await self.reader.release()
        self.reader.reset()
        self._ahead = []  # left pending in Redis: re-read first
        await self.reader.ensure_groups()
        await self.restore()

    async def run(self, max_backoff_s: float = 5.0) -> None:
        """Process until cancelled; after a Redis error, resume from the committed state."""
        delay = 0.1
        while not self.stopping.is_set():
            try:
                await self.start()
                while not self.stopping.is_set():
                    await self.step()
                    delay = 0.1
            except (RedisError, OSError) as exc:
                reraise_cancellation()
                self.resumes += 1
                log.warning("%s: Redis error (%s); resuming from the last commit in %.1fs",
                            self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_backoff_s)

    def stop(self) -> None:
        """Finish the batch under way, then return from `run` (a cancellation in the middle of
        a Redis call can leave redis-py's connection waiting for good)."""
        self.stopping.set()

    async def step(self) -> int:
        """Read, handle and commit one batch; returns the number of entries handled."""
        entries, self._ahead = self._ahead or await self.reader.read(), []
        if entries:
            events, read = self.decode(entries)
            await self.prepare(events)
            self.handle(events)
            await self._commit(entries, read)
        if self.pace_s and len(entries) < self.reader.batch:
            await asyncio.sleep(self.pace_s)
        return len(entries)

    async def catch_up(self) -> int:
        """Read everything on the streams now, without waiting for more, and handle it as
        one batch in `stable_order`: what was written gives the same result however the
        writer packed it. Replays call it in step with the tape; returns the entries."""
        entries, self._ahead = self._ahead, []
        while more := await self.reader.read(block=False):
            entries += more
        if entries:
            events, read = self.decode(entries)
            events.sort(key=stable_order)
            await self.prepare(events)
            self.handle(events)
            await self._commit(entries, read)
        return len(entries)

    def count_malformed(self) -> int:
        """One more malformed event (counted in the next commit); how many so far."""
        self.malformed += 1
        return self.malformed

    def decode(self, entries: list[Entry]) -> tuple[list[E], int]:
        """The batch's events of the accepted kinds by event time, and how many events were
        taken off the bus (bad ones included); bad entries and events counted and logged."""
        events: list[E] = []
        read = 0
        for entry in entries:
            if not entry.payload:
                self.malformed += 1
                read += 1
                log.warning("%s: entry %s of %s was trimmed before it was read",
                            self.name, entry.id.decode(), entry.stream)
                continue
            found, problems = decode_entry(entry.payload)
            for problem in problems:
                self.malformed += 1
                log.warning("%s: a bad event of entry %s in %s skipped: %s", self.name,
                            entry.id.decode(), entry.stream, problem)
            read += len(found) + len(problems)
            events.extend(e for e in found if isinstance(e, self.accepts))
        events.sort(key=BY_TIME)  # several streams in one batch: merge by event time
        return events, read

    async def _commit(self, entries: list[Entry], read: int) -> None:
        processed = self.processed + read
        by_stream: dict[str, list[bytes]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry.id)
        commit = Commit()
        self.write(commit, processed)
        for stream, ids in by_stream.items():
            commit.xack(stream, self.reader.group, *ids)
        counters = {f"agent.{self.name}.consumed": read,  # events
                    f"agent.{self.name}.entries": len(entries)}  # as the group acknowledges
        if self.malformed > self._malformed_counted:
            counters[f"agent.{self.name}.malformed"] = self.malformed - self._malformed_counted
        count(commit, self.keys, counters)
        ahead = not self.pace_s and self.reader.read_ahead(commit)
        reply = await commit.run(self.link)
        self._ahead = entries_of(reply) if ahead else []
        self.processed = processed
        self._malformed_counted = self.malformed
        await self.committed()

    async def lag(self) -> int:
        return await self.reader.lag()
