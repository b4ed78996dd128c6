"""A bad frame of every source, through that source's real live pipeline (`run_live`, feeds
only) against its simulator: counted as malformed and skipped with one warning line, no
traceback, the good events either side of it on the bus, and `audit` clean for them.

Websocket sources get the bad frame with `send_raw` between two published events; polled
sources serve it as the body of one reply (`HttpSimulator.serve_raw_next`) between two
published values. Event times are the wall clock's: the edge refuses times far from it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from crosscurrent.app import run_live
from crosscurrent.catalog import default_catalog, family
from crosscurrent.config import load_config
from crosscurrent.events import AnyEvent, Metric, Tick
from reporters.audit import Audit, audit
from streams.coingecko import GLOBAL_PATH
from streams.defillama import STABLECOINS_PATH
from streams.keys import Keys
from streams.redis_client import connect
from streams.simulators.binance import BinanceSimulator
from streams.simulators.coingecko import CoinGeckoSimulator
from streams.simulators.defillama import DefiLlamaSimulator
from streams.simulators.http import HttpSimulator
from streams.simulators.yahoo import YahooSimulator
from streams.tape import TapeEvent
from streams.yahoo import pricing_data_class
from tests.conftest import QuietView, stream_events

WAIT_S = 10.0  # for the good events to reach the bus
POLL_S = 0.2
#: id -> (the value published before the bad frame, the one after)
VALUES = {
    "crypto:BTC": (70_001.25, 70_003.5), "perp:BTC": (70_011.25, 70_013.5),
    "funding:BTC": (0.0001, 0.0003), "perp:BTCUSD": (70_021.25, 70_023.5),
    "hk:HSI": (25_100.5, 25_102.25), "tvl:lido": (22e9, 23e9),
    "stable:USDT": (184e9, 185e9), "crypto:TOTAL_MCAP": (2.5e12, 2.6e12),
}
#: Sources whose watchlist here runs two feeds (USD-M: /public and /market). FeedCounts.flush
#: (streams/feed_counts.py) builds one dict keyed `feed.<source>.<counter>` over all feeds, so
#: for two feeds of one source the second's growth replaces the first's, which is marked
#: flushed all the same: its frames never reach `received` (nor its bad frames `malformed`).
PREV_CLOSE = {"crypto:BTC": 69_000.0, "perp:BTC": 69_000.0, "perp:BTCUSD": 69_000.0,
              "hk:HSI": 25_300.0}

Simulator = BinanceSimulator | YahooSimulator | HttpSimulator


def _now() -> int:
    return int(time.time() * 1000)


#: (the simulator, the wall clock's now in ms) -> the bad frame (websocket) or body (polled)
Frame = Callable[[Simulator, int], str | bytes]


@dataclass(frozen=True)
class Case:
    source: str
    ids: tuple[str, ...]  # the watchlist
    frame: Frame  # the bad frame (websocket: str) or reply body (polled: bytes)
    problem: str  # what the warning line must say about it
    topic: str | None = None  # websocket: the topic (so the connection) the frame goes to
    path: str | None = None  # polled: the path whose reply carries the body

    @property
    def line_start(self) -> str:
        """How the feed's warning line starts (streams/feed.py, streams/poll.py)."""
        if self.path is None:
            return f"{self.source}: malformed frame #1 skipped: "
        return f"{self.source}: malformed response to {self.path} skipped: "


def _is(frame: str | bytes) -> Frame:
    return lambda sim, now: frame


def _combined(stream: str, data: object) -> str:
    return orjson.dumps({"stream": stream, "data": data}).decode()


def _next_trade(ident: str, **changed: object) -> Frame:
    """The simulator's next trade of `ident` (its trade id taken, so the next good trade is
    consecutive to it), with fields `changed` (None: left out)."""

    def make(sim: Simulator, now: int) -> str:
        assert isinstance(sim, BinanceSimulator)
        frames = dict(sim.frames(TapeEvent(ts=now, id=ident, value=70_000.0)))
        trade = orjson.loads(frames[f"{default_catalog()[ident].symbol.lower()}@trade"])
        trade |= changed
        return orjson.dumps({k: v for k, v in trade.items() if v is not None}).decode()

    return make


def _mark_price_rate_in_words(sim: Simulator, now: int) -> str:
    assert isinstance(sim, BinanceSimulator)
    [(_, frame)] = sim.frames(TapeEvent(ts=now, id="funding:BTC", value=0.0002))
    return orjson.dumps(orjson.loads(frame) | {"r": "n/a"}).decode()


def _ticker_without_last(sim: Simulator, now: int) -> str:
    return orjson.dumps({
        "e": "24hrTicker", "E": now, "s": "BTCUSDT", "p": "10.00000000", "P": "0.014",
        "w": "70000.00000000", "Q": "0.01000000", "o": "69000.00000000",
        "h": "71000.00000000", "l": "68000.00000000", "v": "100.00000000",
        "q": "7000000.00000000", "O": now - 86_400_000, "C": now, "F": 1, "L": 2,
        "n": 2}).decode()


