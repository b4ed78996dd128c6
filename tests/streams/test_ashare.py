from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable

import pandas as pd
import pytest

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedState, FeedStatus, MarketEvent, Metric
from streams.ashare import AshareFeed, breadth, northbound, proxy_env, turnover
from streams.feed import FrameError
from streams.simulators.eastmoney import EastmoneySimulator
from streams.tape import TapeEvent
from tests.streams.test_feed import until

IDS = ["cn:ADVANCERS", "cn:DECLINERS", "cn:TURNOVER", "cn:NORTHBOUND"]
FAST = FeedsConfig(backoff_initial_s=0.02, backoff_max_s=0.1, stale_after_s=5)
TS = 1775611800000  # 2026-04-08 09:30 in Shanghai


def test_breadth_reads_advancers_and_decliners() -> None:
    frame = pd.DataFrame({"item": ["上涨", "涨停", "下跌", "活跃度"],
                          "value": ["3012", "41", "2011", "58.2%"]})
    assert breadth(frame) == {"cn:ADVANCERS": 3012.0, "cn:DECLINERS": 2011.0}
    frame.loc[2, "value"] = "-"  # not published yet: left out, never invented
    assert breadth(frame) == {"cn:ADVANCERS": 3012.0}


def test_turnover_adds_shanghai_and_shenzhen() -> None:
    frame = pd.DataFrame({"代码": ["000001", "399001", "399006"],
                          "成交额": [5.5e11, 7.7e11, 3e11]})
    assert turnover(frame) == {"cn:TURNOVER": 1.32e12}
    frame["成交额"] = float("nan")
    assert turnover(frame) == {}


def test_northbound_sums_the_northbound_boards_in_cny() -> None:
    frame = pd.DataFrame({"资金方向": ["北向", "南向", "北向", "南向"],
                          "成交净买额": [12.5, 30.0, -2.5, 1.0]})  # 亿元
    assert northbound(frame) == {"cn:NORTHBOUND": 10.0e8}
    frame["成交净买额"] = float("nan")  # not published since August 2024
    assert northbound(frame) == {}


@pytest.mark.parametrize(("parse", "frame"), [
    (breadth, pd.DataFrame({"a": [1]})),
    (breadth, pd.DataFrame({"item": ["涨停"], "value": [3]})),
    (breadth, pd.DataFrame({"item": ["上涨", "下跌"], "value": ["many", "3"]})),
    (turnover, pd.DataFrame({"代码": ["000001"], "成交额": [1.0]})),
    (turnover, pd.DataFrame({"代码": ["000001", "399001"], "成交额": ["x", 1.0]})),
    (northbound, pd.DataFrame({"板块": ["沪股通"]})),
])
def test_unexpected_frames_raise_frame_error(
        parse: Callable[[pd.DataFrame], dict[str, float]], frame: pd.DataFrame) -> None:
    with pytest.raises(FrameError):
        parse(frame)


def test_proxy_env_is_set_while_running_and_restored() -> None:
    before = {k: os.environ.get(k) for k in ("HTTPS_PROXY", "REQUESTS_CA_BUNDLE", "NO_PROXY")}
    with proxy_env("http://127.0.0.1:9", "/tmp/ca.pem"):
        assert os.environ["HTTPS_PROXY"] == "http://127.0.0.1:9"
        assert os.environ["REQUESTS_CA_BUNDLE"] == "/tmp/ca.pem"
        assert "127.0.0.1" in os.environ["NO_PROXY"]
    assert {k: os.environ.get(k) for k in before} == before


Check = Callable[[EastmoneySimulator, AshareFeed, list[MarketEvent], list[FeedStatus]],
                 Awaitable[None]]


async def with_feed(check: Check, market_open: bool = True) -> None:
    """The real akshare client, through the TLS-ending proxy, against the simulator."""
    sim = EastmoneySimulator()
    await sim.start()
    events: list[MarketEvent] = []
    statuses: list[FeedStatus] = []
    now = [TS]

    async def sink(event: MarketEvent | FeedStatus) -> None:
        (statuses if isinstance(event, FeedStatus) else events).append(event)  # type: ignore[arg-type]

    feed = AshareFeed(IDS, sink, FAST, 0.01, lambda: market_open, lambda: now[0],
                      proxy=sim.url, ca_bundle=sim.ca_file)
    task = asyncio.create_task(feed.run())
    try:
        await sim.wait_subscribed(IDS)
        await check(sim, feed, events, statuses)
    finally:
        task.cancel()
        await sim.stop()
    assert sim.proxy is not None and sim.proxy.tunnels > 0  # it really went over TLS


