from __future__ import annotations

import asyncio

from redis.exceptions import ConnectionError as RedisConnectionError

from streams.redis_client import redact, reraise_cancellation


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
