"""The consumer-group runtime shared by detector agents and the history recorder.

Each batch is read, turned into what the consumer makes of it, and committed in one atomic
script call (`streams/commit.py`) together with the XACKs. A crash before the call leaves
the entries pending and the committed state as it was, so a restarted consumer re-reads
exactly those entries from the same state: no event skipped, nothing written twice. After a
Redis error the running process does the same: it restores the committed state and starts
over. The commit also reads the next new entries, without blocking: they become pending with
it (a crash leaves them to be re-read like any other), and under load a batch costs one round
trip, not two.

Adaptive batching: while entries keep coming (the batch came with the last commit's read,
and so did the one before it) and fast enough that at least two more would come meanwhile
(at the rate the last commit's read found them), a batch short of the reader's `batch`
waits before its commit until `agent.max_wait_ms` after it was read, so that the commit's
read takes them: under load, fewer and fuller round trips (each costs the CPU of some twenty
events) for about `max_wait_ms` more latency (the event loop's timers count whole
milliseconds: a wait of under half of one is none, one of 1 ms lasts some 1.1). A wait that
would bring less is not worth its latency: at 10,000 events/s in entries of 10, 1 ms brings
about one. A lone event, or a burst that one read takes whole, is committed at once. The
wait is between `handle` and the commit: what is committed, and what a crash leaves
pending, is as without it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
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
from streams.redis_client import Encoded, Link, encoded, reraise_cancellation

log = logging.getLogger(__name__)

FILL_AT_LEAST = 2  # entries a wait should bring, at the rate they came, to be worth it

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
    if isinstance(tx, Commit):
        tx.counters(minute, keys.stats, counters, MINUTE_STATS_TTL_S)
        return
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
        self.max_wait_s = config.max_wait_ms / 1000
        self.processed = 0  # events read and committed
        self.batches = 0  # batches committed (each one round trip, its read ahead included)
        self.entries = 0  # entries committed
        self.waits = 0  # batches that waited for more to come before their commit
        self.malformed = 0
        self._malformed_counted = 0
        self.resumes = 0
        self._ahead: list[Entry] = []  # read in the last commit, handled next
        self._read_at = 0.0  # when the batch under way was read (time.perf_counter)
        self._replied_at = 0.0  # when the last commit came back
        self._streak = 0  # commits in a row whose read brought entries
        self._rate = 0.0  # entries a second the last commit's read found
        self.link = Link(redis)  # the commits' own connection
        # what each commit names, made once: its acknowledgements' heads, its counters
        self._acks: dict[str, Encoded] = {}
        self._stats = keys.stats
        self._minute = (0, "")  # the minute, its counters' key
        self._names = tuple(f"agent.{name}.{what}" for what in ("consumed", "entries",
                                                                 "malformed"))

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
        self._ahead, self._streak = [], 0  # left pending in Redis: re-read first
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
        entries, self._ahead = self._ahead, []
        if not entries:
            entries = await self.reader.read()
            self._read_at = time.perf_counter()
        if entries:
            events, read = self.decode(entries)
            await self.prepare(events)
            self.handle(events)
            if self._streak > 1 and self.max_wait_s and len(entries) < self.reader.batch:
                await self._fill()  # entries keep coming: let the commit read more of them?
            await self._commit(entries, read)
        if self.pace_s and len(entries) < self.reader.batch:
            await asyncio.sleep(self.pace_s)
        return len(entries)

    async def _fill(self) -> None:
        """Wait until `max_wait_s` after the batch was read, for the commit to read more, if
        at least `FILL_AT_LEAST` more should come meanwhile."""
        wait = self._read_at + self.max_wait_s - time.perf_counter()
        if wait > 0 and self._rate * wait >= FILL_AT_LEAST:
            self.waits += 1
            await asyncio.sleep(wait)

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

    def _ack_head(self, stream: str) -> Encoded:
        head = self._acks.get(stream)
        if head is None:
            head = self._acks[stream] = encoded("XACK", stream, self.reader.group)
        return head

    async def _commit(self, entries: list[Entry], read: int) -> None:
        processed = self.processed + read
        commit = Commit()
        self.write(commit, processed)
        stream = entries[0].stream
        if all(entry.stream == stream for entry in entries):  # one stream: most batches
            commit.acknowledge(self._ack_head(stream), [entry.id for entry in entries])
        else:
            by_stream: dict[str, list[bytes]] = {}
            for entry in entries:
                by_stream.setdefault(entry.stream, []).append(entry.id)
            for stream, ids in by_stream.items():
                commit.acknowledge(self._ack_head(stream), ids)
        consumed, entries_name, malformed = self._names
        counters = {consumed: read, entries_name: len(entries)}  # events; entries, as acked
        if self.malformed > self._malformed_counted:
            counters[malformed] = self.malformed - self._malformed_counted
        minute = this_minute()
        if minute != self._minute[0]:
            self._minute = (minute, self.keys.stats_at(minute))
        commit.counters(self._minute[1], self._stats, counters, MINUTE_STATS_TTL_S)
        ahead = not self.pace_s and self.reader.read_ahead(commit)
        reply = await commit.run(self.link)
        now = time.perf_counter()
        self._ahead = entries_of(reply) if ahead else []
        self._streak = self._streak + 1 if self._ahead else 0
        self._rate = len(self._ahead) / max(now - self._replied_at, 1e-6)
        self._read_at = self._replied_at = now
        self.batches += 1
        self.entries += len(entries)
        self.processed = processed
        self._malformed_counted = self.malformed
        await self.committed()

    async def lag(self) -> int:
        return await self.reader.lag()
