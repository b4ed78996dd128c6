from __future__ import annotations

import gzip
from collections.abc import Iterator

import orjson
import pytest

from crosscurrent.events import Metric, Quote
from streams.binance import BinanceProtocol
from streams.feed import FrameError
from streams.simulators.binance import BinanceSimulator, trade_frame
from streams.tape import TapeEvent
from tests.conftest import shared, ticks_only

# The fields of a Binance spot 24hrTicker event, as documented in Binance's WebSocket Streams.
TICKER_FIELDS = {"e", "E", "s", "p", "P", "w", "x", "c", "Q", "b", "B", "a", "A", "o", "h", "l",
                 "v", "q", "O", "C", "F", "L", "n"}


def recorded(path: str) -> Iterator[bytes]:
    """The websocket frames of a recording (REST snapshots recorded alongside are left out)."""
    with gzip.open(shared(path), "rb") as lines:
        for line in lines:
            frame = line.split(b" ", 1)[1]
            if frame.startswith(b'{"stream"'):
                yield frame


def cryptofeed_sample(name: str) -> Iterator[bytes]:
    """The received frames of a cryptofeed sample (`time: frame` lines after the URL line)."""
    for line in shared(f"data/cryptofeed-samples/{name}").read_bytes().splitlines()[1:]:
        stamp, _, frame = line.partition(b": ")
        if frame.startswith(b"{") and b"<-" not in stamp:
            yield frame


def protocol() -> BinanceProtocol:
    return BinanceProtocol("ws://127.0.0.1:1", ["crypto:BTC", "crypto:ETH"])


def test_url_subscribes_to_trades_full_tickers_books_and_mark_prices() -> None:
    assert protocol().url() == (
        "ws://127.0.0.1:1/stream?streams=btcusdt@trade/btcusdt@ticker/btcusdt@bookTicker/"
        "ethusdt@trade/ethusdt@ticker/ethusdt@bookTicker")
    usdm = BinanceProtocol("wss://x", ["perp:BTC", "funding:BTC"], source="binance-usdm")
    assert usdm.streams() == ["btcusdt@trade", "btcusdt@ticker", "btcusdt@bookTicker",
                              "btcusdt@markPrice@1s"]
    with pytest.raises(ValueError, match="not a binance-usdm instrument"):
        BinanceProtocol("wss://x", ["crypto:BTC"], source="binance-usdm")


@pytest.mark.parametrize(("path", "source", "ident", "counts"), [
    ("data/binance/spot-btcusdt-20240809.jsonl.gz", "binance", "crypto:BTC", (10147, 45134)),
    ("data/binance-futures/usdm-btcusdt-20240808.jsonl.gz", "binance-usdm", "perp:BTC",
     (21313, 66089)),
    ("data/binance-futures/cm-btcusd-perp-20240808.jsonl.gz", "binance-coinm", "perp:BTCUSD",
     (2286, 19136)),
])
def test_every_recorded_frame_parses_field_for_field(path: str, source: str, ident: str,
                                                     counts: tuple[int, int]) -> None:
    proto = BinanceProtocol("wss://x", [ident], source=source)
    trades = quotes = 0
    for frame in recorded(path):
        out = proto.parse(frame, 0)
        data = orjson.loads(frame)["data"]
        kind = data.get("e", "bookTicker" if "b" in data else None)
        if kind == "trade":
            (tick,) = ticks_only(out)
            assert (tick.id, tick.price, tick.volume, tick.ts) == \
                (ident, float(data["p"]), float(data["q"]), data["T"])
            trades += 1
        elif kind == "bookTicker":
            (quote,) = out
            assert isinstance(quote, Quote) and quote.id == ident
            assert (quote.bid, quote.bid_size, quote.ask, quote.ask_size) == \
                tuple(float(data[k]) for k in "bBaA")
            quotes += 1
        else:
            assert out == []  # depth updates
    assert (trades, quotes) == counts
    assert proto.gaps == []  # real trade ids are consecutive: a skip means a lost trade


@pytest.mark.parametrize("sample", ["BINANCE.ws.1.0", "BINANCE_FUTURES.ws.1.0",
                                    "BINANCE_US.ws.1.0"])
def test_cryptofeed_samples_parse_without_errors(sample: str) -> None:
    proto = BinanceProtocol("wss://x", ["crypto:BTC"])
    frames = list(cryptofeed_sample(sample))
    assert len(frames) > 100
    for frame in frames:
        proto.parse(frame, 0)  # other symbols: no events, and no FrameError either


