from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ResponseError

from streams.bus import entries_of
from streams.commit import MAX_IDS, Commit, command
from streams.keys import Keys
from streams.redis_client import Link, connect, encoded


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


def test_counters_are_one_step_and_encoded_commands_go_as_they_are(redis_url: str, keys: Keys
                                                                    ) -> None:
    """COUNTERS adds to the minute's hash and the all-time one (unless named "") and has
    the minute's expire; commands encoded once (`encoded`, `command`) run like any other."""

    async def main() -> None:
        redis = await connect(redis_url)
        stream, minute = keys.events("crypto"), keys.stats_at(1)
        await redis.xgroup_create(stream, "g", id="0", mkstream=True)
        first = await redis.xadd(stream, {"e": b"1"})
        assert isinstance(first, bytes)
        await redis.xreadgroup("g", "c", {stream: ">"}, count=1)
        second = await redis.xadd(stream, {"e": b"2"})
        commit = Commit()
        commit.counters(minute, keys.stats, {"a": 2, "b": 3}, 60)
        commit.counters(minute, "", {"c": 1}, 60)  # the minute's alone
        commit.acknowledge(encoded("XACK", stream, "g"), [first])
        commit.add(command("XREADGROUP", "GROUP", "g", "c", "COUNT", 10, "STREAMS", stream,
                           ">"))
        assert commit.encoding()[0] == len(commit.args) - 2 + 3 + 10  # the runs, unrolled
        (entry,) = entries_of(await commit.run(Link(redis)))
        assert (entry.id, entry.payload) == (second, b"2")  # the read, last, is the reply
        assert await redis.hgetall(keys.stats) == {b"a": b"2", b"b": b"3"}
        assert await redis.hgetall(minute) == {b"a": b"2", b"b": b"3", b"c": b"1"}
        assert 0 < await redis.ttl(minute) <= 60
        assert (await redis.xpending(stream, "g"))["pending"] == 1  # the first acknowledged
        await redis.delete(stream, keys.stats, minute)
        await redis.aclose()

    asyncio.run(main())


def test_a_failing_counter_step_ends_the_batch_with_its_error(redis_url: str, keys: Keys
                                                              ) -> None:
    async def main() -> None:
        redis = await connect(redis_url)
        await redis.set(keys.alerts, "not a hash")
        commit = Commit()
        commit.hincrby(keys.stats, "before", 1)
        commit.counters(keys.stats_at(1), keys.alerts, {"n": 1}, 60)
        commit.hincrby(keys.stats, "after", 1)
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await commit.run(Link(redis))
        assert await redis.hgetall(keys.stats) == {b"before": b"1"}
        await redis.delete(keys.stats, keys.alerts, keys.stats_at(1))
        await redis.aclose()

    asyncio.run(main())
