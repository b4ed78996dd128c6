from __future__ import annotations

import asyncio
import base64
from datetime import date
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import Catalog, Instrument, default_catalog
from crosscurrent.references import PreviousCloses
from streams.feed import FrameError
from streams.simulators.yahoo import YahooSimulator
from streams.tape import TapeEvent
from streams.yahoo import YahooProtocol, pricing_data_class, wire_decimal
from tests.conftest import shared, ticks_only

HK_MORNING = 1775611800000  # 2026-04-08 01:30 UTC: 09:30 in Hong Kong, the same date
ABSENT = ("previous_close", "open_price", "day_high", "day_low")  # what real frames leave out


def protocol() -> YahooProtocol:
    return YahooProtocol("ws://127.0.0.1:1/?version=2", ["hk:HSTECH", "us:IXIC"])


def with_dkng() -> Catalog:
    """The default catalog plus one US equity (DraftKings), as the recorded real frame has."""
    base = default_catalog()
    dkng = Instrument(id="us:DKNG", en="DraftKings", zh="DraftKings", region="us",
                      asset="equity", currency="USD", source="yahoo", symbol="DKNG",
                      calendar=base.calendars["nyse"])
    return Catalog({**{i.id: i for i in base}, dkng.id: dkng}, base.calendars)


def decode(frame: str | bytes) -> Any:
    data = pricing_data_class()()
    data.ParseFromString(base64.b64decode(orjson.loads(frame)["message"]))
    return data


def received(sim: YahooSimulator, events: list[TapeEvent]) -> list[str]:
    """The frames a websocket client subscribed to the events' symbols receives."""

    async def main() -> list[str]:
        await sim.start()
        try:
            async with connect(sim.url + "/?version=2") as ws:
                symbols = sorted({sim.topic_of(e.id) for e in events})
                await ws.send(orjson.dumps({"subscribe": symbols}).decode())
                await sim.wait_subscribed({e.id for e in events})
                for event in events:
                    await sim.publish(event)
                return [str(await asyncio.wait_for(ws.recv(), 5)) for _ in events]
        finally:
            await sim.stop()

    return asyncio.run(main())


def test_the_recorded_real_equity_frame_gives_previous_close_from_price_minus_change() -> None:
    line = shared("data/yahoo/streamer-v2-dkng-20260902.jsonl").read_text().splitlines()[0]
    data = decode(line)
    assert data.id == "DKNG" and all(getattr(data, f) == 0 for f in ABSENT)  # proto3: no HasField
    (tick,) = ticks_only(YahooProtocol("ws://unused", ["us:DKNG"], catalog=with_dkng())
                         .parse(line, 7))
    assert tick.id == "us:DKNG" and tick.ts == data.time
    assert tick.price == 24.535  # three decimals although the price hint says 2
    assert tick.prev_close == 23.44
    assert tick.change_pct == pytest.approx(4.67, abs=0.005)
    assert tick.day_volume == 6719763


@pytest.mark.parametrize(("ident", "value", "prev"), [
    ("us:DKNG", 24.535, 23.44),  # an equity, the real frame's numbers
    ("hk:HSI", 25180.37, 25357.21),  # an index: float32 steps of 1/512 at this level
])
def test_default_frames_omit_previous_close_open_and_range_like_the_real_ones(
        ident: str, value: float, prev: float) -> None:
    sim = YahooSimulator(with_dkng())
    assert not sim.full_frames
    first, second = received(sim, [
        TapeEvent(ts=HK_MORNING, id=ident, value=value, prev_close=prev, volume=1000),
        TapeEvent(ts=HK_MORNING + 1000, id=ident, value=value + 1.0, volume=2000)])
    proto = YahooProtocol("ws://unused", [ident], catalog=with_dkng())
    for frame, price in ((first, value), (second, value + 1.0)):
        data = decode(frame)
        assert [getattr(data, f) for f in ABSENT] == [0.0] * 4  # unset: proto3 scalars read 0
        assert data.change == pytest.approx(price - prev, abs=1e-3)
        assert data.change_percent == pytest.approx((price / prev - 1) * 100, abs=1e-4)
        (tick,) = ticks_only(proto.parse(frame, 0))
        # price and change travel as float32 (about 7 significant digits: steps of 0.002 at
        # 25,000), so price - change can land a rounding step away from the tape's close;
        # a cent or two is what that may cost, no more
        assert tick.price == pytest.approx(price, abs=0.02)
        assert tick.prev_close == pytest.approx(prev, abs=0.02)
        assert tick.change_pct == pytest.approx((price / prev - 1) * 100, abs=0.001)


def test_without_a_known_previous_close_the_change_fields_are_left_out_too() -> None:
    (frame,) = received(YahooSimulator(), [TapeEvent(ts=HK_MORNING, id="hk:HSI", value=25000.0)])
    data = decode(frame)
    assert data.change == 0 and data.change_percent == 0 and data.previous_close == 0
    (tick,) = ticks_only(YahooProtocol("ws://unused", ["hk:HSI"]).parse(frame, 0))
    assert tick.price == 25000.0 and tick.prev_close is None  # never the first price seen


