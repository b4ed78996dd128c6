from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date

import aiohttp
import orjson
import pytest

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedStatus, MarketEvent, Metric
from streams.defillama import DEX_QUERY, STABLECOINS_PATH, DefiLlamaProtocol
from streams.feed import FrameError
from streams.poll import HttpPoller, response_time_ms
from streams.simulators.defillama import DefiLlamaSimulator
from streams.tape import TapeEvent

IDS = ["tvl:lido", "tvl:superstate", "dexvol:curve-dex", "stable:USDT", "stable:USDC"]
FAST = FeedsConfig(backoff_initial_s=0.02, backoff_max_s=0.1, stale_after_s=5)


def test_paths_follow_the_real_api() -> None:
    assert DefiLlamaProtocol(IDS).paths() == [f"/summary/dexs/curve-dex{DEX_QUERY}",
                                              "/tvl/lido", "/tvl/superstate"]
    assert DefiLlamaProtocol(IDS, "stablecoins").paths() == [STABLECOINS_PATH]


def test_parses_real_response_shapes() -> None:
    proto, stables = DefiLlamaProtocol(IDS), DefiLlamaProtocol(IDS, "stablecoins")
    (tvl,) = proto.parse("/tvl/lido", b"24100000000.25", 5, 6)
    assert tvl == Metric(id="tvl:lido", ts=5, value=24100000000.25, source="defillama", recv_ns=6)
    (dex,) = proto.parse(f"/summary/dexs/curve-dex{DEX_QUERY}",
                         b'{"name":"Curve DEX","total24h":411350000,"change_1d":333.0}', 5, 6)
    assert isinstance(dex, Metric) and dex.value == 411350000
    body = orjson.dumps({"peggedAssets": [
        {"id": "1", "symbol": "USDT", "circulating": {"peggedUSD": 184.2e9}},
        {"id": "2", "symbol": "USDC", "circulating": {"peggedUSD": 76.5e9}},
        {"id": "3", "symbol": "DAI", "circulating": {"peggedUSD": 5e9}},
    ]})
    found = {e.id: e for e in stables.parse(STABLECOINS_PATH, body, 5, 6)}
    assert set(found) == {"stable:USDT", "stable:USDC"}


@pytest.mark.parametrize(("path", "body"), [
    ("/tvl/lido", b"not json"),
    ("/tvl/lido", b'"lots"'),
    (f"/summary/dexs/curve-dex{DEX_QUERY}", b"[]"),
    (f"/summary/dexs/curve-dex{DEX_QUERY}", b'{"total24h": null}'),
    (STABLECOINS_PATH, b'{"peggedAssets": [{"id": "1", "circulating": 3}]}'),
    (STABLECOINS_PATH, b"{}"),
])
def test_malformed_bodies_raise_frame_error(path: str, body: bytes) -> None:
    part = "stablecoins" if path == STABLECOINS_PATH else "protocols"
    with pytest.raises(FrameError):
        DefiLlamaProtocol(IDS, part).parse(path, body, 0, 0)


def test_response_time_comes_from_the_date_header() -> None:
    assert response_time_ms("Wed, 08 Apr 2026 08:00:00 GMT") == 1775635200000
    assert response_time_ms("garbage") > 1775635200000  # the local clock instead


async def with_poller(check: Callable[[DefiLlamaSimulator, HttpPoller, list[MarketEvent]],
                                      Awaitable[None]]) -> None:
    sim = DefiLlamaSimulator()
    await sim.start()
    events: list[MarketEvent] = []

    async def sink(event: MarketEvent | FeedStatus) -> None:
        if not isinstance(event, FeedStatus):
            events.append(event)

    poller = HttpPoller(DefiLlamaProtocol(IDS), sim.url, sink, FAST, interval_s=0.01)
    task = asyncio.create_task(poller.run())
    try:
        await sim.wait_subscribed(["tvl:lido"])
        await check(sim, poller, events)
    finally:
        task.cancel()
        await sim.stop()