def _yahoo(message: object) -> str:
    return orjson.dumps({"type": "pricing", "message": message}).decode()


def _yahoo_without_price(sim: Simulator, now: int) -> str:
    data = pricing_data_class()(id="^HSI", time=now, currency="HKD", quote_type=9,
                                market_hours=1, price_hint=2)
    return _yahoo(base64.b64encode(data.SerializeToString()).decode())


USDM = ("perp:BTC", "funding:BTC")
CASES = [
    pytest.param(Case("binance", ("crypto:BTC",), _is("{not json"),
                      "not a Binance stream frame"), id="binance-not-json"),
    pytest.param(Case("binance", ("crypto:BTC",),
                      _is(_combined("btcusdt@trade", {"e": "fooUpdate", "s": "BTCUSDT"})),
                      "unknown event type 'fooUpdate'"), id="binance-unknown-event-type"),
    pytest.param(Case("binance", ("crypto:BTC",), _next_trade("crypto:BTC", p="seventy"),
                      "bad trade frame (ValueError: could not convert string to float",
                      "btcusdt@trade"), id="binance-trade-price-is-text"),
    pytest.param(Case("binance", ("crypto:BTC",), _is('[{"e": "trade", "s": "BTCUSDT"}]'),
                      "not a Binance stream frame"), id="binance-json-array"),
    pytest.param(Case("binance-usdm", USDM, _mark_price_rate_in_words,
                      "bad markPriceUpdate frame (ValueError", "btcusdt@markPrice@1s"),
                 id="binance-usdm-funding-rate-not-a-number"),
    pytest.param(Case("binance-usdm", USDM, _ticker_without_last,
                      "bad 24hrTicker frame (KeyError: 'c')", "btcusdt@ticker"),
                 id="binance-usdm-ticker-without-last-price"),
    pytest.param(Case("binance-coinm", ("perp:BTCUSD",), _next_trade("perp:BTCUSD", p=None),
                      "bad trade frame (KeyError: 'p')", "btcusd_perp@trade"),
                 id="binance-coinm-trade-without-price"),
    pytest.param(Case("yahoo", ("hk:HSI",), _is(_yahoo("%% not base64 %%")),
                      "not a Yahoo pricing frame"), id="yahoo-message-not-base64"),
    pytest.param(Case("yahoo", ("hk:HSI",), _is(_yahoo("prix: 25 100,5 €")),
                      "not a Yahoo pricing frame"), id="yahoo-message-not-ascii"),
    pytest.param(Case("yahoo", ("hk:HSI",),
                      _is(_yahoo(base64.b64encode(b"this is not protobuf").decode())),
                      "not a Yahoo pricing frame"), id="yahoo-base64-of-not-protobuf"),
    pytest.param(Case("yahoo", ("hk:HSI",),  # field 1 (the symbol) as a number: no symbol
                      _is(_yahoo(base64.b64encode(b"\x08\x01").decode())),
                      "pricing frame without a symbol"), id="yahoo-base64-of-no-pricing-data"),
    pytest.param(Case("yahoo", ("hk:HSI",), _yahoo_without_price,
                      "pricing for ^HSI has no price or time"), id="yahoo-pricing-without-price"),
    pytest.param(Case("defillama", ("tvl:lido",),
                      _is(b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
                      "response is not JSON", path="/tvl/lido"), id="defillama-tvl-is-html"),
    pytest.param(Case("defillama", ("tvl:lido",), _is(b'"22000000000"'),
                      "TVL is not a number: '22000000000'", path="/tvl/lido"),
                 id="defillama-tvl-is-a-string"),
    pytest.param(Case("defillama", ("stable:USDT",), _is(b'{"chains": []}'),
                      "no peggedAssets list", path=STABLECOINS_PATH),
                 id="defillama-stablecoins-without-peggedAssets"),
    pytest.param(Case("coingecko", ("crypto:TOTAL_MCAP",),
                      _is(b'{"data": {"total_market_cap": {"eur": 2.3e12}}}'),
                      "no data.total_market_cap.usd", path=GLOBAL_PATH),
                 id="coingecko-global-without-usd"),
]


def _simulator(source: str) -> Simulator:
    if source.startswith("binance"):
        return BinanceSimulator(source=source)
    if source == "yahoo":
        return YahooSimulator()
    return DefiLlamaSimulator() if source == "defillama" else CoinGeckoSimulator()


def _config_yaml(case: Case, sim: Simulator) -> str:
    """Only the case's source, at its simulator (as tests/standins.py writes it)."""
    url = sim.url
    http = url.replace("ws://", "http://", 1)
    section = {
        "binance": f"binance: {{ws_url: '{url}', rest_url: '{http}'}}",
        "binance-usdm": f"binance_usdm: {{ws_url: '{url}', rest_url: '{http}'}}",
        "binance-coinm": f"binance_coinm: {{ws_url: '{url}', rest_url: '{http}'}}",
        "yahoo": f"yahoo: {{ws_url: '{url}/?version=2', chart_url: '{http}'}}",
        "defillama": f"defillama: {{api_url: '{url}', stablecoins_url: '{url}', "
                     f"poll_s: {POLL_S}}}",
        "coingecko": f"coingecko: {{api_url: '{url}', poll_s: {POLL_S}}}",
    }[case.source]
    return f"sources:\n  {section}\nwatchlist: [{', '.join(case.ids)}]\n"


def _copies(ident: str) -> int:
    """Events a published value makes on the events stream: Binance prices two ticks (the
    24 h ticker and the trade), the rest one."""
    instrument = default_catalog()[ident]
    return 2 if instrument.source.startswith("binance") and instrument.asset != "funding" else 1


def _value(event: AnyEvent) -> float | None:
    if isinstance(event, Tick):
        return event.price
    if isinstance(event, Metric):
        return event.value
    return None


async def _on_bus(redis_url: str, keys: Keys, ids: tuple[str, ...]
                  ) -> dict[str, Counter[float | None]]:
    redis = await connect(redis_url)
    try:
        found: dict[str, Counter[float | None]] = {ident: Counter() for ident in ids}
        for stream in {keys.events(family(ident)) for ident in ids}:
            for event in await stream_events(redis, stream):
                ident = getattr(event, "id", None)
                if ident in found:
                    found[ident][_value(event)] += 1
        return found
    finally:
        await redis.aclose()


@dataclass
class Outcome:
    on_bus: dict[str, Counter[float | None]]
    audit: Audit
    sent: int  # frames (websocket) or 200 replies (polled) the simulator sent


async def _drive(case: Case, redis_url: str, keys: Keys, tmp_path: Path) -> Outcome:
    sim = _simulator(case.source)
    await sim.start()
    config_file = tmp_path / "live.yaml"
    config_file.write_text(_config_yaml(case, sim))
    config = load_config(config_file, env={"CROSSCURRENT_REDIS_PREFIX": keys.prefix})
    stop = asyncio.Event()
    task = asyncio.create_task(run_live(config, redis_url, only="feeds", view=QuietView(),
                                        namespace=keys.namespace, stop=stop))
    expected = {ident: Counter({v: _copies(ident) for v in VALUES[ident]})
                for ident in case.ids}
    try:
        await sim.wait_subscribed(case.ids)
        for when in (0, 1):  # a good value of every id, the bad frame, good values again
            if when == 1:
                bad = case.frame(sim, _now())
                if isinstance(sim, HttpSimulator):
                    assert isinstance(bad, bytes)
                    sim.serve_raw_next(bad)
                else:
                    assert isinstance(bad, str)
                    assert await sim.send_raw(bad, case.topic) == 1
            for ident in case.ids:
                await sim.publish(TapeEvent(ts=_now(), id=ident, value=VALUES[ident][when],
                                            prev_close=PREV_CLOSE.get(ident)))
        deadline = time.monotonic() + WAIT_S  # then the test shows what did arrive
        while (on_bus := await _on_bus(redis_url, keys, case.ids)) != expected \
                and time.monotonic() < deadline:
            assert not task.done(), "run_live stopped by itself"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 15)  # raises what run_live raised
        finally:
            await sim.stop()
    redis = await connect(redis_url)
    try:
        found = await audit(redis, keys)
    finally:
        await redis.aclose()
    return Outcome(on_bus, found, sim.frames_sent)


