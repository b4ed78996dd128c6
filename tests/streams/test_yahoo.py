from __future__ import annotations

import base64

import orjson
import pytest

from streams.feed import FrameError
from streams.simulators.yahoo import YahooSimulator
from streams.tape import TapeEvent
from streams.yahoo import YahooProtocol, pricing_data_class
from tests.conftest import ticks_only


def protocol() -> YahooProtocol:
    return YahooProtocol("ws://127.0.0.1:1/?version=2", ["hk:HSTECH", "us:IXIC"])


def test_subscription_message_uses_yahoo_symbols() -> None:
    assert orjson.loads(protocol().subscribe_messages()[0]) == {"subscribe": ["HSTECH.HK", "^IXIC"]}


def test_simulated_frame_decodes_to_a_tick_with_previous_close() -> None:
    (topic, frame), = YahooSimulator().frames(
        TapeEvent(ts=1775619000000, id="hk:HSTECH", value=5518.56, prev_close=5610.0,
                  volume=123456))
    assert topic == "HSTECH.HK"
    envelope = orjson.loads(frame)
    assert envelope["type"] == "pricing"
    data = pricing_data_class()()
    data.ParseFromString(base64.b64decode(envelope["message"]))
    assert data.id == "HSTECH.HK" and data.time == 1775619000000
    (tick,) = ticks_only(protocol().parse(frame, 9))
    assert tick.id == "hk:HSTECH" and tick.ts == 1775619000000
    assert tick.price == 5518.56  # float32 on the wire, rounded back to the price hint
    assert tick.prev_close == 5610.0 and tick.day_volume == 123456
    assert tick.change_pct == pytest.approx(-1.63, abs=0.005)


@pytest.mark.parametrize("frame", [
    b"nope", b'{"type":"pricing"}', b'{"type":"pricing","message":"***"}',
    b'{"type":"pricing","message":"' + base64.b64encode(b"\xff\xff\xff") + b'"}',
])
def test_malformed_frames_raise_frame_error(frame: bytes) -> None:
    with pytest.raises(FrameError):
        protocol().parse(frame, 0)


def test_unsubscribed_symbols_are_ignored() -> None:
    data = pricing_data_class()(id="^N225", price=1.0, time=1)
    frame = orjson.dumps({"type": "pricing",
                          "message": base64.b64encode(data.SerializeToString()).decode()})
    assert protocol().parse(frame, 0) == []
