"""One writer per namespace: a lock held in Redis itself, by the process that writes it.

The key `<prefix>:owner:<namespace>` (beside the namespace's keys, so that clearing the
namespace keeps it) holds the holder as JSON {pid, host, command, started, token}. It is set
with SET NX PX, refreshed every third of its TTL while held and deleted at the end only if it
is still ours (a Lua check-and-delete); a holder killed with -9 frees it when it expires. A
holder that finds it taken over (it expired while this process was stalled, and another took
it) is cancelled, and `async with` raises NamespaceBusyError, so two never write on together.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from crosscurrent.catalog import Instrument, default_catalog
from streams.keys import Keys
from streams.redis_client import redact, reraise_cancellation

log = logging.getLogger(__name__)

TTL_MS = 30_000

#: Refresh the key if it is ours; take it back if it vanished (a restarted Redis that lost its
#: last second); else return who holds it now.
_REFRESH = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return held
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class NamespaceBusyError(RuntimeError):
    """Another process writes the namespace: one line naming it and what to do."""


def this_command(argv: list[str] | None = None) -> str:
    """This process's command line, as the user typed it (URLs' passwords redacted)."""
    argv = sys.argv if argv is None else argv
    name = Path(argv[0]).name if argv else "python"
    if name in ("__main__.py", "crosscurrent"):
        name = "crosscurrent"
    words = [name, *(redact(word) if "://" in word else word for word in argv[1:])]
    line = " ".join(words)
    return line if len(line) <= 200 else line[:199] + "…"


@dataclass(frozen=True)
class Holder:
    """Who holds a namespace."""

    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    command: str = field(default_factory=this_command)
    started: float = field(default_factory=time.time)
    token: str = field(default_factory=lambda: secrets.token_hex(8))

    def dumps(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def loads(cls, raw: bytes | str) -> Holder:
        """The holder a key holds; unreadable fields read as unknown."""
        try:
            found: Any = json.loads(raw)
            return cls(pid=int(found["pid"]), host=str(found["host"]),
                       command=str(found["command"]), started=float(found["started"]),
                       token=str(found["token"]))
        except (ValueError, TypeError, KeyError):
            return cls(pid=0, host="?", command="?", started=0.0, token="")

    def describe(self) -> str:
        """`pid 1234 (crosscurrent replay day.jsonl, started 14:02:11 UTC)`, host if not ours."""
        moment = datetime.fromtimestamp(self.started, UTC)
        when = moment.strftime("%H:%M:%S" if moment.date() == datetime.now(UTC).date()
                               else "%Y-%m-%d %H:%M:%S")
        host = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"pid {self.pid}{host} ({self.command}, started {when} UTC)"


class NamespaceLock:
    """`async with NamespaceLock(...)`: the namespace's one writer inside, else who holds it."""

    # advice: what the user can do about a refusal, ending its one line

    def __init__(self, redis: aioredis.Redis, keys: Keys, url: str, advice: str, *,
                 ttl_ms: int = TTL_MS, holder: Holder | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.key = keys.owner
        self.where = redact(url)
        self.advice = advice
        self.ttl_ms = ttl_ms
        self.holder = holder or Holder()
        self._value = self.holder.dumps()
        self._keeper: asyncio.Task[None] | None = None
        self._owner: asyncio.Task[Any] | None = None
        self._taken_by: Holder | None = None

    async def acquire(self) -> None:
        """Take the namespace, or raise NamespaceBusyError naming its holder."""
        for _ in range(3):  # the holder may let go between our SET and our GET
            if await self.redis.set(self.key, self._value, nx=True, px=self.ttl_ms):
                return
            raw = await self.redis.get(self.key)
            if raw is not None:
                left_ms = await self.redis.pttl(self.key)
                raise NamespaceBusyError(self._busy(Holder.loads(raw), max(left_ms, 0)))
        raise NamespaceBusyError(f"namespace `{self.keys.namespace}` on {self.where} is "
                                 "taken and given up over and over; try again")

    def _busy(self, holder: Holder, left_ms: int) -> str:
        seconds = math.ceil((left_ms or self.ttl_ms) / 1000)
        return (f"namespace `{self.keys.namespace}` on {self.where} is in use by "
                f"{holder.describe()}; {self.advice} (if that process is gone, the lock "
                f"expires within {seconds} s)")

    async def release(self) -> None:
        """Let go of the namespace if it is still ours."""
        await self.redis.eval(_RELEASE, 1, self.key, self._value)

    async def _keep(self) -> None:
        """Refresh the key every third of its TTL; if another took it, cancel the holder."""
        every = self.ttl_ms / 3000
        while True:
            await asyncio.sleep(every)
            try:
                held = await self.redis.eval(
                    _REFRESH, 1, self.key, self._value, str(self.ttl_ms))
            except (RedisError, OSError) as exc:
                reraise_cancellation()
                log.warning("could not refresh the lock of namespace %s (%s); retrying",
                            self.keys.namespace, exc)
                continue
            if held != 1:
                self._taken_by = Holder.loads(held)
                log.error("namespace %s was taken over by %s: stopping",
                          self.keys.namespace, self._taken_by.describe())
                if self._owner is not None:
                    self._owner.cancel()
                return

    async def __aenter__(self) -> NamespaceLock:
        await self.acquire()
        await share_instruments(self.redis, self.keys)
        await self.redis.set(self.keys.written_last, json.dumps(
            {"namespace": self.keys.namespace} | asdict(self.holder), ensure_ascii=False))
        self._owner = asyncio.current_task()
        self._keeper = asyncio.create_task(self._keep(), name=f"lock {self.key}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if self._taken_by is not None:
            if exc_type is asyncio.CancelledError and self._owner is not None \
                    and self._owner.uncancel() == 0:
                raise NamespaceBusyError(
                    f"namespace `{self.keys.namespace}` on {self.where} was taken over by "
                    f"{self._taken_by.describe()} while this process held it: stopped")
            return
        try:
            await asyncio.wait_for(self.release(), 5)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not release namespace %s (%s): it expires within %d s",
                        self.keys.namespace, exc, math.ceil(self.ttl_ms / 1000))


async def share_instruments(redis: aioredis.Redis, keys: Keys) -> None:
    """Tell the namespace's readers the user's own instruments this writer knows."""
    added = default_catalog().added
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.instruments)
        if added:
            pipe.hset(keys.instruments, mapping={i: x.model_dump_json() for i, x in
                                                 added.items()})
        await pipe.execute()


async def learn_instruments(redis: aioredis.Redis, keys: Keys) -> None:
    """Know the user's own instruments the namespace's writer knew."""
    for raw in (await redis.hgetall(keys.instruments)).values():
        default_catalog().add(Instrument.model_validate_json(raw))


async def written_last(redis: aioredis.Redis, prefix: str) -> tuple[str, Holder] | None:
    """The namespace a pipeline wrote last on this Redis, and who wrote it; None if none."""
    raw = await redis.get(Keys(prefix).written_last)
    if raw is None:
        return None
    try:
        namespace = json.loads(raw)["namespace"]
    except (ValueError, TypeError, KeyError):
        return None
    return (namespace, Holder.loads(raw)) if isinstance(namespace, str) and namespace \
        else None


def hold_namespace(redis: aioredis.Redis, keys: Keys, url: str, advice: str, *,
                   exclusive: bool = True) -> contextlib.AbstractAsyncContextManager[object]:
    """The namespace's lock; none when not `exclusive` (agents of one consumer group)."""
    if not exclusive:
        return contextlib.nullcontext()
    return NamespaceLock(redis, keys, url, advice)
