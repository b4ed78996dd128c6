from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

from crosscurrent.app import record
from crosscurrent.bars import DailyBar
from crosscurrent.config import load_config
from streams.simulators.binance import BinanceSimulator
from streams.simulators.yahoo import YahooSimulator
from streams.tape import TapeEvent, read_tape


def test_a_recorded_tape_replays_what_the_feeds_saw(tmp_path: Path) -> None:
    sent = [
        TapeEvent(ts=1775611800000, id="hk:HSTECH", value=5600.0, prev_close=5610.0,
                  volume=1e9),
        TapeEvent(ts=1775611860000, id="crypto:BTC", value=71000.0, prev_close=68000.0,
                  volume=0.5),
        TapeEvent(ts=1775611920000, id="hk:HSTECH", value=5500.0, volume=2e9),
    ]

    async def main() -> int:
        binance, yahoo = BinanceSimulator(), YahooSimulator()
        recent = date.today() - timedelta(days=3)
        yahoo.history["HSTECH.HK"] = [DailyBar(date=recent, open=5600, high=5650, low=5590,
                                               close=5610, volume=1e9)]
        binance.history["BTCUSDT"] = [DailyBar(date=recent, open=68000, high=69000,
                                               low=67500, close=68918.06, volume=12000)]
        await binance.start()
        await yahoo.start()
        config_file = tmp_path / "c.yaml"
        http = "http://" + binance.url.removeprefix("ws://")
        config_file.write_text(
            f"sources:\n  binance: {{ws_url: '{binance.url}', rest_url: '{http}'}}\n"
            f"  yahoo: {{ws_url: '{yahoo.url}/?version=2', "
            f"chart_url: 'http://{yahoo.url.removeprefix('ws://')}'}}\n"
            "watchlist: [crypto:BTC, hk:HSTECH]\n"
            # the events' fixed day passes the edge whatever the wall clock says
            "feeds: {max_past_s: 1.0e+9, max_future_s: 1.0e+9}\n")
        task = asyncio.create_task(record(load_config(config_file, env={}),
                                          tmp_path / "day.jsonl.gz"))
        await binance.wait_subscribed(["crypto:BTC"])
        await yahoo.wait_subscribed(["hk:HSTECH"])
        for event in sent:
            await (yahoo if event.id.startswith("hk:") else binance).publish(event)
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await binance.stop()
        await yahoo.stop()
        return 0

    asyncio.run(main())
    tape = read_tape(tmp_path / "day.jsonl.gz")
    assert tape.bad_lines == 0
    assert {(b.id, b.close) for b in tape.bars} == {("hk:HSTECH", 5610.0),
                                                     ("crypto:BTC", 68918.06)}
    hstech = [e for e in tape.events if e.id == "hk:HSTECH"]
    assert [(e.ts, e.value, e.volume) for e in hstech] == \
        [(1775611800000, 5600.0, 1e9), (1775611920000, 5500.0, 2e9)]
    assert hstech[0].prev_close == 5610.0
    btc = [e for e in tape.events if e.id == "crypto:BTC"]
    assert {e.value for e in btc} == {71000.0}  # the ticker and the trade
    assert any(e.volume == 0.5 for e in btc) and all(e.prev_close == 68000.0 for e in btc)
    assert all(e.source is None for e in tape.events)  # each came from its own source
