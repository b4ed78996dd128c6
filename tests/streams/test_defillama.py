from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

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
