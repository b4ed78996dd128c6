from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from redis import asyncio as aioredis

from crosscurrent.events import Tick, decode, decode_entry
from streams.bus import FIELD, GroupReader, Retention, StreamWriter, entries_of
from streams.commit import Commit
from streams.keys import Keys
from streams.redis_client import BusUnavailableError, Link, client, connect, redact
from streams.redis_server import EmbeddedRedis
from tests.conftest import stream_events


def ticks(n: int, ident: str = "crypto:BTC") -> list[Tick]:
    return [Tick(id=ident, ts=i, price=100.0 + i) for i in range(n)]


async def write(url: str, keys: Keys, events: list[Tick], **options: int) -> StreamWriter:
    redis = await connect(url)
    writer = StreamWriter(redis, keys, **options)
    task = asyncio.create_task(writer.run())
    for event in events:
        await writer.put(event)
    await writer.flush()
    task.cancel()
    await redis.aclose()
    return writer


def test_writer_packs_each_streams_events_into_entries_with_counters(redis_url: str,
                                                                     keys: Keys) -> None:
    async def main() -> None:
        await write(redis_url, keys, ticks(1000) + ticks(10, "hk:HSI"), batch_size=64, pack=20)
        redis = await connect(redis_url)
        crypto = keys.events("crypto")
        assert await stream_events(redis, crypto) == ticks(1000)  # all, in order
        assert await stream_events(redis, keys.events("hk")) == ticks(10, "hk:HSI")
        raw: Any = await redis.xrange(crypto)
        sizes = [len(decode_entry(fields[FIELD])[0]) for _, fields in raw]
        assert max(sizes) == 20 and len(sizes) < 1000 / 10
        stats = await redis.hgetall(keys.stats)
        assert int(stats[f"bus.{crypto}.added".encode()]) == 1000
        assert int(stats[f"bus.{keys.events('hk')}.added".encode()]) == 10
        await redis.aclose()

    asyncio.run(main())


