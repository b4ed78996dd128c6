from __future__ import annotations

import asyncio

import pytest

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedStatus, MarketEvent, Metric
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
