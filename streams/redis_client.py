"""Connecting to Redis: hiredis command packing, readable errors, redacted addresses."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import hiredis
from redis import asyncio as aioredis
from redis.asyncio import connection as aioconn
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

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


class Encoded(NamedTuple):
    """Arguments encoded once as Redis reads them (RESP bulk strings): the constant part of a
    command sent again and again (a consumer's read, the head of its acknowledgements) costs
    no packing again. hiredis packs some 250 ns an argument, and a commit has dozens."""

    size: int  # arguments
    data: bytes


def encoded(*args: Any) -> Encoded:
    """`args` (str, bytes, int or float) encoded once, for `Link.script_encoded`."""
    return Encoded(len(args), encode(args))


def encode(args: tuple[Any, ...]) -> bytes:
    """`args` as RESP bulk strings: a command without its "*N" header."""
    packed: bytes = hiredis.pack_command(args)
    return packed[packed.index(b"\n") + 1:]


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
    client closes it.

    The reply is read from the connection's parser, not through redis-py's `read_response`,
    whose timeout arms and cancels a timer on every call (a fifth of a small call's CPU).
    Here one watchdog a link checks every quarter of the socket timeout while calls are
    under way, and closes the connection under a reply awaited longer than the timeout:
    the call fails with redis-py's TimeoutError, as it would have after 1 to 1.25 times the
    timeout, not exactly once it passed."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._pool = redis.connection_pool
        self._connection: aioconn.AbstractConnection | None = None
        self._lock = asyncio.Lock()
        self._shas: dict[str, str] = {}
        self._heads: dict[str, bytes] = {}  # "EVALSHA <sha> 0", encoded
        self._awaiting: aioconn.AbstractConnection | None = None  # a reply from it, since:
        self._since = 0.0
        self._watch: asyncio.TimerHandle | None = None
        self._timed_out = False

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

    async def script_encoded(self, source: str, count: int, argv: Sequence[bytes]) -> Any:
        """As `script` with no keys, for `count` arguments already encoded (their encodings
        in order, `Encoded.data`): the command costs no packing but its header's."""
        head = self._heads.get(source)
        if head is None:
            sha = hashlib.sha1(source.encode()).hexdigest()
            self._shas[source] = sha
            head = self._heads[source] = encode(("EVALSHA", sha, 0))
        command = [b"*%d\r\n" % (count + 3), head, *argv]
        async with self._lock:
            connection = await self._connected()
            try:
                return await self._send(connection, command)
            except NoScriptError:
                await self._call(connection, "SCRIPT", "LOAD", source)
                return await self._send(connection, command)

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

    async def _call(self, connection: aioconn.AbstractConnection, *command: Any) -> Any:
        return await self._send(connection, connection.pack_command(*command))

    async def _send(self, connection: aioconn.AbstractConnection, command: list[bytes]) -> Any:
        await connection.send_packed_command(command, check_health=False)
        timeout = connection.socket_timeout
        if not timeout:  # none asked for: redis-py's own reading
            return await connection.read_response()
        loop = asyncio.get_running_loop()
        self._awaiting, self._since, self._timed_out = connection, loop.time(), False
        if self._watch is None:
            self._watch = loop.call_later(timeout / 4, self._check)
        try:
            reply = await connection._parser.read_response()  # type: ignore[attr-defined]
        except BaseException as exc:  # as redis-py's: a connection left mid-reply is dropped
            await connection.disconnect(nowait=True)
            where = connection._host_error()
            if self._timed_out:
                raise RedisTimeoutError(f"Timeout reading from {where}") from None
            if isinstance(exc, OSError):
                raise RedisConnectionError(f"Error while reading from {where}: {exc.args}"
                                           ) from exc
            raise
        finally:
            self._awaiting = None
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def _check(self) -> None:
        """The watchdog: close a connection whose reply is overdue; again in a while as long
        as calls go on."""
        self._watch = None
        connection = self._awaiting
        if connection is None:  # idle: armed again by the next call
            return
        timeout = connection.socket_timeout or 0.0
        loop = asyncio.get_running_loop()
        if loop.time() - self._since < timeout:
            self._watch = loop.call_later(timeout / 4, self._check)
            return
        self._timed_out = True
        writer = connection._writer
        if writer is not None:
            writer.transport.abort()  # the read under way fails at once


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
