"""The websocket feed runtime against real simulators on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedState, FeedStatus, MarketEvent, Tick
from streams.binance import BinanceProtocol
from streams.feed import SourceProtocol, WebsocketFeed
from streams.simulators.binance import BinanceSimulator
from streams.simulators.server import SimulatorServer
from streams.simulators.yahoo import YahooSimulator
from streams.tape import TapeEvent
from streams.yahoo import YahooProtocol

FAST = FeedsConfig(backoff_initial_s=0.05, backoff_max_s=0.2, stale_after_s=5)


class Collected:
    def __init__(self) -> None:
        self.events: list[MarketEvent | FeedStatus] = []

    async def __call__(self, event: MarketEvent | FeedStatus) -> None:
        self.events.append(event)

    @property
    def ticks(self) -> list[Tick]:
        return [e for e in self.events if isinstance(e, Tick)]

    @property
    def trades(self) -> list[float]:
        return [t.price for t in self.ticks if t.volume]

    def states(self) -> list[FeedState]:
        return [e.state for e in self.events if isinstance(e, FeedStatus)]


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def feeding(sim: SimulatorServer, protocol: Callable[[str], SourceProtocol],
                  config: FeedsConfig = FAST, backfill: bool = False, **options: Any
                  ) -> AsyncIterator[tuple[WebsocketFeed, Collected]]:
    """A started simulator and a running feed on it (`protocol` gets the simulator's URL;
    `backfill`: gaps are backfilled from the simulator's REST endpoints)."""
    await sim.start()
    sink = Collected()
    if backfill:
        options["rest_url"] = sim.url.replace("ws://", "http://")
    feed = WebsocketFeed(protocol(sim.url), sink, config, **options)
    task = asyncio.create_task(feed.run())
    try:
        yield feed, sink
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()


def btc(url: str) -> BinanceProtocol:
    return BinanceProtocol(url, ["crypto:BTC"])


def hsi(url: str) -> YahooProtocol:
    return YahooProtocol(url, ["hk:HSI"], resubscribe_s=60)


def test_binance_feed_counts_malformed_frames_and_goes_on(caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    async def main() -> None:
        sim = BinanceSimulator()
        async with feeding(sim, btc) as (feed, sink):
            await sim.wait_subscribed(["crypto:BTC"])
            await sim.publish(TapeEvent(ts=1, id="crypto:BTC", value=70000.0,
                                        prev_close=68000.0))
            await sim.send_raw("{this is not json")
            await sim.send_raw('{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT"}}')
            await sim.publish(TapeEvent(ts=2, id="crypto:BTC", value=71000.0))
            await until(lambda: len(sink.ticks) == 4)
            assert feed.malformed == 2 and feed.frames == 6
            assert [t.price for t in sink.ticks] == [70000.0, 70000.0, 71000.0, 71000.0]
            assert sink.ticks[-1].prev_close == 68000.0

    with caplog.at_level(logging.WARNING):
        asyncio.run(main())
    assert "binance: malformed frame #1 skipped" in caplog.text


def test_feed_reconnects_after_a_dropped_connection() -> None:
    async def main() -> None:
        sim = YahooSimulator()
        async with feeding(sim, hsi) as (feed, sink):
            await sim.wait_subscribed(["hk:HSI"])
            await sim.drop_clients()
            await until(lambda: feed.reconnects >= 1 and feed.state == FeedState.CONNECTED)
            await sim.wait_subscribed(["hk:HSI"])
            await sim.publish(TapeEvent(ts=5, id="hk:HSI", value=25180.5, prev_close=25357.0))
            await until(lambda: len(sink.ticks) == 1)
            assert sink.ticks[0].price == 25180.5
            states = sink.states()
            assert states[:2] == [FeedState.CONNECTING, FeedState.CONNECTED]
            assert FeedState.DISCONNECTED in states and states[-1] == FeedState.CONNECTED

    asyncio.run(main())


def test_a_disconnect_storm_is_ridden_out() -> None:
    async def main() -> None:
        sim = YahooSimulator()
        async with feeding(sim, hsi) as (feed, sink):
            for n in range(10):  # every new connection is dropped as soon as it subscribes
                await until(lambda n=n: feed.reconnects == n  # type: ignore[misc]
                            and feed.state == FeedState.CONNECTED)
                await sim.wait_subscribed(["hk:HSI"])
                await sim.drop_clients()
            await until(lambda: feed.reconnects >= 10 and feed.state == FeedState.CONNECTED,
                        timeout=30)
            await sim.wait_subscribed(["hk:HSI"])
            await sim.publish(TapeEvent(ts=5, id="hk:HSI", value=25180.5, prev_close=25357.0))
            await until(lambda: len(sink.ticks) == 1)
            assert sink.states().count(FeedState.DISCONNECTED) >= 10
            assert sink.ticks[0].price == 25180.5

    asyncio.run(main())


def test_a_reconnect_reports_the_gap() -> None:
    async def main() -> None:
        sim = BinanceSimulator()
        async with feeding(sim, btc) as (feed, sink):
            await sim.wait_subscribed(["crypto:BTC"])
            await sim.drop_clients()
            await until(lambda: feed.reconnects >= 1 and feed.state == FeedState.CONNECTED)
            gaps = [e for e in sink.events if isinstance(e, FeedStatus) and e.gap_ms > 0]
            assert len(gaps) == 1 and gaps[0].state == FeedState.CONNECTED
            assert "events in that gap were not received" in gaps[0].detail

    asyncio.run(main())


def test_a_silent_connection_is_reported_stale_and_replaced() -> None:
    async def main() -> None:
        config = FeedsConfig(backoff_initial_s=0.05, backoff_max_s=0.1, stale_after_s=0.3)
        async with feeding(YahooSimulator(), hsi, config) as (feed, sink):
            await until(lambda: FeedState.STALE in sink.states() and feed.reconnects >= 1)

    asyncio.run(main())


def test_silence_while_markets_are_closed_is_closed_not_stale() -> None:
    async def main() -> None:
        sim = YahooSimulator()
        config = FeedsConfig(backoff_initial_s=0.05, backoff_max_s=0.1, stale_after_s=0.2)
        market = {"open": False}
        async with feeding(sim, hsi, config, market_open=lambda: market["open"]) as (feed, sink):
            await until(lambda: FeedState.CLOSED in sink.states())
            await asyncio.sleep(0.5)
            assert FeedState.STALE not in sink.states() and feed.reconnects == 0
            await sim.publish(TapeEvent(ts=5, id="hk:HSI", value=25180.5, prev_close=25357.0))
            await until(lambda: sink.states()[-1] == FeedState.CONNECTED)  # data again
            market["open"] = True  # the market opens and the feed goes silent: that is stale
            await until(lambda: FeedState.STALE in sink.states())

    asyncio.run(main())


def test_yahoo_resubscribes_periodically() -> None:
    async def main() -> None:
        sim = YahooSimulator()
        async with feeding(sim, lambda url: YahooProtocol(url, ["hk:HSI"], resubscribe_s=0.05)):
            await sim.wait_subscribed(["hk:HSI"])
            before = sim.messages_received
            await until(lambda: sim.messages_received >= before + 3)

    asyncio.run(main())


def test_trades_missed_while_reconnecting_are_backfilled_once() -> None:
    async def main() -> tuple[WebsocketFeed, Collected]:
        sim = BinanceSimulator()
        config = FeedsConfig(backoff_initial_s=0.3, backoff_max_s=0.3)
        async with feeding(sim, btc, config, backfill=True) as (feed, sink):
            await sim.wait_subscribed(["crypto:BTC"])
            for i in range(3):
                await sim.publish(TapeEvent(ts=i, id="crypto:BTC", value=70000.0 + i))
            await until(lambda: len(sink.trades) == 3)
            await sim.drop_clients()
            for i in range(3, 8):  # while the feed waits to reconnect: nobody receives these
                await sim.publish(TapeEvent(ts=i, id="crypto:BTC", value=70000.0 + i))
            await until(lambda: feed.reconnects >= 1 and feed.state == FeedState.CONNECTED)
            await sim.wait_subscribed(["crypto:BTC"])
            for i in range(8, 10):
                await sim.publish(TapeEvent(ts=i, id="crypto:BTC", value=70000.0 + i))
            await until(lambda: len(sink.trades) >= 10)
            await asyncio.sleep(0.1)
            return feed, sink

    feed, sink = asyncio.run(main())
    assert sink.trades == [70000.0 + i for i in range(10)]  # all of them, once, in order
    # trades 3-7 were missed; 8-9 may land while the backfill request is in flight, and then
    # come over REST, their stream copies being dropped as duplicates
    assert isinstance(feed.protocol, BinanceProtocol)
    assert feed.backfilled >= 5 and feed.protocol.duplicates == feed.backfilled - 5
    details = [e.detail for e in sink.events if isinstance(e, FeedStatus)]
    assert f"backfilled {feed.backfilled} events over REST" in details


def test_a_gap_longer_than_the_endpoint_reaches_is_reported() -> None:
    proto = BinanceProtocol("ws://x", ["crypto:BTC"])
    proto.last_trade_id["BTCUSDT"] = 100
    rows = [{"id": i, "price": "1", "qty": "1", "time": i} for i in range(2000, 3000)]
    events, missing = proto.parse_backfill("/api/v3/trades?symbol=BTCUSDT&limit=1000",
                                           orjson.dumps(rows), 0)
    assert len(events) == 1000 and missing == 1899
    assert proto.backfill_paths() == ["/api/v3/trades?symbol=BTCUSDT&limit=1000"]
    assert proto.last_trade_id["BTCUSDT"] == 2999


def test_a_skipped_trade_id_is_recovered_over_rest() -> None:
    async def main() -> tuple[WebsocketFeed, Collected]:
        sim = BinanceSimulator()
        async with feeding(sim, btc, backfill=True) as (feed, sink):
            await sim.wait_subscribed(["crypto:BTC"])
            for i in range(6):
                if i == 2:
                    sim.skip_trades(2)  # trades 2 and 3 never reach the stream
                await sim.publish(TapeEvent(ts=i, id="crypto:BTC", value=70000.0 + i))
            await until(lambda: len(sink.trades) >= 6)
            return feed, sink

    feed, sink = asyncio.run(main())
    # 0, 1, then 4 (which reveals the gap), the recovered 2 and 3, then 5
    assert sink.trades == [70000.0 + i for i in (0, 1, 4, 2, 3, 5)]
    assert feed.sequence_gaps == 1 and feed.backfilled == 2 and feed.skipped_lost == 0
    details = [e.detail for e in sink.events if isinstance(e, FeedStatus)]
    assert "sequence gap: 2 skipped events recovered over REST" in details


def test_a_skipped_trade_id_without_rest_is_counted_lost() -> None:
    async def main() -> tuple[WebsocketFeed, Collected]:
        sim = BinanceSimulator()
        async with feeding(sim, btc) as (feed, sink):
            await sim.wait_subscribed(["crypto:BTC"])
            await sim.publish(TapeEvent(ts=0, id="crypto:BTC", value=70000.0))
            sim.skip_trades(3)
            for i in range(1, 5):
                await sim.publish(TapeEvent(ts=i, id="crypto:BTC", value=70000.0 + i))
            await until(lambda: len(sink.trades) >= 2)
            return feed, sink

    feed, sink = asyncio.run(main())
    assert sink.trades == [70000.0, 70004.0]
    assert feed.sequence_gaps == 1 and feed.skipped_lost == 3


def test_gap_recovery_reports_what_the_endpoint_no_longer_has() -> None:
    proto = BinanceProtocol("ws://x", ["crypto:BTC"])
    for trade_id in (10, 11, 15):
        proto.parse(orjson.dumps({"e": "trade", "s": "BTCUSDT", "t": trade_id, "p": "1",
                                  "q": "1", "T": trade_id}), 0)
    (gap,) = proto.gaps
    assert (gap.after, gap.before, gap.size) == (11, 15, 3)
    rows = [{"id": i, "price": "2", "qty": "1", "time": i} for i in (13, 14, 15, 16)]
    events, missing = proto.parse_gap(gap, orjson.dumps(rows), 0)
    assert [e.ts for e in events] == [13, 14] and missing == 1


def test_a_yahoo_symbol_silent_while_its_market_is_open_is_a_health_event() -> None:
    """Frames flow for Hang Seng (its market closed at that hour) but none for the S&P 500
    while New York trades: the connection turns `silent`, naming ^GSPC only."""
    new_york_open = 1775574000000  # 2026-04-07 15:00 UTC, a Tuesday: NYSE open, HKEX closed

    def protocol(url: str) -> YahooProtocol:
        return YahooProtocol(url, ["hk:HSI", "us:SPX"], resubscribe_s=60,
                             clock=lambda: new_york_open)

    async def main() -> FeedStatus:
        sim = YahooSimulator()
        config = FeedsConfig(backoff_initial_s=0.05, backoff_max_s=0.2, stale_after_s=1)
        async with feeding(sim, protocol, config) as (feed, sink):
            await sim.wait_subscribed(["hk:HSI", "us:SPX"])
            for n in range(40):
                await sim.publish(TapeEvent(ts=new_york_open + n, id="hk:HSI", value=25000.0,
                                            prev_close=25100.0))
                await asyncio.sleep(0.05)
                if feed.state == FeedState.SILENT:
                    break
            assert feed.state == FeedState.SILENT
            return next(e for e in sink.events
                        if isinstance(e, FeedStatus) and e.state == FeedState.SILENT)

    status = asyncio.run(main())
    assert "^GSPC" in status.detail and "^HSI" not in status.detail
    assert "Yahoo sends a symbol only while it trades" in status.detail
