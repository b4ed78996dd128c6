from __future__ import annotations

import gzip
from collections.abc import Iterator

import orjson
import pytest

from streams.binance import BinanceProtocol
from streams.feed import FrameError
from streams.simulators.binance import BinanceSimulator
from streams.tape import TapeEvent
from tests.conftest import shared, ticks_only

# The fields of a Binance spot 24hrTicker event, as documented in Binance's WebSocket Streams.
TICKER_FIELDS = {"e", "E", "s", "p", "P", "w", "x", "c", "Q", "b", "B", "a", "A", "o", "h", "l",
                 "v", "q", "O", "C", "F", "L", "n"}


def recorded(path: str) -> Iterator[bytes]:
    with gzip.open(shared(path), "rb") as lines:
        for line in lines:
            yield line.split(b" ", 1)[1]


def protocol() -> BinanceProtocol:
    return BinanceProtocol("ws://127.0.0.1:1", ["crypto:BTC", "crypto:ETH"])


def test_url_subscribes_to_trade_and_full_ticker_streams() -> None:
    url = protocol().url()
    assert url == ("ws://127.0.0.1:1/stream?streams=btcusdt@trade/btcusdt@ticker/"
                   "ethusdt@trade/ethusdt@ticker")


def test_every_recorded_spot_frame_parses() -> None:
    proto = protocol()
    trades = ticks = 0
    for frame in recorded("data/binance/spot-btcusdt-20240809.jsonl.gz"):
        out = ticks_only(proto.parse(frame, 0))
        data = orjson.loads(frame)["data"]
        if data.get("e") == "trade":
            trades += 1
            assert out[0].id == "crypto:BTC"
            assert out[0].price == float(data["p"]) and out[0].volume == float(data["q"])
            assert out[0].ts == data["T"]
        ticks += len(out)
    assert trades == 10147 and ticks == trades  # bookTicker and depth make no ticks


def test_simulated_trade_frames_look_like_recorded_ones() -> None:
    real = next(orjson.loads(f) for f in recorded("data/binance/spot-btcusdt-20240809.jsonl.gz")
                if b"@trade" in f)
    sim = BinanceSimulator()
    frames = dict(sim.frames(TapeEvent(ts=1, id="crypto:BTC", value=71917.0, prev_close=68918.06)))
    made = orjson.loads(frames["btcusdt@trade"])
    assert made["stream"] == real["stream"]
    assert list(made["data"]) == list(real["data"])  # same fields, same order
    assert {k: type(v) for k, v in made["data"].items()} == \
        {k: type(v) for k, v in real["data"].items()}
    ticker = orjson.loads(frames["btcusdt@ticker"])["data"]
    assert set(ticker) == TICKER_FIELDS and ticker["e"] == "24hrTicker"
    assert ticker["o"] == "68918.06000000" and ticker["c"] == "71917.00000000"


def test_ticker_sets_the_24h_reference_of_later_trades() -> None:
    proto, sim = protocol(), BinanceSimulator()
    frames = sim.frames(TapeEvent(ts=5, id="crypto:ETH", value=2241.0, prev_close=2113.15))
    (ticker,), (trade,) = (ticks_only(proto.parse(f, 7)) for _, f in frames)
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
    assert proto.parse(b'{"e":"trade","s":"XRPUSDT","p":"1","q":"1","T":1}', 0) == []
