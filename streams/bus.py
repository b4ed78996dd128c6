"""The Redis Streams bus: a batching writer with bounded memory, and a consumer-group reader."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from typing import Any, NamedTuple

from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from crosscurrent.events import AnyEvent, encode, pack
from streams.commit import Commit, command
from streams.keys import MINUTE_STATS_TTL_S, Keys, this_minute
from streams.redis_client import Link, reraise_cancellation

log = logging.getLogger(__name__)

FIELD = b"e"  # every stream entry holds one field: an event as JSON, or several (`pack`)
ALERTS_MAXLEN = 100_000  # alert transitions kept on the alerts stream

# One call appends a whole batch: a pipeline of N XADDs costs N replies to parse in Python,
# which is most of the writer's CPU; this costs one. KEYS[1]: the minute's counters, KEYS[2]:
# the all-time ones (each stream's events added, for `audit`); KEYS[i + 2] gets entry i.
# ARGV[1]: how long the minute's counters are kept; then three per entry: the id below which
# its stream may be trimmed ("0": nothing yet), how many events it holds, its payload.
# Returns the ids of the entries added.
XADD_BATCH = """
local added, ids = {}, {}
for i = 3, #KEYS do
  local at = 3 * (i - 2) - 1
  ids[i - 2] = redis.call('XADD', KEYS[i], 'MINID', '~', ARGV[at], '*', 'e', ARGV[at + 2])
  added[KEYS[i]] = (added[KEYS[i]] or 0) + tonumber(ARGV[at + 1])
