"""Connecting to Redis: hiredis command packing, readable errors, redacted addresses."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import hiredis
from redis import asyncio as aioredis
from redis.asyncio import connection as aioconn
from redis.exceptions import NoScriptError, RedisError

log = logging.getLogger(__name__)


class BusUnavailableError(RuntimeError):
    """The bus (Redis, or Kafka) cannot be reached; the message says what to do next."""


class RedisUrlError(BusUnavailableError):
    """A Redis URL of a form redis-py cannot use; the message gives the accepted forms."""


URL_FORMS = ("redis://[:password@]host:port/db, rediss://... (TLS) or "
             "unix:///path/to/redis.sock")


def check_url(url: str) -> str:
    """`url` if redis-py can connect with it, else RedisUrlError (its password hidden)."""
    if not url.strip():
        raise RedisUrlError(f"the Redis URL is empty; give {URL_FORMS}")
    shown = _hidden(url)
    if "://" not in url:
        raise RedisUrlError(f"Redis URL {shown!r} has no scheme; give {URL_FORMS}")
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise RedisUrlError(f"Redis URL {shown!r}: scheme {scheme!r} is not redis, rediss or "
                            f"unix; give {URL_FORMS}")
    try:
        found = aioconn.parse_url(url)
    except ValueError as exc:
        raise RedisUrlError(f"Redis URL {shown!r} cannot be read ({exc}); give "
                            f"{URL_FORMS}") from None
    if scheme == "unix" and not found.get("path"):
        raise RedisUrlError(f"Redis URL {shown!r} has no socket path; give {URL_FORMS}")
    path = urlsplit(url).path
    if scheme != "unix" and not re.fullmatch(r"/?|/\d+", path):
        raise RedisUrlError(f"Redis URL {shown!r}: {path!r} is not a database number (/0, "
                            f"/1, ...); give {URL_FORMS}")
    if scheme != "unix" and not urlsplit(url).hostname:
        raise RedisUrlError(f"Redis URL {shown!r} names no host; give {URL_FORMS}")
    try:  # builds a connection, connects nowhere: unknown ?options fail here, not later
        aioredis.ConnectionPool.from_url(url).make_connection()  # type: ignore[no-untyped-call]
    except (TypeError, ValueError) as exc:
        raise RedisUrlError(f"Redis URL {shown!r}: {exc}"[:300] + f"; give {URL_FORMS}") from None
    return url


def _hidden(url: str) -> str:
    """`redact`, also for a URL too broken to split."""
    try:
        return redact(url)
    except ValueError:
        head, at, tail = url.rpartition("@")
        return f"{head.split('://', 1)[0]}://***@{tail}" if at else url


def redact(url: str) -> str:
    """The URL with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class _HiredisPacker:
    """Pack commands in C: redis-py's asyncio connections otherwise pack in pure Python."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:
            args = (*args[0].split(), *args[1:])
        return [hiredis.pack_command(args)]


class _FastSend(aioconn.AbstractConnection):
    """Send without a task per command. With a socket timeout (redis-py's default is 5 s)
    every send runs under `asyncio.wait_for`, which makes a task: a sixth to a quarter of the
    CPU of a small command here. A send whose bytes the socket takes at once has nothing to
    wait for; one that fills the write buffer past its high-water mark waits, timed as before."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        writer = self._writer
        if (writer is None or not isinstance(command, list) or self.health_check_interval
                or writer.transport.is_closing() or writer.transport.get_write_buffer_size()):
            return await super().send_packed_command(command, check_health)
        transport = writer.transport
        transport.writelines(command)
        if transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]:
            await super().send_packed_command([], check_health=False)  # drain, timed


class _TcpConnection(_HiredisPacker, _FastSend, aioconn.Connection):
    pass


class _UnixConnection(_HiredisPacker, _FastSend, aioconn.UnixDomainSocketConnection):
    pass


class _SslConnection(_HiredisPacker, _FastSend, aioconn.SSLConnection):
    pass


_FAST = {
    aioconn.Connection: _TcpConnection,
    aioconn.UnixDomainSocketConnection: _UnixConnection,
    aioconn.SSLConnection: _SslConnection,
}


