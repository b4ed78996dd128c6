from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ResponseError

from streams.commit import MAX_IDS, Commit
from streams.keys import Keys
from streams.redis_client import Link, connect


def test_each_command_is_its_length_then_its_arguments() -> None:
    commit = Commit()
    commit.hset("h", mapping={"a": 1, "b": b"x"})
    commit.xadd("s", {"e": b"{}"}, maxlen=10)
    commit.expire("h", 60)
    assert commit.args == [6, "HSET", "h", "a", 1, "b", b"x",
                           8, "XADD", "s", "MAXLEN", "~", 10, "*", "e", b"{}",
                           3, "EXPIRE", "h", 60]


def test_a_long_acknowledgement_is_split() -> None:
    commit = Commit()
    commit.xack("s", "g", *[b"1-%d" % i for i in range(MAX_IDS + 1)])
    assert commit.args[0] == MAX_IDS + 3  # XACK, stream, group, then the ids
    assert commit.args[MAX_IDS + 4:] == [4, "XACK", "s", "g", b"1-%d" % MAX_IDS]


def test_every_command_is_applied_and_the_last_reply_returned(redis_url: str, keys: Keys
                                                               ) -> None:
    async def main() -> None:
        redis = await connect(redis_url)
        link = Link(redis)
        commit = Commit()
        commit.hset(keys.stats, "one", 1)
        commit.hincrby(keys.stats, "two", 2)
        commit.xadd(keys.alerts, {"e": b"{}"})
        commit.hincrby(keys.stats, "two", 3)
        assert await commit.run(link) == 5
        assert await redis.hgetall(keys.stats) == {b"one": b"1", b"two": b"5"}
        assert await redis.xlen(keys.alerts) == 1
        await redis.script_flush()  # as after a Redis restart: loaded again
        again = Commit()
        again.hincrby(keys.stats, "two", 1)
        assert await again.run(link) == 6
        await redis.delete(keys.stats, keys.alerts)
        await redis.aclose()

    asyncio.run(main())


def test_the_first_failing_command_ends_the_batch_with_its_error(redis_url: str, keys: Keys
                                                                   ) -> None:
    """What follows a refused command does not run: nothing after it lands."""

    async def main() -> None:
        redis = await connect(redis_url)
        await redis.set(keys.alerts, "not a hash")
        commit = Commit()
        commit.hincrby(keys.stats, "before", 1)
        commit.hincrby(keys.alerts, "wrong", 1)
        commit.hincrby(keys.stats, "after", 1)
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await commit.run(Link(redis))
        assert await redis.hgetall(keys.stats) == {b"before": b"1"}
        await redis.delete(keys.stats, keys.alerts)
        await redis.aclose()

    asyncio.run(main())
