from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
import pytest

from crosscurrent.config import Config, FeedsConfig, load_config
from crosscurrent.events import FeedState, FeedStatus, MarketEvent, Metric
from crosscurrent.sources import build_feeds
from streams.coingecko import GLOBAL_PATH, CoinGeckoProtocol
from streams.feed import FrameError
from streams.poll import HttpPoller
from streams.simulators.coingecko import CoinGeckoSimulator
from streams.tape import TapeEvent


def test_global_market_cap_through_the_simulator() -> None:
    async def main() -> list[MarketEvent]:
        sim = CoinGeckoSimulator()
        await sim.start()
        events: list[MarketEvent] = []

        async def sink(event: MarketEvent | FeedStatus) -> None:
            if not isinstance(event, FeedStatus):
                events.append(event)

        poller = HttpPoller(CoinGeckoProtocol(["crypto:TOTAL_MCAP"]), sim.url, sink,
                            FeedsConfig(), interval_s=0.01)
        task = asyncio.create_task(poller.run())
        await sim.wait_subscribed(["crypto:TOTAL_MCAP"])
        await sim.publish(TapeEvent(ts=1775635200000, id="crypto:TOTAL_MCAP", value=2.53e12))
        await asyncio.sleep(0.03)
        task.cancel()
        await sim.stop()
        return events

    (metric,) = asyncio.run(main())
    assert isinstance(metric, Metric)
    assert (metric.id, metric.ts, metric.value) == ("crypto:TOTAL_MCAP", 1775635200000, 2.53e12)


@pytest.mark.parametrize("body", [b"{}", b'{"data":{"total_market_cap":{"usd":"big"}}}', b"<"])
def test_malformed_bodies_raise_frame_error(body: bytes) -> None:
    with pytest.raises(FrameError):
        CoinGeckoProtocol(["crypto:TOTAL_MCAP"]).parse(GLOBAL_PATH, body, 0, 0)


KEY = "CG-sim-demo-key-7f3a"
MCAP = TapeEvent(ts=1775635200000, id="crypto:TOTAL_MCAP", value=2.53e12)