@pytest.mark.parametrize("case", CASES)
def test_a_bad_frame_is_counted_logged_once_and_skipped(
        case: Case, redis_url: str, keys: Keys, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    outcome = asyncio.run(_drive(case, redis_url, keys, tmp_path))

    # the good events before and after the bad frame, each exactly once per frame it makes
    for ident in case.ids:
        before, after = VALUES[ident]
        assert outcome.on_bus[ident] == {before: _copies(ident), after: _copies(ident)}, ident

    # one warning line names the problem; nothing else warns, nothing raised
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1, [r.getMessage() for r in loud]
    line = loud[0].getMessage()
    assert line.startswith(case.line_start), line
    assert case.problem in line, line
    assert all(r.exc_info is None for r in caplog.records)
    assert "Traceback" not in caplog.text

    # audit: nothing lost; the source's feed line counts the bad frame as malformed
    assert outcome.audit.lost == 0, outcome.audit.lines
    feed = [entry for entry in outcome.audit.lines if entry.stage == "feed"]
    assert [f.name for f in feed] == [case.source], feed
    counts = feed[0].counts
    assert counts["malformed"] == 1, counts
    assert counts["received"] == outcome.sent, (counts, outcome.sent)
    assert counts["parsed"] == outcome.sent - 1, counts
