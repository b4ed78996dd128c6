from __future__ import annotations

from typing import Any

import orjson

from streams.simulators.okx import OkxSimulator
from streams.tape import TapeEvent
from tests.conftest import shared


def recorded(channel: str) -> dict[str, Any]:
    for line in shared("data/cryptofeed-samples/OKX.ws.1.0").read_text().splitlines()[1:]:
        _, _, frame = line.partition(": ")
        if f'"channel":"{channel}","instId":"BTC-USDT"}},"data"' in frame:
            return dict(orjson.loads(frame))
    raise AssertionError(f"no {channel} frame recorded")


def test_simulated_frames_have_the_recorded_shape() -> None:
    sim = OkxSimulator({"crypto:BTC": "BTC-USDT", "funding:BTC": "BTC-USDT-SWAP"})
    frames = dict(sim.frames(TapeEvent(ts=1, id="crypto:BTC", value=71917.0,
                                       prev_close=68918.0)))
    for channel in ("tickers", "trades"):
        real, made = recorded(channel), orjson.loads(frames[f"{channel}:BTC-USDT"])
        assert made["arg"] == real["arg"]
        assert set(made["data"][0]) == set(real["data"][0])
        assert all(isinstance(v, str) for v in made["data"][0].values())
    ticker = orjson.loads(frames["tickers:BTC-USDT"])["data"][0]
    assert ticker["last"] == "71917" and ticker["open24h"] == "68918"
    ((topic, frame),) = sim.frames(TapeEvent(ts=1, id="funding:BTC", value=0.00019))
    assert topic == "funding-rate:BTC-USDT-SWAP"
    assert orjson.loads(frame)["data"][0]["fundingRate"] == "0.00019000"


def test_subscription_replies_and_ping() -> None:
    sim = OkxSimulator({"crypto:BTC": "BTC-USDT"})
    add, _, replies = sim.message_topics(
        '{"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"},'
        '{"channel":"trades","instId":"BTC-USDT"}]}')
    assert add == {"tickers:BTC-USDT", "trades:BTC-USDT"}
    assert [orjson.loads(r)["event"] for r in replies] == ["subscribe", "subscribe"]
    assert sim.message_topics("ping") == (set(), set(), ["pong"])