async def wait_until(done: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not done():
            await asyncio.sleep(0.005)


def test_the_protocol_sends_the_key_header_of_its_plan() -> None:
    ids = ["crypto:TOTAL_MCAP"]
    assert CoinGeckoProtocol(ids).headers() == {}
    assert CoinGeckoProtocol(ids, api_key=KEY).headers() == {"x-cg-demo-api-key": KEY}
    assert CoinGeckoProtocol(ids, api_key=KEY, api_plan="pro").headers() == \
        {"x-cg-pro-api-key": KEY}
    assert KEY not in repr(CoinGeckoProtocol(ids, api_key=KEY))


def test_simulator_with_a_demo_key_answers_401_in_coingecko_shape() -> None:
    async def main() -> list[tuple[int, object]]:
        sim = CoinGeckoSimulator(demo_key=KEY)
        sim.values["crypto:TOTAL_MCAP"] = (2.53e12, MCAP.ts)
        await sim.start()
        got: list[tuple[int, object]] = []
        try:
            async with aiohttp.ClientSession() as http:
                for headers in [{}, {"x-cg-demo-api-key": "CG-wrong"},
                                {"x-cg-demo-api-key": KEY}]:
                    async with http.get(sim.url + GLOBAL_PATH, headers=headers) as response:
                        got.append((response.status, await response.json()))
        finally:
            await sim.stop()
        return got

    missing, wrong, right = asyncio.run(main())
    assert missing == (401, {"status": {"error_code": 10002, "error_message": "API Key Missing"}})
    assert wrong[0] == 401 and wrong[1] == {"status": {"error_code": 10010,
                                                       "error_message": "Invalid API Key"}}
    assert right[0] == 200


async def poll_keyed_simulator(key: str | None, config: Config | None = None
                               ) -> tuple[CoinGeckoSimulator, list[MarketEvent],
                                          list[FeedStatus], int]:
    """Poll a simulator that wants KEY for about 0.5 s with `key` (through build_feeds when a
    config is given); publish a value if the key is right."""
    sim = CoinGeckoSimulator(demo_key=KEY)
    await sim.start()
    events: list[MarketEvent] = []
    statuses: list[FeedStatus] = []

    async def sink(event: MarketEvent | FeedStatus) -> None:
        if isinstance(event, FeedStatus):
            statuses.append(event)
        else:
            events.append(event)

    if config is None:
        poller = HttpPoller(CoinGeckoProtocol(["crypto:TOTAL_MCAP"], api_key=key), sim.url,
                            sink, FeedsConfig(backoff_initial_s=0.01), interval_s=0.05)
    else:
        (feed,) = build_feeds("coingecko", ["crypto:TOTAL_MCAP"], config, sink, sim.url,
                              poll_s=0.05)
        assert isinstance(feed, HttpPoller)
        poller = feed
    task = asyncio.create_task(poller.run())
    try:
        if key == KEY:
            await sim.publish(MCAP, timeout=5)
        else:
            await asyncio.sleep(0.5)
        assert not task.done()  # no crash: still polling
        refused = poller.key_refused
    finally:
        task.cancel()
        await sim.stop()
    return sim, events, statuses, refused


def test_the_configured_demo_key_gets_the_value(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        sim, events, _, refused = asyncio.run(poll_keyed_simulator(KEY))
    assert [(e.id, e.value) for e in events if isinstance(e, Metric)] == \
        [("crypto:TOTAL_MCAP", 2.53e12)]
    assert sim.key_refused == 0 and refused == 0
    assert KEY not in caplog.text


@pytest.mark.parametrize(("key", "told"), [
    (None, "no API key is configured: set sources.coingecko.api_key (environment: "
           "CROSSCURRENT_SOURCES_COINGECKO_API_KEY)"),
    ("CG-a-wrong-key", "check sources.coingecko.api_key"),
])
def test_a_refused_key_is_one_line_naming_the_setting_and_polling_goes_on(
        caplog: pytest.LogCaptureFixture, key: str | None, told: str) -> None:
    with caplog.at_level(logging.DEBUG):
        sim, events, statuses, refused = asyncio.run(poll_keyed_simulator(key))
    assert events == []
    # asked again at its interval (0.05 s for 0.5 s): neither given up nor spinning
    assert 3 <= sim.key_refused <= 15 and refused == sim.key_refused
    lines = [r.getMessage() for r in caplog.records if r.name == "streams.poll"]
    assert len(lines) == 1
    assert "coingecko: GET /api/v3/global answered HTTP 401" in lines[0] and told in lines[0]
    assert [s.detail for s in statuses if s.state == FeedState.DISCONNECTED] == \
        ["HTTP 401: the API key was refused"]
    assert KEY not in caplog.text and "CG-a-wrong-key" not in caplog.text


def test_the_key_from_the_environment_reaches_the_poller(
        caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(env={"CROSSCURRENT_SOURCES_COINGECKO_API_KEY": KEY})
    assert config.sources.coingecko.api_key == KEY
    assert config.sources.coingecko.api_plan == "demo"
    assert load_config(env={}).sources.coingecko.api_key is None
    with caplog.at_level(logging.DEBUG):
        sim, events, _, _ = asyncio.run(poll_keyed_simulator(KEY, config))
    assert [e.value for e in events if isinstance(e, Metric)] == [2.53e12]
    assert sim.key_refused == 0
    assert KEY not in caplog.text


def test_the_pro_plan_goes_to_the_pro_host() -> None:
    pro = load_config(env={"CROSSCURRENT_SOURCES_COINGECKO_API_PLAN": "pro"}).sources.coingecko
    assert pro.base_url() == "https://pro-api.coingecko.com"
    assert load_config(env={}).sources.coingecko.base_url() == "https://api.coingecko.com"
