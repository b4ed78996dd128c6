from __future__ import annotations

import asyncio

import pytest

from crosscurrent.app import clear_namespace
from streams.keys import Keys
from streams.owner import Holder, NamespaceBusyError, NamespaceLock, hold_namespace, this_command
from streams.redis_client import client

FIRST = Holder(pid=4242, command="crosscurrent replay day.jsonl --speed max")


def test_a_second_owner_is_refused_in_one_line_naming_the_first(redis_url: str,
                                                                 keys: Keys) -> None:
    async def main() -> str:
        redis = client(redis_url)
        try:
            async with NamespaceLock(redis, keys, redis_url, "wait for it", holder=FIRST):
                with pytest.raises(NamespaceBusyError) as refused:
                    async with NamespaceLock(redis, keys, redis_url, "wait for it"):
                        raise AssertionError("a second owner got in")
            async with NamespaceLock(redis, keys, redis_url, "wait for it"):  # released
                pass
            return str(refused.value)
        finally:
            await redis.aclose()

    said = asyncio.run(main())
    assert said.startswith(f"namespace `{keys.namespace}` on unix://:***@")
    assert "is in use by pid 4242 (crosscurrent replay day.jsonl --speed max, started " in said
    assert "UTC); wait for it (if that process is gone, the lock expires within " in said
    assert "\n" not in said and redis_url.split("@")[0].split(":")[-1] not in said  # password


def test_a_holder_killed_with_sigkill_frees_the_namespace_when_its_key_expires(
        redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        redis = client(redis_url)
        try:
            dead = NamespaceLock(redis, keys, redis_url, "wait", ttl_ms=300, holder=FIRST)
            await dead.acquire()  # and never refreshes nor releases: as if killed
            with pytest.raises(NamespaceBusyError, match=r"expires within 1 s"):
                await NamespaceLock(redis, keys, redis_url, "wait").acquire()
            await asyncio.sleep(0.4)
            await NamespaceLock(redis, keys, redis_url, "wait").acquire()
        finally:
            await redis.aclose()

    asyncio.run(main())


def test_a_live_holder_keeps_the_namespace_past_its_ttl(redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        redis = client(redis_url)
        try:
            async with NamespaceLock(redis, keys, redis_url, "wait", ttl_ms=300):
                await asyncio.sleep(1.0)  # three TTLs
                with pytest.raises(NamespaceBusyError):
                    await NamespaceLock(redis, keys, redis_url, "wait").acquire()
            assert await redis.exists(f"{keys.prefix}:owner:{keys.namespace}") == 0
        finally:
            await redis.aclose()

    asyncio.run(main())


def test_clearing_the_namespace_keeps_its_lock(redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        redis = client(redis_url)
        try:
            async with NamespaceLock(redis, keys, redis_url, "wait"):
                await redis.set(keys.stats, "x")
                assert await clear_namespace(redis, keys) == 1  # what a replay does first
                with pytest.raises(NamespaceBusyError):
                    await NamespaceLock(redis, keys, redis_url, "wait").acquire()
        finally:
            await redis.aclose()

    asyncio.run(main())


def test_a_holder_whose_namespace_was_taken_over_stops_and_leaves_the_new_lock(
        redis_url: str, keys: Keys) -> None:
    """Its key expired while it stalled, and another took it: it must not write on."""
    async def main() -> object:
        redis = client(redis_url)
        key = f"{keys.prefix}:owner:{keys.namespace}"
        try:
            with pytest.raises(NamespaceBusyError, match="was taken over by pid 4242"):
                async with NamespaceLock(redis, keys, redis_url, "wait", ttl_ms=300):
                    await redis.set(key, FIRST.dumps())
                    await asyncio.sleep(5)  # cancelled at the next refresh
                    raise AssertionError("it went on writing")
            return await redis.get(key)
        finally:
            await redis.aclose()

    assert asyncio.run(main()) == FIRST.dumps().encode()


def test_agents_that_share_the_work_take_no_lock(redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        redis = client(redis_url)
        try:
            async with hold_namespace(redis, keys, redis_url, "wait", exclusive=False), \
                    hold_namespace(redis, keys, redis_url, "wait", exclusive=False):
                assert await redis.exists(f"{keys.prefix}:owner:{keys.namespace}") == 0
        finally:
            await redis.aclose()

    asyncio.run(main())


def test_the_command_is_recorded_as_typed_without_passwords() -> None:
    line = this_command(["/x/bin/crosscurrent", "run", "--redis", "redis://:s3cret@h:6379/0"])
    assert line == "crosscurrent run --redis redis://:***@h:6379/0"
    assert this_command(["/x/crosscurrent/__main__.py", "demo"]) == "crosscurrent demo"