end
for stream, n in pairs(added) do
  redis.call('HINCRBY', KEYS[1], 'bus.' .. stream .. '.added', n)
  redis.call('HINCRBY', KEYS[2], 'bus.' .. stream .. '.added', n)
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return ids
"""


class Retention:
    """Where to trim one stream so that it keeps about `maxlen` events, however many each
    entry holds: a mark (events written so far, entry id) every hundredth of `maxlen`;
    once a mark is `maxlen` events back, the entries before it can go. Never fewer than
    `maxlen` events are kept; at most about a hundredth more, plus Redis's `~` slack. A
    writer that starts again trims nothing until it has written `maxlen` events."""

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.floor: bytes = b"0"  # entries below this id can go
        self._step = max(1, maxlen // 100)
        self._written = 0
        self._next_mark = 0
        self._marks: deque[tuple[int, bytes]] = deque()

    def added(self, entry_id: bytes, events: int) -> None:
        self._written += events
        if self._written >= self._next_mark:
            self._marks.append((self._written, entry_id))
            self._next_mark = self._written + self._step
        while self._marks and self._written - self._marks[0][0] >= self.maxlen:
            self.floor = self._marks.popleft()[1]


class StreamWriter:
    """Writes events to their streams in batches, each stream's events of a batch in entries
    of up to `pack` events.

    `put` waits while `buffer` events are queued (backpressure, nothing dropped). A batch that
    fails because Redis is away is retried with backoff until it lands. Each stream keeps
    about `maxlen` events (`Retention`).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        maxlen: int = 1_000_000,
        batch_size: int = 500,
        flush_ms: float = 0,
        buffer: int = 100_000,
        pack: int = 20,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.maxlen = maxlen
        self.batch_size = batch_size
        self.flush_s = flush_ms / 1000
        self.pack = pack
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(buffer)
        self._link = Link(redis)
        self._writing = 0
        self._retention: dict[str, Retention] = {}
        self.retries = 0

    async def put(self, event: AnyEvent) -> None:
        await self._queue.put((self.keys.stream_for(event), encode(event)))

    @property
    def pending(self) -> int:
        """Events put but not yet written."""
        return self._queue.qsize() + self._writing

    async def flush(self) -> None:
        """Wait until everything put so far is in Redis."""
        await self._queue.join()

    async def run(self) -> None:
        """The writing loop; cancel it to stop (call `flush` first to drain)."""
        queue = self._queue
        while True:
            batch = [await queue.get()]
            deadline = asyncio.get_running_loop().time() + self.flush_s
            while len(batch) < self.batch_size:
                if queue.empty():
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(queue.get(), remaining))
                    except TimeoutError:
                        break
                else:
                    batch.append(queue.get_nowait())
            self._writing = len(batch)
            await self._write(batch)
            self._writing = 0
            for _ in batch:
                queue.task_done()

    def _entries(self, batch: list[tuple[str, bytes]]) -> list[tuple[str, int, bytes]]:
        """(stream, events, payload) of each entry: each stream's events in order, `pack`
        at a time."""
        by_stream: dict[str, list[bytes]] = {}
        for stream, payload in batch:
            by_stream.setdefault(stream, []).append(payload)
        step = self.pack
        return [(stream, len(part), pack(part))
                for stream, payloads in by_stream.items()
                for part in (payloads[i:i + step] for i in range(0, len(payloads), step))]

    async def _write(self, batch: list[tuple[str, bytes]]) -> None:
        entries = self._entries(batch)
        retention = self._retention
        for stream, _, _ in entries:
            if stream not in retention:
                retention[stream] = Retention(self.maxlen)
        args: list[Any] = [MINUTE_STATS_TTL_S]
        for stream, events, payload in entries:
            args += (retention[stream].floor, events, payload)
        delay = 0.05
        while True:
            try:
                ids = await self._link.script(
                    XADD_BATCH,
                    keys=[self.keys.stats_at(this_minute()), self.keys.stats,
                          *(stream for stream, _, _ in entries)],
                    args=args)
            except (RedisError, OSError) as exc:
                reraise_cancellation()
                self.retries += 1
                log.warning("bus write of %d events failed (%s); retrying in %.2fs",
                            len(batch), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            for (stream, events, _), entry_id in zip(entries, ids, strict=True):
                retention[stream].added(entry_id, events)
            return


class Entry(NamedTuple):
    """One stream entry; an empty payload means it was trimmed before it was read. (A named
    tuple: the agent makes one per entry, and a frozen dataclass costs three times more.)"""

    stream: str
    id: bytes
    payload: bytes


class GroupReader:
    """Reads streams through a consumer group.

    At start it re-reads this consumer's own pending entries, then claims entries left
    pending by dead consumers for longer than `claim_idle_ms` (XAUTOCLAIM), then reads new
    ones. Acknowledging is the caller's job, so it can commit XACK with its results.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        streams: Iterable[str],
        group: str,
        consumer: str,
        *,
        batch: int = 500,
        block_ms: int = 200,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self.redis = redis
        self.streams = sorted(set(streams))
        self.group = group
        self.consumer = consumer
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self._backlog: dict[str, bytes | str] | None = None
        self._claimed = False
        self._link = Link(redis)  # new entries: read often, raw, on a connection of its own
        self._read_new = command(  # as a commit's last command, encoded once
            "XREADGROUP", "GROUP", group, consumer, "COUNT", batch, "STREAMS", *self.streams,
            *[">"] * len(self.streams))
        self.reset()

    def reset(self) -> None:
        """Start over as a restarted consumer: own pending entries, then claims, then new."""
        self._backlog = dict.fromkeys(self.streams, "0")
        self._claimed = False

    async def release(self) -> None:
        """Give the connection of its reads back to the pool."""
        await self._link.release()

    async def ensure_groups(self) -> None:
        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def read(self, block: bool = True) -> list[Entry]:
        """The next batch: own pending entries, then claimed ones, then new ones (waiting up
        to `block_ms` for some unless `block` is False)."""
        if self._backlog is not None:  # own pending entries first, walking past each batch
            cursors: dict[Any, Any] = self._backlog
            entries = entries_of(await self.redis.xreadgroup(
                self.group, self.consumer, cursors, count=self.batch))
            if entries:
                for entry in entries:
                    self._backlog[entry.stream] = entry.id
                return entries
            self._backlog = None
        if not self._claimed:
            self._claimed = True
            claimed = await self._autoclaim()
            if claimed:
                return claimed
        wait = ("BLOCK", self.block_ms) if block else ()
        return entries_of(await self._link.call(
            "XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", self.batch, *wait,
            "STREAMS", *self.streams, *[">"] * len(self.streams)))

    def read_ahead(self, commit: Commit) -> bool:
        """Queue a read of new entries, without blocking, as the last command of the caller's
        commit (its reply is then the commit's): under load the next batch costs no round
        trip of its own. False (nothing queued) while own pending or claimed entries are
        still to come first."""
        if self._backlog is not None or not self._claimed:
            return False
        commit.add(self._read_new)
        return True

    async def _autoclaim(self) -> list[Entry]:
        found: list[Entry] = []
        for stream in self.streams:
            cursor: bytes | str = "0-0"
            while True:
                reply = await self.redis.xautoclaim(
                    stream, self.group, self.consumer, self.claim_idle_ms,
                    start_id=cursor, count=self.batch,
                )
                cursor, messages = reply[0], reply[1]
                found.extend(Entry(stream, mid, _payload(fields)) for mid, fields in messages)
                if cursor in (b"0-0", "0-0"):
                    break
        if found:
            log.info("%s claimed %d stale pending entries", self.consumer, len(found))
        return found

    async def lag(self) -> int:
        """Entries not yet delivered to the group plus delivered but unacknowledged ones."""
        total = 0
        for stream in self.streams:
            info = await self.redis.xinfo_stream(stream)
            groups = await self.redis.xinfo_groups(stream)
            for group in groups:
                if _text(group["name"]) != self.group:
                    continue
                total += int(group["pending"])
                if _text(group["last-delivered-id"]) != _text(info["last-generated-id"]):
                    total += 1 if not group.get("lag") else int(group["lag"])
        return total


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def entries_of(reply: Any) -> list[Entry]:
    """The entries of an XREADGROUP or XREAD reply (as redis-py parses it, or as a script
    returns it)."""
    out: list[Entry] = []
    if not reply:
        return out
    items = reply.items() if isinstance(reply, dict) else reply  # RESP3 dict, RESP2 list
    for stream, messages in items:
        name = _text(stream)
        out.extend(Entry(name, mid, _payload(fields))
                   for mid, fields in messages or ())  # None: a stream deleted meanwhile
    return out


def _payload(fields: dict[bytes, bytes] | list[bytes] | None) -> bytes:
    """A pending entry trimmed away by retention comes back without fields: b"". (A list:
    the field-value pairs unparsed, from a script.)"""
    if not fields:
        return b""
    if isinstance(fields, list):
        if fields[0] == FIELD:  # the bus's own entries: that one field
            return fields[1]
        for i in range(2, len(fields) - 1, 2):
            if fields[i] == FIELD:
                return fields[i + 1]
        return b""
    return fields.get(FIELD, b"")
