"""The six `macro:*` ids through the Yahoo simulator: live over its websocket, history over
its chart API (real sockets on 127.0.0.1)."""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
import pytest

from crosscurrent.catalog import default_catalog
from crosscurrent.events import Tick
from streams.backfill import Backfiller, YahooChart
from streams.history import HistoryStore
from streams.keys import Keys
from streams.redis_client import connect
from streams.simulators.yahoo import YahooSimulator
from streams.tape import TapeEvent
from streams.yahoo import YahooProtocol
from tests.streams.test_backfill import NOW, sessions
from tests.streams.test_feed import feeding, until

# id -> (last, previous close): the kind of numbers each carries
MACRO = {"macro:VIX": (21.37, 16.42), "macro:US10Y": (4.312, 4.251),
         "macro:DXY": (99.8731, 99.4012), "macro:USDCNH": (7.2431, 7.2105),
         "macro:GOLD": (3021.4, 2990.1), "macro:WTI": (61.85, 64.02)}


def test_every_macro_id_streams_through_yahoo_with_its_real_symbol() -> None:
    sent: list[str] = []

    async def main() -> list[Tick]:
        sim = YahooSimulator()
        ids = list(MACRO)
        protocol = YahooProtocol("ws://unused", ids, resubscribe_s=60)
        sent.extend(orjson.loads(protocol.subscribe_messages()[0])["subscribe"])
        async with feeding(sim, lambda url: YahooProtocol(url, ids, resubscribe_s=60)) as (
                _, sink):
            await sim.wait_subscribed(ids)
            for n, (ident, (value, prev)) in enumerate(MACRO.items()):
                await sim.publish(TapeEvent(ts=NOW + n, id=ident, value=value, prev_close=prev))
            await until(lambda: len(sink.ticks) == len(MACRO))
            return sink.ticks

    ticks = asyncio.run(main())
    assert sorted(sent) == sorted(["^VIX", "^TNX", "DX-Y.NYB", "CNH=X", "GC=F", "CL=F"])
    for tick in ticks:
        value, prev = MACRO[tick.id]
        assert tick.price == pytest.approx(value, abs=1e-4)  # float32 on the wire
        assert tick.prev_close == pytest.approx(prev, abs=1e-4)
        assert tick.change_pct == pytest.approx((value / prev - 1) * 100, abs=0.01)


def test_macro_history_is_backfilled_from_the_chart_api(redis_url: str, keys: Keys) -> None:
    history = sessions(25, last=date(2026, 4, 7))

    async def main() -> tuple[list[str], dict[str, int]]:
        sim = YahooSimulator()
        for ident in MACRO:
            sim.history[default_catalog()[ident].symbol] = history
        await sim.start()
        redis = await connect(redis_url)
        try:
            store = HistoryStore(redis, keys, sessions=60)
            filler = Backfiller(store, {"yahoo": YahooChart(sim.url.replace("ws://", "http://"))})
            outcomes = await filler.backfill(list(MACRO), NOW)
            return ([o.line() for o in outcomes],
                    {ident: len(await store.get(ident)) for ident in MACRO})
        finally:
            await redis.aclose()
            await sim.stop()

    lines, stored = asyncio.run(main())
    assert sorted(lines) == sorted(f"{ident}: 25 bars added" for ident in MACRO)
    assert stored == dict.fromkeys(MACRO, 25)