def test_poller_delivers_every_published_value_with_its_tape_time() -> None:
    async def check(sim: DefiLlamaSimulator, poller: HttpPoller,
                    events: list[MarketEvent]) -> None:
        for i in range(5):
            await sim.publish(TapeEvent(ts=1775635200000 + i * 3_600_000, id="tvl:lido",
                                        value=24e9 + i))
        await asyncio.sleep(0.05)
        lido = [e for e in events if e.id == "tvl:lido"]
        assert [(e.ts, e.value) for e in lido if isinstance(e, Metric)] == \
            [(1775635200000 + i * 3_600_000, 24e9 + i) for i in range(5)]
        assert poller.not_modified > 0  # unchanged values come back as 304

    asyncio.run(with_poller(check))


def test_rate_limits_and_server_errors_are_counted_and_ridden_out(
        caplog: pytest.LogCaptureFixture) -> None:
    async def check(sim: DefiLlamaSimulator, poller: HttpPoller,
                    events: list[MarketEvent]) -> None:
        sim.fail_next(429, retry_after="0.05")
        sim.fail_next(500, count=2)
        await sim.publish(TapeEvent(ts=1, id="tvl:superstate", value=640e6))
        await sim.publish(TapeEvent(ts=2, id="tvl:superstate", value=486.4e6))
        assert poller.rate_limited == 1 and poller.errors == 2
        assert [e.value for e in events if isinstance(e, Metric)] == [640e6, 486.4e6]

    with caplog.at_level(logging.WARNING):
        asyncio.run(with_poller(check))
    assert "rate limited" in caplog.text and "500" in caplog.text


