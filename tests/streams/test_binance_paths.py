"""Binance's paths as the real hosts serve them today (shared/spec/live-sources.md): USD-M
market data under /public and /market, the old root silent for tickers and funding, COIN-M
either way by config, and HTTP 451 from refused regions. Real simulators, real feeds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import orjson
import pytest
import websockets

from crosscurrent.config import FeedsConfig, load_config
from crosscurrent.events import FeedState, FeedStatus, Metric, Quote, Tick
from crosscurrent.sources import build_feeds
from streams.feed import WebsocketFeed
from streams.simulators.binance import BinanceSimulator, Layout
from streams.tape import TapeEvent
from tests.streams.test_feed import Collected, until

T0 = 1775635200000
FAST = FeedsConfig(backoff_initial_s=0.05, backoff_max_s=0.2, stale_after_s=1)


@contextlib.asynccontextmanager
async def running(sim: BinanceSimulator, ids: list[str], layout: Layout,
                  stale_after_s: float = 60) -> AsyncIterator[tuple[list[WebsocketFeed],
                                                                     Collected]]:
    """The simulator and the feeds `build_feeds` makes for `ids` with that layout."""
    await sim.start()
    section = sim.source.replace("-", "_")
    config = load_config(env={})
    config = config.model_copy(update={
        "feeds": FeedsConfig(backoff_initial_s=0.05, backoff_max_s=0.2,
                             stale_after_s=stale_after_s),
        "sources": config.sources.model_copy(update={section: getattr(
            config.sources, section).model_copy(update={"ws_url": sim.url, "layout": layout})}),
    })
    sink = Collected()
    feeds = build_feeds(sim.source, ids, config, sink)
    tasks = [asyncio.create_task(feed.run()) for feed in feeds]
    try:
        yield feeds, sink  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sim.stop()


async def play(sim: BinanceSimulator, ident: str = "perp:BTC") -> None:
    await sim.publish(TapeEvent(ts=T0, id=ident, value=70100.0, prev_close=69000.0))
    if ident == "perp:BTC":
        await sim.publish(TapeEvent(ts=T0 + 1, id="funding:BTC", value=0.0001))


def test_usdm_takes_trades_and_quotes_from_public_and_tickers_and_funding_from_market(
) -> None:
    async def main() -> None:
        sim = BinanceSimulator(source="binance-usdm")
        assert sim.layout == "category"  # the default, as the real host since 2026-04-23
        async with running(sim, ["perp:BTC", "funding:BTC"], "category") as (feeds, sink):
            assert [f.connection for f in feeds] == ["/public", "/market"]
            assert "/public/stream?streams=btcusdt@trade/btcusdt@bookTicker" in \
                feeds[0].protocol.url()
            await sim.wait_subscribed(["perp:BTC", "funding:BTC"])
            await play(sim)
            await until(lambda: any(isinstance(e, Metric) for e in sink.events))
            await until(lambda: len(sink.ticks) == 2 and
                        any(isinstance(e, Quote) for e in sink.events))
        ticker = next(t for t in sink.ticks if t.day_volume is not None)
        trade = next(t for t in sink.ticks if t.volume is not None)
        assert ticker.prev_close == 69000.0 and ticker.change_pct == pytest.approx(1.594, 1e-3)
        funding = next(e for e in sink.events if isinstance(e, Metric))
        assert (funding.id, funding.value) == ("funding:BTC", 0.0001)
        assert trade.price == 70100.0
        statuses = [e for e in sink.events if isinstance(e, FeedStatus)]
        assert {s.connection for s in statuses} == {"/public", "/market"}

    asyncio.run(main())


def test_the_legacy_root_acknowledges_and_then_sends_trades_only_which_the_feed_reports(
        caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        sim = BinanceSimulator(source="binance-usdm")
        async with running(sim, ["perp:BTC", "funding:BTC"], "legacy",
                           stale_after_s=1) as (feeds, sink):
            (feed,) = feeds
            await sim.wait_topics({"btcusdt@trade"})
            for n in range(30):  # trades keep coming for 1.5 s, nothing else
                await sim.publish(TapeEvent(ts=T0 + n, id="perp:BTC", value=70100.0 + n,
                                            prev_close=69000.0))
                await sim.publish(TapeEvent(ts=T0 + n, id="funding:BTC", value=0.0001))
                await asyncio.sleep(0.05)
            await until(lambda: feed.state == FeedState.SILENT, timeout=5)
        assert sink.ticks and all(t.volume is not None for t in sink.ticks)  # trades only
        assert not any(isinstance(e, Metric) for e in sink.events)  # no funding
        assert all(t.prev_close is None for t in sink.ticks)  # no ticker: no 24 h reference
        (silent,) = [e for e in sink.events
                     if isinstance(e, FeedStatus) and e.state == FeedState.SILENT]
        assert "btcusdt@ticker" in silent.detail and "btcusdt@markPrice@1s" in silent.detail
        assert "set sources.binance_usdm.layout: category" in silent.detail

    with caplog.at_level(logging.WARNING):
        asyncio.run(main())
    lines = [r.getMessage() for r in caplog.records if "layout: category" in r.getMessage()]
    assert len(lines) == 1, lines  # said once, not every second


def test_each_category_path_serves_raw_and_combined_streams_and_subscriptions() -> None:
    async def main() -> dict[str, list[str]]:
        sim = BinanceSimulator(source="binance-usdm")
        await sim.start()
        got: dict[str, list[str]] = {}
        try:
            async with websockets.connect(f"{sim.url}/market/ws/btcusdt@markPrice@1s") as raw, \
                    websockets.connect(f"{sim.url}/public/ws") as public, \
                    websockets.connect(f"{sim.url}/ws") as root:
                for ws in (public, root):
                    await ws.send(orjson.dumps({"method": "SUBSCRIBE", "id": 7, "params": [
                        "btcusdt@trade", "btcusdt@ticker", "btcusdt@bookTicker"]}).decode())
                    assert orjson.loads(await ws.recv()) == {"result": None, "id": 7}
                await sim.wait_topics({"btcusdt@markPrice@1s", "btcusdt@bookTicker"})
                await play(sim)
                await asyncio.sleep(0.2)
                for name, ws in (("raw", raw), ("public", public), ("root", root)):
                    got[name] = []
                    with contextlib.suppress(TimeoutError):
                        while True:
                            frame = orjson.loads(await asyncio.wait_for(ws.recv(), 0.2))
                            got[name].append(frame.get("e") or "?")
        finally:
            await sim.stop()
        return got

    got = asyncio.run(main())
    assert got["raw"] == ["markPriceUpdate"]  # bare payloads on /ws/<stream>
    assert sorted(got["public"]) == ["bookTicker", "trade"]  # the ticker is /market's
    assert got["root"] == ["trade"]  # the old root: acknowledged, trades only


@pytest.mark.parametrize("layout", ["legacy", "category"])
def test_coinm_follows_either_layout_by_config(layout: Layout) -> None:
    async def main() -> list[Tick]:
        sim = BinanceSimulator(source="binance-coinm", layout=layout)
        async with running(sim, ["perp:BTCUSD"], layout) as (feeds, sink):
            assert len(feeds) == (1 if layout == "legacy" else 2)
            await sim.wait_subscribed(["perp:BTCUSD"])
            await play(sim, "perp:BTCUSD")
            await until(lambda: len(sink.ticks) == 2)
        return sink.ticks

    ticks = asyncio.run(main())
    assert {t.prev_close for t in ticks if t.day_volume is not None} == {69000.0}


def test_a_category_path_on_a_host_without_them_is_refused() -> None:
    async def main() -> int:
        sim = BinanceSimulator(source="binance-coinm")  # legacy
        await sim.start()
        try:
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(f"{sim.url}/market/ws"):
                    pass
            return refused.value.response.status_code
        finally:
            await sim.stop()

    assert asyncio.run(main()) == 404


def test_http_451_is_one_line_that_says_what_to_configure_and_is_not_retried(
        caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> tuple[list[WebsocketFeed], Collected, int]:
        sim = BinanceSimulator(source="binance-usdm", geo_blocked=True)
        async with running(sim, ["perp:BTC", "funding:BTC"], "category") as (feeds, sink):
            await until(lambda: all(f.state == FeedState.UNAVAILABLE for f in feeds))
            await asyncio.sleep(0.5)  # a retry loop would knock again meanwhile
            return feeds, sink, sim.messages_received

    with caplog.at_level(logging.WARNING):
        feeds, sink, _ = asyncio.run(main())
    assert all(f.reconnects == 0 for f in feeds)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 2, errors  # one line for each of the two connections
    assert all("\n" not in e and "HTTP 451" in e and
               ("/market/stream" in e or "/public/stream" in e) for e in errors)
    assert all("`ccxt:` entry" in e and "funding:BTC: BTC/USDT:USDT" in e for e in errors)
    states = [e.state for e in sink.events if isinstance(e, FeedStatus)]
    assert states.count(FeedState.UNAVAILABLE) == 2 and FeedState.DISCONNECTED not in states


def test_a_spot_host_refusing_the_region_points_at_one_that_serves_it(
        caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        sim = BinanceSimulator(geo_blocked=True)
        async with running(sim, ["crypto:BTC"], "legacy") as (feeds, _):
            await until(lambda: feeds[0].state == FeedState.UNAVAILABLE)

    with caplog.at_level(logging.WARNING):
        asyncio.run(main())
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "HTTP 451" in line and "wss://stream.binance.us:9443" in line


def test_split_trades_carry_no_reference_so_arrival_order_changes_nothing() -> None:
    """On the category layout a ticker (on /market) and a trade (on /public) of one moment
    race each other; a trade that took the 24 h open the ticker left would differ with the
    race. Only the ticker carries it there (on the root, one connection, trades do)."""
    from streams.binance import BinanceProtocol

    sim = BinanceSimulator(source="binance-usdm")
    frames = dict(sim.frames(TapeEvent(ts=T0, id="perp:BTC", value=70100.0,
                                       prev_close=69000.0)))
    ticker, trade = frames["btcusdt@ticker"], frames["btcusdt@trade"]

    def ticks(layout: Layout, ticker_first: bool) -> list[Tick]:
        parts = BinanceProtocol("ws://x", ["perp:BTC"], source="binance-usdm") \
            .connections(layout)
        public, market = (parts[0], parts[-1])
        order = [(market, ticker), (public, trade)]
        got = [e for part, frame in (order if ticker_first else order[::-1])
               for e in part.parse(frame, 0)]
        return sorted((t for t in got if isinstance(t, Tick)), key=lambda t: t.volume or 0)

    split = ticks("category", True)
    assert split == ticks("category", False)
    assert [t.prev_close for t in split] == [69000.0, None]  # the ticker's, then the trade's
    assert [t.prev_close for t in ticks("legacy", True)] == [69000.0, 69000.0]
