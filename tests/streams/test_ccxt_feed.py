"""The unmodified ccxt.pro client against our simulators (REST markets + websocket)."""

from __future__ import annotations

import asyncio

import pytest

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedStatus, MarketEvent, Metric, Tick
from streams.ccxt_feed import CcxtFeed
from streams.simulators.binance import BinanceSimulator
from streams.simulators.coinbase import CoinbaseSimulator
from streams.simulators.okx import OkxSimulator
from streams.tape import TapeEvent

FAST = FeedsConfig(backoff_initial_s=0.05, backoff_max_s=0.2)


EXCHANGES = {"binance": {"btcusdt@trade", "btcusdt@ticker"},
             "okx": {"trades:BTC-USDT", "tickers:BTC-USDT"},
             "coinbase": {"market_trades:BTC-USD", "ticker:BTC-USD"}}
SYMBOLS = {"binance": "BTC/USDT", "okx": "BTC/USDT", "coinbase": "BTC/USD"}


def simulator(exchange: str) -> BinanceSimulator | OkxSimulator | CoinbaseSimulator:
    if exchange == "okx":
        return OkxSimulator({"crypto:BTC": "BTC-USDT"})
    if exchange == "coinbase":
        return CoinbaseSimulator({"crypto:BTC": "BTC-USD"})
    return BinanceSimulator()


async def run_feed(trades_limit: int, events: int, slow_sink: float = 0.0,
                   exchange: str = "binance") -> tuple[CcxtFeed, list[Tick]]:
    sim = simulator(exchange)
    await sim.start()
    ticks: list[Tick] = []

    async def sink(event: MarketEvent | FeedStatus) -> None:
        if isinstance(event, Tick):
            ticks.append(event)
            if slow_sink:
                await asyncio.sleep(slow_sink)

    feed = CcxtFeed(exchange, {"crypto:BTC": SYMBOLS[exchange]}, sink, FAST,
                    trades_limit=trades_limit, overrides=sim.ccxt_overrides())
    task = asyncio.create_task(feed.run())
    try:
        await sim.wait_topics(EXCHANGES[exchange], timeout=20)
        await sim.publish(TapeEvent(ts=1775635100000, id="crypto:BTC", value=69999.0))
        async with asyncio.timeout(10):  # a first trade through: gaps count from there
            while not any(t.volume is not None for t in ticks):
                await asyncio.sleep(0.01)
        for i in range(events):
            await sim.publish(TapeEvent(ts=1775635200000 + i, id="crypto:BTC",
                                        value=70000.0 + i, prev_close=68000.0))
        # ccxt hands out what it cached only with the next message: keep trades coming
        # (as a live market does) until one after the burst is through
        async with asyncio.timeout(20):
            closing = 80000.0
            while not any(t.price >= 80000.0 and t.volume is not None for t in ticks):
                await sim.publish(TapeEvent(ts=1775635300000, id="crypto:BTC", value=closing))
                closing += 1
                await asyncio.sleep(0.1)
        return feed, ticks
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()


@pytest.mark.parametrize("exchange", sorted(EXCHANGES))
def test_trades_and_full_tickers_through_ccxt(exchange: str) -> None:
    feed, ticks = asyncio.run(run_feed(trades_limit=1000, events=5, exchange=exchange))
    trades = [t for t in ticks if t.volume is not None]
    tickers = [t for t in ticks if t.volume is None]
    assert [t.price for t in trades][:6] == [69999.0] + [70000.0 + i for i in range(5)]
    assert all(t.source == f"ccxt:{exchange}" and t.id == "crypto:BTC" for t in ticks)
    # the full ticker carries the 24 h open (Coinbase: derived by ccxt from the 24 h change)
    assert tickers and tickers[-1].prev_close == pytest.approx(68000.0)
    assert tickers[-1].day_volume is not None
    assert feed.drops == 0 and feed.malformed == 0


def test_a_burst_beyond_trades_limit_is_counted_not_silent() -> None:
    feed, ticks = asyncio.run(run_feed(trades_limit=3, events=60, slow_sink=0.02))
    trades = [t for t in ticks if t.volume is not None]
    assert feed.drops > 0
    # every trade up to the last one delivered was either delivered or counted as dropped
    first_id = 1_000_001
    assert len(trades) + feed.drops == feed.last_trade_ids["crypto:BTC"] - first_id + 1


def test_unknown_exchange_is_refused() -> None:
    with pytest.raises(ValueError, match="no exchange 'nope'"):
        CcxtFeed("nope", {}, lambda e: asyncio.sleep(0), FeedsConfig())


def test_funding_from_another_venue_through_ccxt() -> None:
    """Where Binance refuses the region, funding comes from OKX's funding-rate channel."""

    async def main() -> list[Metric]:
        sim = OkxSimulator({"funding:BTC": "BTC-USDT-SWAP"})
        await sim.start()
        found: list[Metric] = []

        async def sink(event: MarketEvent | FeedStatus) -> None:
            if isinstance(event, Metric):
                found.append(event)

        feed = CcxtFeed("okx", {"funding:BTC": "BTC/USDT:USDT"}, sink, FAST,
                        overrides=sim.ccxt_overrides())
        task = asyncio.create_task(feed.run())
        try:
            await sim.wait_topics({"funding-rate:BTC-USDT-SWAP"}, timeout=20)
            await sim.publish(TapeEvent(ts=1775635200000, id="funding:BTC", value=0.00031))
            async with asyncio.timeout(10):
                while not found:
                    await asyncio.sleep(0.01)
            return found
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.stop()

    (metric,) = asyncio.run(main())
    assert (metric.id, metric.value, metric.source) == ("funding:BTC", 0.00031, "ccxt:okx")