async def wait_until(done: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for a condition the servers and pollers make true (the test fails on timeout)."""
    async with asyncio.timeout(timeout):
        while not done():
            await asyncio.sleep(0.005)


Seen = list[tuple[Metric, int]]  # each value with the simulator's request count when it came


async def poll_simulator(sim: DefiLlamaSimulator, ids: list[str],
                         check: Callable[[HttpPoller, Seen, list[FeedStatus]], Awaitable[None]]
                         ) -> None:
    await sim.start()
    seen: Seen = []
    statuses: list[FeedStatus] = []

    async def sink(event: MarketEvent | FeedStatus) -> None:
        if isinstance(event, FeedStatus):
            statuses.append(event)
        elif isinstance(event, Metric):
            seen.append((event, sim.messages_received))

    poller = HttpPoller(DefiLlamaProtocol(ids), sim.url, sink, FAST, interval_s=0.01)
    task = asyncio.create_task(poller.run())
    try:
        await check(poller, seen, statuses)
        assert not task.done()  # still polling: nothing stopped it
    finally:
        task.cancel()
        await sim.stop()


@pytest.mark.parametrize(("ids", "bad", "renamed"), [
    (["dexvol:curve-dex", "tvl:ghost", "tvl:lido"], "ghost", set()),  # not a slug at all
    (["dexvol:curve-dex", "tvl:lido", "tvl:superstate"], "lido", {"lido"}),  # renamed
])
def test_a_slug_answering_400_is_skipped_and_the_others_go_on(
        caplog: pytest.LogCaptureFixture, ids: list[str], bad: str, renamed: set[str]) -> None:
    bad_path = f"/tvl/{bad}"
    good = [i for i in ids if i != f"tvl:{bad}"]

    async def check(poller: HttpPoller, seen: Seen, statuses: list[FeedStatus]) -> None:
        await wait_until(lambda: {m.id for m, _ in seen} == set(good))
        # the first round (one request per path, the 400 in the middle) delivered both
        assert all(requests <= len(ids) for _, requests in seen)
        assert [m.value for m, _ in seen] == [1.0, 2.0]
        for n, ident in enumerate(good):  # later rounds keep updating them
            await sim.publish(TapeEvent(ts=1775635200000 + n, id=ident, value=10.0 + n))
        assert [m.value for m, _ in seen][-2:] == [10.0, 11.0]
        later = sim.messages_received + 2 * 5
        await wait_until(lambda: sim.messages_received >= later)  # five more rounds
        assert sim.refused == {bad_path: 1}  # asked once, never again
        assert poller.refused == {bad_path: 400}
        assert poller.errors == 0 and poller.rate_limited == 0
        assert [s.detail for s in statuses if "refused" in s.detail] == \
            [f"refused: {bad_path} (HTTP 400)"]

    sim = DefiLlamaSimulator()
    sim.unknown_slugs = renamed
    for n, ident in enumerate(good):
        sim.values[ident] = (1.0 + n, 1775635200000)
    with caplog.at_level(logging.INFO, logger="streams.poll"):
        asyncio.run(poll_simulator(sim, ids, check))
    lines = [r for r in caplog.records if bad_path in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert "defillama: GET /tvl/" in lines[0].getMessage()
    assert "HTTP 400 (unknown or renamed id): skipped" in lines[0].getMessage()


def test_not_published_yet_404_is_asked_again_every_round(
        caplog: pytest.LogCaptureFixture) -> None:
    ids = ["tvl:lido", "tvl:superstate"]

    async def check(poller: HttpPoller, seen: Seen, statuses: list[FeedStatus]) -> None:
        await wait_until(lambda: sim.messages_received >= 2 * 4)  # four rounds of both
        assert poller.refused == {"/tvl/lido": 404, "/tvl/superstate": 404}
        assert seen == [] and poller.errors == 0
        await sim.publish(TapeEvent(ts=1775635200000, id="tvl:superstate", value=5e8))
        assert [m.value for m, _ in seen] == [5e8]
        assert poller.refused == {"/tvl/lido": 404}  # published: no longer refused
        assert not any("refused" in s.detail for s in statuses)

    sim = DefiLlamaSimulator()
    with caplog.at_level(logging.INFO, logger="streams.poll"):
        asyncio.run(poll_simulator(sim, ids, check))
    assert sim.refused == {}  # known slugs: never a 400
    told = [r for r in caplog.records if "HTTP 404" in r.getMessage()]
    assert sorted(r.getMessage().split()[2] for r in told) == ["/tvl/lido", "/tvl/superstate"]
    assert all(r.levelno == logging.INFO for r in told)  # once each, not a warning


def test_simulator_answers_400_to_unknown_slugs_as_the_real_service() -> None:
    async def main() -> dict[str, tuple[int, str]]:
        sim = DefiLlamaSimulator()
        sim.history = {"tvl:lido": [(date(2026, 4, 7), 24e9)]}
        await sim.start()
        got: dict[str, tuple[int, str]] = {}
        try:
            async with aiohttp.ClientSession() as http:
                for path in ["/tvl/ghost", f"/summary/dexs/ghost{DEX_QUERY}", "/protocol/ghost",
                             "/tvl/lido", "/protocol/lido", "/tvl/superstate"]:
                    if path == "/tvl/superstate":
                        sim.unknown_slugs.add("superstate")
                    async with http.get(sim.url + path) as response:
                        got[path.partition("?")[0]] = (response.status, await response.text())
        finally:
            await sim.stop()
        return got

    got = asyncio.run(main())
    assert got["/tvl/ghost"] == (400, "Protocol is not in our database")
    assert got["/protocol/ghost"] == (400, "Protocol is not in our database")
    assert got["/summary/dexs/ghost"] == (400, "Protocol not found")
    assert got["/tvl/superstate"][0] == 400  # renamed
    assert got["/tvl/lido"][0] == 404  # known, not published yet
    status, body = got["/protocol/lido"]  # a known slug's history, as before
    assert status == 200
    assert orjson.loads(body)["tvl"] == [{"date": 1775520000, "totalLiquidityUSD": 24e9}]