def test_full_frames_keep_the_old_shape_with_previous_close() -> None:
    sim = YahooSimulator(full_frames=True)
    (frame,) = received(sim, [TapeEvent(ts=HK_MORNING, id="hk:HSI", value=25180.37,
                                        prev_close=25357.21)])
    data = decode(frame)
    assert data.previous_close == pytest.approx(25357.21, abs=0.002)  # float32
    assert data.open_price == data.day_high == data.day_low == pytest.approx(25180.37, abs=0.002)
    (tick,) = ticks_only(YahooProtocol("ws://unused", ["hk:HSI"]).parse(frame, 0))
    assert tick.prev_close == 25357.21


def test_a_frame_s_previous_close_wins_over_change_and_history() -> None:
    closes = PreviousCloses()
    closes.set("hk:HSI", [bar(date(2026, 4, 7), 1.0)])
    data = pricing_data_class()(id="^HSI", price=25180.37, time=HK_MORNING, change=-10.0,
                                previous_close=25357.21, price_hint=2)
    (tick,) = ticks_only(YahooProtocol("ws://unused", ["hk:HSI"], references=closes)
                         .parse(envelope(data), 0))
    assert tick.prev_close == 25357.21


def bar(day: date, close: float) -> DailyBar:
    return DailyBar(date=day, open=close, high=close, low=close, close=close)


def envelope(data: Any) -> bytes:
    return orjson.dumps({"type": "pricing",
                         "message": base64.b64encode(data.SerializeToString()).decode()})


@pytest.mark.parametrize(("ident", "ts", "expected"), [
    ("hk:HSI", HK_MORNING, 25357.21),  # 09:30 HK on 04-08: the 04-07 close, not 04-08's bar
    ("hk:HSI", 1775605500000, 25357.21),  # 04-07 23:45 UTC is 07:45 on 04-08 in Hong Kong
    ("us:IXIC", 1775608200000, 22100.5),  # 04-08 00:30 UTC is 20:30 on 04-07 in New York
])
def test_without_change_the_previous_close_comes_from_daily_history(
        ident: str, ts: int, expected: float) -> None:
    closes = PreviousCloses()
    closes.set("hk:HSI", [bar(date(2026, 4, 8), 25180.0), bar(date(2026, 4, 6), 25001.0),
                          bar(date(2026, 4, 7), 25357.21)])
    closes.set("us:IXIC", [bar(date(2026, 4, 6), 22100.5), bar(date(2026, 4, 7), 22300.0)])
    symbol = default_catalog()[ident].symbol
    sim = YahooSimulator()  # a first event without prev_close: no change fields at all
    ((_, frame),) = sim.frames(TapeEvent(ts=ts, id=ident, value=25100.0))
    assert decode(frame).change == 0 and decode(frame).id == symbol
    proto = YahooProtocol("ws://unused", [ident], references=closes)
    (tick,) = ticks_only(proto.parse(frame, 0))
    assert tick.prev_close == expected
    (bare,) = ticks_only(YahooProtocol("ws://unused", [ident]).parse(frame, 0))
    assert bare.prev_close is None  # no history, no reference: unknown
    (empty,) = ticks_only(YahooProtocol("ws://unused", [ident], references=PreviousCloses())
                          .parse(frame, 0))
    assert empty.prev_close is None


def test_change_percent_alone_gives_the_previous_close() -> None:
    data = pricing_data_class()(id="^HSI", price=24.535, time=HK_MORNING,
                                change_percent=4.6714988, price_hint=2)
    (tick,) = ticks_only(YahooProtocol("ws://unused", ["hk:HSI"]).parse(envelope(data), 0))
    assert tick.prev_close == 23.44


@pytest.mark.parametrize(("wire", "hint", "expected"), [
    (24.535, 2, (24.535, 3)), (5518.56, 2, (5518.56, 2)), (25180.37, 2, (25180.37, 2)),
    (7.2431, 4, (7.2431, 4)), (3021.4, 2, (3021.4, 2)),
])
def test_float32_prices_come_back_as_the_decimals_sent(wire: float, hint: int,
                                                        expected: tuple[float, int]) -> None:
    data = pricing_data_class()(price=wire)  # through a real float32 field
    assert data.price != wire  # the field holds the nearest float32, not the decimal
    assert wire_decimal(data.price, hint) == expected


def test_subscription_message_uses_yahoo_symbols() -> None:
    assert orjson.loads(protocol().subscribe_messages()[0]) == {"subscribe": ["HSTECH.HK", "^IXIC"]}


def test_simulated_frame_decodes_to_a_tick_with_previous_close() -> None:
    (topic, frame), = YahooSimulator().frames(
        TapeEvent(ts=1775619000000, id="hk:HSTECH", value=5518.56, prev_close=5610.0,
                  volume=123456))
    assert topic == "HSTECH.HK"
    assert orjson.loads(frame)["type"] == "pricing"
    data = decode(frame)
    assert data.id == "HSTECH.HK" and data.time == 1775619000000
    assert data.previous_close == 0 and data.change != 0  # as real frames: price - change
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