def test_every_published_value_arrives_once_through_akshare() -> None:
    async def check(sim: EastmoneySimulator, feed: AshareFeed, events: list[MarketEvent],
                    statuses: list[FeedStatus]) -> None:
        for minute, (up, down, amount) in enumerate([(1215, 3800, 5.07e10),
                                                     (1230, 3790, 1.015e11)]):
            ts = TS + minute * 600_000
            for ident, value in zip(IDS, (up, down, amount), strict=False):
                await sim.publish(TapeEvent(ts=ts, id=ident, value=value))
        await until(lambda: len(events) >= 6)
        await asyncio.sleep(0.05)  # and nothing more: each value once
        values = [(e.id, e.value) for e in events if isinstance(e, Metric)]
        assert values == [("cn:ADVANCERS", 1215), ("cn:DECLINERS", 3800),
                          ("cn:TURNOVER", 5.07e10), ("cn:ADVANCERS", 1230),
                          ("cn:DECLINERS", 3790), ("cn:TURNOVER", 1.015e11)]
        assert all(e.source == "eastmoney" and e.ts == TS for e in events)
        assert statuses[-1].state == FeedState.CONNECTED
        assert "northbound not available" in statuses[-1].detail
        assert feed.unavailable > 0 and feed.errors == 0 and feed.malformed == 0

    asyncio.run(with_feed(check))


def test_northbound_is_reported_when_published() -> None:
    async def check(sim: EastmoneySimulator, feed: AshareFeed, events: list[MarketEvent],
                    statuses: list[FeedStatus]) -> None:
        await sim.publish(TapeEvent(ts=TS, id="cn:NORTHBOUND", value=-3.2e9))
        await until(lambda: any(e.id == "cn:NORTHBOUND" for e in events))
        (flow,) = [e for e in events if e.id == "cn:NORTHBOUND"]
        assert isinstance(flow, Metric) and flow.value == pytest.approx(-3.2e9)

    asyncio.run(with_feed(check))


def test_server_errors_and_garbage_are_counted_and_ridden_out(
        caplog: pytest.LogCaptureFixture) -> None:
    async def check(sim: EastmoneySimulator, feed: AshareFeed, events: list[MarketEvent],
                    statuses: list[FeedStatus]) -> None:
        sim.fail_next(429, retry_after="1")
        sim.fail_next(500)
        sim.fail_next(200)  # a 200 whose body is not the page
        await sim.publish(TapeEvent(ts=TS, id="cn:TURNOVER", value=6e11))
        await sim.publish(TapeEvent(ts=TS, id="cn:TURNOVER", value=7e11))
        await until(lambda: len(events) == 2)  # served: now parsed
        assert feed.errors == 3 and feed.reconnects == 3
        assert [e.value for e in events if isinstance(e, Metric)] == [6e11, 7e11]
        assert any(s.state == FeedState.DISCONNECTED for s in statuses)

    with caplog.at_level(logging.WARNING):
        asyncio.run(with_feed(check))
    assert "eastmoney: " in caplog.text


def test_outside_the_session_the_feed_is_closed() -> None:
    async def check(sim: EastmoneySimulator, feed: AshareFeed, events: list[MarketEvent],
                    statuses: list[FeedStatus]) -> None:
        await sim.publish(TapeEvent(ts=TS, id="cn:ADVANCERS", value=2000))
        await until(lambda: bool(statuses) and statuses[-1].state == FeedState.CLOSED)
        assert not events

    asyncio.run(with_feed(check, market_open=False))


def test_missing_akshare_is_one_line_of_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "akshare", None)
    statuses: list[FeedStatus] = []

    async def sink(event: MarketEvent | FeedStatus) -> None:
        assert isinstance(event, FeedStatus)
        statuses.append(event)

    asyncio.run(AshareFeed(IDS, sink, FAST, 1, lambda: True, lambda: TS).run())
    assert statuses[-1].state == FeedState.DISCONNECTED
    assert statuses[-1].detail == ("the A-share feed needs akshare: "
                                   "pip install 'crosscurrent[cn]'")
