from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streams.redis_client import client, redact, reraise_cancellation, xread_through_outages
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
        first = await redis.xadd("s", {"e": b"1"})
        server.kill()
        reading = asyncio.create_task(xread_through_outages(redis, {"s": first}, 10, 100, "t"))
        await asyncio.sleep(0.5)  # failing and retrying meanwhile
        assert not reading.done()
        await asyncio.to_thread(server.start)
        await redis.xadd("s", {"e": b"2"})
        reply = await asyncio.wait_for(reading, 15)
        await redis.aclose()
        return [fields[b"e"] for _, messages in reply for _, fields in messages]

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
