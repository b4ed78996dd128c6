from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streams.bus import FIELD, entries_of
from streams.keys import Keys
from streams.redis_client import (
    Link,
    client,
    connect,
    redact,
    reraise_cancellation,
    xread_through_outages,
)
from streams.redis_server import EmbeddedRedis


def test_a_retry_loop_does_not_swallow_a_cancellation() -> None:
    async def retrying(attempts: list[int]) -> None:
        while True:
            try:
                attempts.append(1)
                try:
                    await asyncio.sleep(0.01)
                except asyncio.CancelledError:  # what redis-py can do with a cancellation
                    raise RedisConnectionError("the connection went away") from None
                raise RedisConnectionError("Redis is away")
            except RedisConnectionError:
                reraise_cancellation()
                await asyncio.sleep(0)

    async def main() -> list[int]:
        attempts: list[int] = []
        task = asyncio.create_task(retrying(attempts))
        await asyncio.sleep(0.05)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert task in done and task.cancelled(), "the cancellation was swallowed"
        return attempts

    assert len(asyncio.run(main())) >= 2  # it did retry before, and it stopped after


def test_addresses_are_redacted() -> None:
    assert "secret" not in redact("redis://:secret@127.0.0.1:6379/0")


def test_a_follower_waits_a_redis_outage_out_from_its_cursor(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()

    async def main() -> list[bytes]:
        redis = client(server.url)
        first = await redis.xadd("s", {FIELD: b"1"})
        server.kill()
        reading = asyncio.create_task(xread_through_outages(Link(redis), {"s": first}, 10, 100,
                                                            "t"))
        await asyncio.sleep(0.5)  # failing and retrying meanwhile
        assert not reading.done()
        await asyncio.to_thread(server.start)
        await redis.xadd("s", {FIELD: b"2"})
        reply = await asyncio.wait_for(reading, 15)
        await redis.aclose()
        return [entry.payload for entry in entries_of(reply)]

    try:
        assert asyncio.run(main()) == [b"2"]  # the entry after the cursor, not the first
    finally:
        server.stop()


def test_a_send_redis_does_not_take_still_times_out(tmp_path: Path) -> None:
    """Sends skip asyncio.wait_for while the socket takes their bytes at once; one that fills
    the socket's buffer while Redis reads nothing still fails after the socket timeout."""
    server = EmbeddedRedis(tmp_path, appendonly=False)
    server.start()
    assert server.pid is not None
    pid = server.pid

    async def main() -> None:
        redis = client(server.url, socket_timeout=1)
        await redis.set("small", "x")
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(RedisTimeoutError, match="writing"):
                await asyncio.wait_for(redis.set("big", b"x" * 50_000_000), 20)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert await redis.get("small") == b"x"  # a new connection once Redis is back
        await redis.aclose()

    try:
        asyncio.run(main())
    finally:
        server.stop()


def test_a_reply_redis_does_not_send_times_out_and_the_link_connects_again(tmp_path: Path
                                                                          ) -> None:
    """A link reads its replies without a timer of their own: its watchdog closes a
    connection whose reply is overdue past the socket timeout, and the call fails as
    redis-py's would."""
    server = EmbeddedRedis(tmp_path, appendonly=False)
    server.start()
    assert server.pid is not None
    pid = server.pid

    async def main() -> None:
        redis = client(server.url, socket_timeout=0.5)
        link = Link(redis)
        assert await link.call("PING") == b"PONG"
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(RedisTimeoutError, match="reading"):
                await asyncio.wait_for(link.call("PING"), 10)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert await link.call("PING") == b"PONG"  # on a new connection
        assert await link.script(ECHO, args=[b"x"]) == b"x"
        await redis.aclose()

    try:
        asyncio.run(main())
    finally:
        server.stop()


ECHO = "return ARGV[1]"


def test_a_link_calls_scripts_on_its_own_connection(redis_url: str, keys: Keys) -> None:
    """Replies come back raw; calls from several tasks do not mix their replies; an error
    reply is raised and leaves the link usable; a script Redis lost is loaded again."""

    async def main() -> None:
        redis = await connect(redis_url)
        link = Link(redis)
        assert await link.script(ECHO, args=[b"x"]) == b"x"
        replies = await asyncio.gather(*(link.script(ECHO, args=[i]) for i in range(50)))
        assert replies == [str(i).encode() for i in range(50)]
        assert await link.script("return redis.call('XADD', KEYS[1], '*', 'e', 1)",
                                 keys=[keys.alerts])
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await link.script("return redis.call('HINCRBY', KEYS[1], 'f', 1)",
                              keys=[keys.alerts])
        await redis.script_flush()
        assert await link.script(ECHO, args=[b"again"]) == b"again"
        await redis.delete(keys.alerts)
        await redis.aclose()

    asyncio.run(main())


async def linked_client(redis_url: str, prefix: str, echo: bytes
                        ) -> tuple[str, aioredis.Redis, Link]:
    """A client under a name of its own and a link of it that has run a script."""
    name = f"{prefix}-{os.getpid()}"
    linked = client(redis_url, client_name=name)
    link = Link(linked)
    assert await link.script(ECHO, args=[echo]) == echo
    return name, linked, link


def test_a_link_connects_again_after_losing_its_connection(redis_url: str) -> None:
    async def main() -> None:
        redis = await connect(redis_url)
        name, linked, link = await linked_client(redis_url, "link", b"1")
        (link_id,) = [c["id"] for c in await redis.client_list() if c["name"] == name]
        assert await redis.client_kill_filter(_id=link_id) == 1
        with pytest.raises(RedisConnectionError):
            await link.script(ECHO, args=[b"2"])
        assert await link.script(ECHO, args=[b"3"]) == b"3"
        await linked.aclose()
        await redis.aclose()

    asyncio.run(main())


def test_closing_the_client_closes_its_links(redis_url: str) -> None:
    async def main() -> None:
        redis = await connect(redis_url)
        name, linked, _ = await linked_client(redis_url, "closing", b"x")

        async def named() -> int:
            return sum(1 for c in await redis.client_list() if c["name"] == name)

        assert await named() == 1
        await linked.aclose()
        for _ in range(100):
            if not await named():
                break
            await asyncio.sleep(0.01)
        assert await named() == 0
        await redis.aclose()

    asyncio.run(main())


def test_a_link_call_blocks_and_a_cancelled_one_leaves_no_reply_behind(redis_url: str,
                                                                       keys: Keys) -> None:
    async def main() -> None:
        redis = await connect(redis_url)
        link = Link(redis)
        stream = keys.events("crypto")
        assert await link.call("XREAD", "BLOCK", 50, "STREAMS", stream, "$") is None
        reading = asyncio.create_task(link.call("XREAD", "BLOCK", 5000, "STREAMS", stream, "$"))
        await asyncio.sleep(0.1)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        await redis.xadd(stream, {"e": b"1"})  # what the cancelled read would have returned
        assert await link.call("PING") == b"PONG"
        (entry,) = (await link.call("XRANGE", stream, "-", "+"))
        assert entry[1] == [b"e", b"1"]
        await redis.delete(stream)
        await redis.aclose()

    asyncio.run(main())