def test_pack_1_writes_an_entry_per_event(redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        await write(redis_url, keys, ticks(100), batch_size=64, pack=1)
        redis = await connect(redis_url)
        assert await redis.xlen(keys.events("crypto")) == 100
        assert await stream_events(redis, keys.events("crypto")) == ticks(100)
        await redis.aclose()

    asyncio.run(main())


def test_retention_keeps_at_least_maxlen_events_whatever_the_packing(redis_url: str,
                                                                     keys: Keys) -> None:
    async def main() -> None:
        await write(redis_url, keys, ticks(20_000), maxlen=1000, batch_size=500, pack=20)
        redis = await connect(redis_url)
        kept = await stream_events(redis, keys.events("crypto"))
        assert 1000 <= len(kept) < 20_000 / 4  # trimmed, never below maxlen
        assert kept == ticks(20_000)[-len(kept):]  # the newest
        await redis.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("sizes", [[1] * 50, [20] * 50, [1] * 30 + [20] * 30, [20] * 30 + [1] * 60,
                                   [(i * 7) % 20 + 1 for i in range(200)]])
def test_retention_floor_never_leaves_fewer_than_maxlen_events(sizes: list[int]) -> None:
    retention = Retention(maxlen=100)
    written: list[tuple[bytes, int]] = []
    for n, size in enumerate(sizes):
        entry_id = f"{n + 1}-0".encode()
        retention.added(entry_id, size)
        written.append((entry_id, size))
        floor = int(retention.floor.split(b"-")[0])
        kept = sum(size for entry_id, size in written if int(entry_id.split(b"-")[0]) >= floor)
        assert kept >= min(100, sum(s for _, s in written))
        if sum(s for _, s in written) > 300:  # trimming has begun, within a mark and an entry
            assert kept <= 100 + 1 + 20 + 20


def test_a_full_buffer_makes_producers_wait_instead_of_dropping(redis_url: str, keys: Keys
                                                                ) -> None:
    async def main() -> None:
        redis = await connect(redis_url)
        writer = StreamWriter(redis, keys, buffer=10)
        for event in ticks(10):
            await writer.put(event)
        with pytest.raises(TimeoutError):  # nobody drains: the 11th put waits
            await asyncio.wait_for(writer.put(ticks(11)[10]), 0.2)
        task = asyncio.create_task(writer.run())
        await writer.flush()
        task.cancel()
        assert await stream_events(redis, keys.events("crypto")) == ticks(10)
        await redis.aclose()

    asyncio.run(main())


def test_writer_rides_out_a_redis_restart(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    keys = Keys("cctest", "restart")

    async def main() -> None:
        redis = client(server.url)
        writer = StreamWriter(redis, keys, batch_size=10, flush_ms=1)
        task = asyncio.create_task(writer.run())
        for event in ticks(50):
            await writer.put(event)
        await writer.flush()
        server.kill()
        for event in ticks(100)[50:]:
            await writer.put(event)
        await asyncio.sleep(0.3)  # the writer is retrying against a dead server
        assert writer.retries > 0
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(writer.flush(), 20)
        task.cancel()
        # appendfsync everysec: what was acknowledged before the kill may be lost at most up
        # to one second; everything written after the restart must be there
        ids = [e.ts for e in await stream_events(redis, keys.events("crypto"))]
        assert ids[-50:] == list(range(50, 100))
        await redis.aclose()

    try:
        asyncio.run(main())
    finally:
        server.stop()


async def reading(url: str, keys: Keys, events: int, consumer: str, batch: int
                  ) -> tuple[aioredis.Redis, str, GroupReader]:
    """`events` ticks on the crypto stream, an entry each, and a reader of group "g" on it."""
    await write(url, keys, ticks(events), pack=1)
    redis = await connect(url)
    stream = keys.events("crypto")
    reader = GroupReader(redis, [stream], "g", consumer, batch=batch)
    await reader.ensure_groups()
    return redis, stream, reader


def test_group_reader_redelivers_unacknowledged_entries(redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        redis, stream, first = await reading(redis_url, keys, 30, "c1", batch=20)
        await first.ensure_groups()  # idempotent
        got = await first.read()
        assert len(got) == 20
        await redis.xack(stream, "g", *[e.id for e in got[:5]])
        # the same consumer restarted: its own 15 pending entries come first
        again = GroupReader(redis, [stream], "g", "c1", batch=20)
        pending = await again.read()
        assert [e.id for e in pending] == [e.id for e in got[5:]]
        assert len(await again.read()) == 10  # backlog done, nothing stale: the new ones
        assert await again.lag() == 25  # delivered, not acknowledged
        await redis.aclose()

    asyncio.run(main())


def test_a_commit_reads_the_next_entries_ahead_and_leaves_them_pending(redis_url: str,
                                                                      keys: Keys) -> None:
    async def main() -> None:
        redis, stream, reader = await reading(redis_url, keys, 30, "c1", batch=10)
        assert not reader.read_ahead(Commit())  # own pending entries and claims come first
        first = await reader.read()
        commit = Commit()
        commit.xack(stream, "g", *[e.id for e in first])
        assert reader.read_ahead(commit)
        ahead = entries_of(await commit.run(Link(redis)))
        assert [decode(e.payload).ts for e in ahead] == list(range(10, 20))
        assert await reader.lag() == 20  # 10 read ahead, not acknowledged; 10 not delivered
        # a crash before they were handled: the restarted consumer reads them first
        restarted = GroupReader(redis, [stream], "g", "c1", batch=10)
        assert [e.id for e in await restarted.read()] == [e.id for e in ahead]
        await redis.aclose()

    asyncio.run(main())


def test_a_new_consumer_claims_the_entries_of_a_dead_one(redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        redis, stream, dead = await reading(redis_url, keys, 10, "dead", batch=10)
        taken = await dead.read()
        await asyncio.sleep(0.05)
        alive = GroupReader(redis, [stream], "g", "alive", claim_idle_ms=20)
        claimed = await alive.read()
        assert [e.id for e in claimed] == [e.id for e in taken]
        await redis.aclose()

    asyncio.run(main())


def test_unreachable_redis_is_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    async def main() -> None:
        with pytest.raises(BusUnavailableError) as info:
            await connect(f"unix://:secret@{tmp_path}/none.sock")
        message = str(info.value)
        assert "cannot reach Redis" in message and "embedded" in message
        assert "secret" not in message

    asyncio.run(main())


def test_redact_hides_passwords() -> None:
    assert redact("redis://user:pw@host:1/0") == "redis://user:***@host:1/0"
    assert redact("redis://host:1/0") == "redis://host:1/0"


def test_entries_of_reads_every_reply_shape() -> None:
    """Raw (a script's or a link's), as redis-py parses it (RESP2 and RESP3), other fields
    beside ours, a trimmed entry, and a stream deleted while it was read."""
    raw = [[b"s", [[b"1-0", [b"e", b"a"]], [b"2-0", [b"x", b"1", b"e", b"b"]],
                   [b"3-0", None], [b"4-0", [b"x", b"1"]]]], [b"gone", None]]
    parsed = [[b"s", [(b"1-0", {b"e": b"a"}), (b"2-0", {b"x": b"1", b"e": b"b"})]]]
    resp3 = {b"s": [[b"1-0", {b"e": b"a"}]]}
    assert [(e.stream, e.id, e.payload) for e in entries_of(raw)] == [
        ("s", b"1-0", b"a"), ("s", b"2-0", b"b"), ("s", b"3-0", b""), ("s", b"4-0", b"")]
    assert [e.payload for e in entries_of(parsed)] == [b"a", b"b"]
    assert [e.payload for e in entries_of(resp3)] == [b"a"]
    assert entries_of(None) == []