def test_simulated_frames_look_like_recorded_ones() -> None:
    for path, source, ident in (
            ("data/binance/spot-btcusdt-20240809.jsonl.gz", "binance", "crypto:BTC"),
            ("data/binance-futures/usdm-btcusdt-20240808.jsonl.gz", "binance-usdm", "perp:BTC")):
        real = next(orjson.loads(f) for f in recorded(path) if b"@trade" in f)
        sim = BinanceSimulator(source=source)
        frames = dict(sim.frames(TapeEvent(ts=1, id=ident, value=71917.0, prev_close=68918.06)))
        made = orjson.loads(frames["btcusdt@trade"])
        assert real["stream"] == "btcusdt@trade"
        assert list(made) == list(real["data"])  # same fields, same order
        assert {k: type(v) for k, v in made.items()} == \
            {k: type(v) for k, v in real["data"].items()}
    spot = dict(BinanceSimulator().frames(
        TapeEvent(ts=1, id="crypto:BTC", value=71917.0, prev_close=68918.06)))
    ticker = orjson.loads(spot["btcusdt@ticker"])
    assert set(ticker) == TICKER_FIELDS and ticker["e"] == "24hrTicker"
    assert ticker["o"] == "68918.06000000" and ticker["c"] == "71917.00000000"


def test_mark_price_frames_carry_funding() -> None:
    sim = BinanceSimulator(source="binance-usdm")
    sim.frames(TapeEvent(ts=1, id="perp:BTC", value=71900.0))
    ((topic, frame),) = sim.frames(TapeEvent(ts=1775606400000, id="funding:BTC", value=0.00019))
    data = orjson.loads(frame)
    assert topic == "btcusdt@markPrice@1s" and data["e"] == "markPriceUpdate"
    assert data["p"] == "71900.00000000" and data["T"] == 1775606400000 + 8 * 3600 * 1000
    proto = BinanceProtocol("wss://x", ["perp:BTC", "funding:BTC"], source="binance-usdm")
    (metric,) = proto.parse(frame, 3)
    assert isinstance(metric, Metric)
    assert (metric.id, metric.value, metric.ts) == ("funding:BTC", 0.00019, 1775606400000)


def test_ticker_sets_the_24h_reference_of_later_trades() -> None:
    proto, sim = protocol(), BinanceSimulator(book_tickers=True)
    frames = sim.frames(TapeEvent(ts=5, id="crypto:ETH", value=2241.0, prev_close=2113.15))
    assert [topic for topic, _ in frames] == ["ethusdt@ticker", "ethusdt@trade",
                                              "ethusdt@bookTicker"]
    (ticker,), (trade,) = (ticks_only(proto.parse(f, 7)) for _, f in frames[:2])
    (quote,) = proto.parse(frames[2][1], 7)
    assert isinstance(quote, Quote) and (quote.bid, quote.ask) == (2240.99, 2241.01)
    assert ticker.prev_close == trade.prev_close == 2113.15
    assert trade.change_pct == pytest.approx(6.05, abs=0.005)
    assert trade.recv_ns == 7


@pytest.mark.parametrize("frame", [
    b"{broken", b"[]", b'{"stream":"x","data":{"s":"BTCUSDT"}}',
    b'{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","p":"x","q":"1","T":1}}',
    b'{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT"}}',
])
def test_malformed_frames_raise_frame_error(frame: bytes) -> None:
    with pytest.raises(FrameError):
        protocol().parse(frame, 0)


def test_replies_and_other_symbols_are_ignored() -> None:
    proto = protocol()
    assert proto.parse(b'{"result":null,"id":1}', 0) == []
    with pytest.raises(FrameError, match="unknown event type"):
        proto.parse(b'{"e":"surprise","s":"BTCUSDT"}', 0)
    assert proto.parse(b'{"e":"trade","s":"XRPUSDT","p":"1","q":"1","T":1}', 0) == []


def test_a_trade_seen_before_is_dropped_as_a_duplicate() -> None:
    proto = protocol()
    frame = orjson.dumps({"stream": "btcusdt@trade", "data": trade_frame(
        "binance", "BTCUSDT", 7, 70000.0, 0.1, 1)})
    assert len(proto.parse(frame, 0)) == 1
    assert proto.parse(frame, 0) == [] and proto.duplicates == 1