def client(url: str, **kwargs: Any) -> aioredis.Redis:
    """An asyncio Redis client for `url` (redis://, rediss:// or unix://) with fast packing;
    RedisUrlError for a URL of another form."""
    pool = aioredis.ConnectionPool.from_url(check_url(url), **kwargs)
    pool.connection_class = _FAST.get(pool.connection_class, pool.connection_class)
    return aioredis.Redis.from_pool(pool)  # its aclose closes the pool: every connection


class Link:
    """Lua scripts and commands called over a connection of the caller's own.

    redis-py spends more CPU on a command than its round trip costs: the pool's lock, a retry
    wrapper, metrics, reply callbacks (here 110–150 µs of CPU a call against 75–90 without). A
    consumer commits once per batch and reads new entries, the bus writer appends once per
    batch and a follower reads, one call after the other, so each keeps a connection of the
    client's pool (its address, credentials, TLS and protocol) and reads the reply raw, as a
    script returns it (`entries_of` reads a stream reply). A lock keeps calls from
    interleaving on the connection. A connection error, or a cancellation while a reply is
    awaited, disconnects it (redis-py does) and the next call connects again; `aclose` on the
    client closes it."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._pool = redis.connection_pool
        self._connection: aioconn.AbstractConnection | None = None
        self._lock = asyncio.Lock()
        self._shas: dict[str, str] = {}

    async def script(self, source: str, keys: Sequence[Any] = (), args: Sequence[Any] = ()
                     ) -> Any:
        """The reply of `source` run on `keys` and `args` (loaded first when Redis lacks it);
        an error reply is raised as redis-py's `ResponseError`."""
        sha = self._shas.get(source)
        if sha is None:
            sha = self._shas[source] = hashlib.sha1(source.encode()).hexdigest()
        async with self._lock:
            connection = await self._connected()
            try:
                return await self._call(connection, "EVALSHA", sha, len(keys), *keys, *args)
            except NoScriptError:
                await self._call(connection, "SCRIPT", "LOAD", source)
                return await self._call(connection, "EVALSHA", sha, len(keys), *keys, *args)

    async def call(self, *command: Any) -> Any:
        """The raw reply of one command (a blocking read holds the connection while it
        waits)."""
        async with self._lock:
            return await self._call(await self._connected(), *command)

    async def release(self) -> None:
        """Give the connection back to the client's pool (the next call takes one again)."""
        async with self._lock:
            if self._connection is not None:
                connection, self._connection = self._connection, None
                await self._pool.release(connection)

    async def _connected(self) -> aioconn.AbstractConnection:
        if self._connection is None:
            self._connection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
        return self._connection

    @staticmethod
    async def _call(connection: aioconn.AbstractConnection, *command: Any) -> Any:
        await connection.send_packed_command(connection.pack_command(*command),
                                             check_health=False)
        return await connection.read_response()


async def connect(url: str, **kwargs: Any) -> aioredis.Redis:
    """A client that has answered PING, or BusUnavailableError saying what to do."""
    redis = client(url, **kwargs)
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        await redis.aclose()
        raise BusUnavailableError(
            f"cannot reach Redis at {redact(url)} ({exc}); start it, fix --redis / "
            "CROSSCURRENT_REDIS_URL, or leave both unset to use an embedded redis-server"
        ) from None
    return redis


def reraise_cancellation() -> None:
    """In a retry loop's `except RedisError`: redis-py can turn a cancellation into a
    connection error, and a loop that retries it would never stop. Raise it again."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def xread_through_outages(link: Link, cursors: dict[Any, Any], count: int,
                                block_ms: int, who: str) -> Any:
    """XREAD for a read-only follower (no consumer group), its reply raw (`entries_of` reads
    it): a Redis outage is waited out with backoff, logged once per attempt, and the read
    starts again from the same cursors."""
    delay = 0.1
    while True:
        try:
            return await link.call("XREAD", "COUNT", count, "BLOCK", block_ms, "STREAMS",
                                   *cursors, *cursors.values())
        except (RedisError, OSError) as exc:
            reraise_cancellation()
            log.warning("%s: Redis error (%s); reading on in %.1fs", who, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
