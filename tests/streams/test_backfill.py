"""Backfill through the Yahoo simulator's chart API (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import orjson
import pytest

from crosscurrent.app import replay, run_live
from crosscurrent.bars import DailyBar
from crosscurrent.baselines import Baseline
from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config, load_config
from crosscurrent.sources import history_sources
from streams.backfill import BROWSER_HEADERS, Backfiller, Outcome, YahooChart
from streams.feed import FrameError
from streams.history import HistoryStore
from streams.keys import Keys
from streams.redis_client import connect
from streams.simulators.binance import BinanceSimulator
from streams.simulators.defillama import DefiLlamaSimulator
from streams.simulators.yahoo import YahooSimulator
from streams.tape import TapeEvent, read_tape
from tests.conftest import QuietView, stream_events

NOW = 1775635200000  # 2026-04-08 08:00 UTC: the HK session of that day is under way


def sessions(n: int, last: date = date(2026, 4, 7)) -> list[DailyBar]:
    """n weekday bars ending on `last`, closes 25000, 25001, ..."""
    days: list[date] = []
    day = last
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return [DailyBar(date=d, open=25000.0 + i, high=25100.0 + i, low=24900.0 + i,
                     close=25000.0 + i, volume=2e11) for i, d in enumerate(sorted(days))]


async def run(keys: Keys, url: str, sim: YahooSimulator, stored: list[DailyBar],
              rounds: int = 1) -> tuple[list[list[Outcome]], list[DailyBar]]:
    redis = await connect(url)
    store = HistoryStore(redis, keys, sessions=60)
    await store.put(("hk:HSI", b) for b in stored)
    filler = Backfiller(store, {"yahoo": YahooChart(sim.url.replace("ws://", "http://"))})
    outcomes = [await filler.backfill(["hk:HSI"], NOW) for _ in range(rounds)]
    bars = await store.get("hk:HSI")
    await redis.aclose()
    return outcomes, bars


Run = Callable[..., Coroutine[Any, Any, tuple[list[list[Outcome]], list[DailyBar]]]]


def with_sim(history: list[DailyBar], failures: int = 0) -> Run:
    """`run` against a Yahoo simulator serving `history` (its first `failures` fail)."""

    async def go(keys: Keys, url: str, stored: list[DailyBar], rounds: int = 1
                 ) -> tuple[list[list[Outcome]], list[DailyBar]]:
        sim = YahooSimulator()
        sim.history["^HSI"] = history
        sim.http_failures = failures
        await sim.start()
        try:
            return await run(keys, url, sim, stored, rounds)
        finally:
            await sim.stop()
    return go


def test_an_empty_store_is_filled_with_the_sessions_before_today(redis_url: str, keys: Keys
                                                                  ) -> None:
    history = sessions(30)
    (outcomes,), bars = asyncio.run(with_sim(history)(keys, redis_url, []))
    assert outcomes[0].line() == "hk:HSI: 30 bars added"
    assert [b.date for b in bars] == [b.date for b in history]  # Hong Kong dates, no shift
    assert bars[-1].close == history[-1].close


def test_only_the_missing_days_are_fetched(redis_url: str, keys: Keys) -> None:
    history = sessions(30)
    stored = [b.model_copy(update={"close": 1.0}) for b in history[:25]]  # ours: kept as is
    (outcomes,), bars = asyncio.run(with_sim(history)(keys, redis_url, stored))
    assert outcomes[0].added == 5
    assert [b.close for b in bars[:25]] == [1.0] * 25
    assert [b.close for b in bars[25:]] == [b.close for b in history[25:]]


def test_a_failure_is_reported_for_its_id_and_the_next_round_fills_it(redis_url: str,
                                                                      keys: Keys) -> None:
    rounds, bars = asyncio.run(with_sim(sessions(10), failures=1)(keys, redis_url, [], 2))
    assert rounds[0][0].error is not None and "retried later" in rounds[0][0].line()
    assert rounds[1][0].added == 10 and len(bars) == 10


def test_the_chart_api_refuses_plain_clients_and_yahoo_chart_asks_like_a_browser(
        redis_url: str, keys: Keys) -> None:
    async def main() -> tuple[int, str, str, int, list[DailyBar]]:
        sim = YahooSimulator()
        sim.history["^HSI"] = sessions(10)
        await sim.start()
        http_url = sim.url.replace("ws://", "http://")
        path = YahooChart(http_url).path("^HSI", date(2026, 3, 1), date(2026, 4, 8))
        try:
            async with aiohttp.ClientSession() as http:  # aiohttp's own User-Agent
                async with http.get(http_url + path) as plain:
                    said = await plain.text()
                    refused = (plain.status, plain.headers.get("Retry-After", ""))
                async with http.get(http_url + path, headers=BROWSER_HEADERS) as browser:
                    served = browser.status
            redis = await connect(redis_url)
            store = HistoryStore(redis, keys, sessions=60)
            (outcome,) = await Backfiller(store, {"yahoo": YahooChart(http_url)}).backfill(
                ["hk:HSI"], NOW)
            assert outcome.error is None, outcome.line()
            bars = await store.get("hk:HSI")
            await redis.aclose()
            return refused[0], refused[1], said, served, bars
        finally:
            await sim.stop()

    status, retry_after, said, served, bars = asyncio.run(main())
    assert (status, retry_after) == (429, "1") and "Too Many Requests" in said
    assert served == 200 and len(bars) == 10
    assert BROWSER_HEADERS["User-Agent"].startswith("Mozilla/5.0")


def rate_limited(keys: Keys, url: str, ids: list[str], until_s: float | None = None,
                 retry_after_s: int = 1) -> tuple[list[Outcome], float, YahooSimulator]:
    """A backfill of `ids` while the simulator answers 429 to everyone (until `until_s`)."""
    sim = YahooSimulator()
    sim.rate_limit_everyone, sim.retry_after_s = True, retry_after_s
    for ident in ids:
        sim.history[default_catalog()[ident].symbol] = sessions(10)

    async def main() -> list[Outcome]:
        await sim.start()
        if until_s is not None:
            asyncio.get_running_loop().call_later(
                until_s, lambda: setattr(sim, "rate_limit_everyone", False))
        redis = await connect(url)
        try:
            store = HistoryStore(redis, keys, sessions=60)
            chart = YahooChart(sim.url.replace("ws://", "http://"))
            return await asyncio.wait_for(
                Backfiller(store, {"yahoo": chart}).backfill(ids, NOW), 30)
        finally:
            await redis.aclose()
            await sim.stop()

    started = time.monotonic()
    outcomes = asyncio.run(main())
    return outcomes, time.monotonic() - started, sim


def test_a_rate_limited_id_is_reported_in_one_line_within_seconds(
        redis_url: str, keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="streams.backfill"):
        (hsi, spx), took, sim = rate_limited(keys, redis_url, ["hk:HSI", "us:SPX"])
    assert hsi.error is not None and spx.error is not None
    assert hsi.line() == ("hk:HSI: yahoo chart API answered HTTP 429 (rate limited) for ^HSI: "
                          "retrying later; live prices are not affected")
    assert "\n" not in spx.line() and "^GSPC was not asked" in spx.line()
    assert sim.rate_limited == sim.chart_requests == 3  # three attempts, then a cool-down
    assert 3.0 <= took < 10.0  # waited 1 s then 2 s (Retry-After 1, doubling), no longer
    assert not caplog.records  # the outcome's line is the report: nothing logged twice


def test_retry_after_is_honoured_and_a_later_attempt_gets_the_bars(redis_url: str,
                                                                   keys: Keys) -> None:
    (outcome,), took, sim = rate_limited(keys, redis_url, ["hk:HSI"], until_s=0.5,
                                         retry_after_s=2)
    assert outcome.error is None and outcome.added == 10
    assert sim.rate_limited == 1 and sim.chart_requests == 2
    assert took >= 2.0  # Retry-After 2 s, more than the first back-off step (1 s)


def test_keep_filling_logs_each_failed_round_and_stops_once_filled(
        redis_url: str, keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> list[DailyBar]:
        sim = YahooSimulator()
        sim.rate_limit_everyone, sim.retry_after_s = True, 0
        sim.history["^HSI"] = sessions(10, last=date.today() - timedelta(days=1))  # wall clock
        await sim.start()
        asyncio.get_running_loop().call_later(
            0.5, lambda: setattr(sim, "rate_limit_everyone", False))
        redis = await connect(redis_url)
        try:
            store = HistoryStore(redis, keys, sessions=60)
            chart = YahooChart(sim.url.replace("ws://", "http://"), backoff_s=0.01,
                               max_wait_s=0.01, cooldown_s=0)
            await asyncio.wait_for(Backfiller(store, {"yahoo": chart}).keep_filling(
                ["hk:HSI"], retry_s=0.1), 15)
            return await store.get("hk:HSI")
        finally:
            await redis.aclose()
            await sim.stop()

    with caplog.at_level(logging.WARNING, logger="streams.backfill"):
        bars = asyncio.run(main())
    assert len(bars) == 10
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(line == "backfill hk:HSI: yahoo chart API answered HTTP 429 (rate "
                         "limited) for ^HSI: retrying later; live prices are not affected"
                         for line in lines)


def test_up_to_date_asks_for_nothing(redis_url: str, keys: Keys) -> None:
    (outcomes,), _ = asyncio.run(with_sim([])(keys, redis_url, sessions(5)))
    assert outcomes[0].line() == "hk:HSI: up to date"


def test_holes_in_the_chart_are_skipped_and_garbage_is_an_error() -> None:
    body = orjson.dumps({"chart": {"result": [{"timestamp": [1775611800, 1775698200],
                                               "indicators": {"quote": [{
                                                   "open": [1.0, None], "high": [2.0, None],
                                                   "low": [0.5, None], "close": [1.5, None],
                                                   "volume": [10, None]}]}}]}})
    (bar,) = YahooChart("http://unused").parse(body, ZoneInfo("Asia/Hong_Kong"))
    assert bar.date == date(2026, 4, 8) and bar.volume == 10.0
    with pytest.raises(FrameError):
        YahooChart("http://unused").parse(b'{"chart": {"result": null}}', ZoneInfo("UTC"))


def test_history_backfill_then_show_from_the_command_line(redis_url: str, keys: Keys,
                                                          tmp_path: Path) -> None:
    async def main() -> list[tuple[int, str]]:
        sim = YahooSimulator()
        sim.history["^HSI"] = sessions(12, last=date.today() - timedelta(days=1))
        await sim.start()
        config = tmp_path / "c.yaml"
        config.write_text(f"sources:\n  yahoo: {{chart_url: '{sim.url.replace('ws', 'http')}'}}\n")
        common = ["--redis", redis_url, "--namespace", keys.namespace, "--config", str(config)]
        env = dict(os.environ, CROSSCURRENT_REDIS_PREFIX=keys.prefix, COLUMNS="120")
        results: list[tuple[int, str]] = []
        for args in (["history", "backfill", "hk:HSI"], ["history", "show", "hk:HSI"]):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "crosscurrent", *args, *common, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(process.communicate(), 60)
            results.append((process.returncode or 0, out.decode() + err.decode()))
        await sim.stop()
        return results

    (code, said), (shown_code, shown) = asyncio.run(main())
    assert code == 0 and "backfill done" in said, said
    assert shown_code == 0 and "hk:HSI  Hang Seng Index" in shown
    assert shown.count("25,0") >= 10  # the backfilled closes are listed


def test_exchange_candles_through_ccxt_fetch_ohlcv(redis_url: str, keys: Keys) -> None:
    async def main() -> tuple[list[Outcome], list[DailyBar]]:
        sim = BinanceSimulator()
        sim.history["BTCUSDT"] = [DailyBar(date=date(2026, 4, 7) - timedelta(days=699 - i),
                                           open=60000.0 + i, high=61000.0 + i, low=59000.0 + i,
                                           close=60500.0 + i, volume=100.0) for i in range(700)]
        await sim.start()
        redis = await connect(redis_url)
        store = HistoryStore(redis, keys, sessions=400)
        rest = sim.url.replace("ws://", "http://")
        sources = history_sources(load_config(env={"CROSSCURRENT_SOURCES_BINANCE_REST_URL": rest}))
        try:
            outcomes = await Backfiller(store, sources).backfill(["crypto:BTC"], NOW)
            return outcomes, await store.get("crypto:BTC")
        finally:
            await redis.aclose()
            await sim.stop()

    (outcome,), bars = asyncio.run(main())
    assert outcome.error is None and outcome.added >= 400  # paged by 500: more than kept
    assert len(bars) == 400 and bars[-1].date == date(2026, 4, 7)  # UTC days, trimmed
    assert bars[-1].close == 60500.0 + 699 and bars[-1].volume == 100.0


def test_a_tape_s_history_gives_the_baselines_a_live_start_would(redis_url: str,
                                                                 tmp_path: Path) -> None:
    history = sessions(25)

    async def main() -> tuple[Baseline, Baseline]:
        live = Keys("cctest", "live-start")
        sim = YahooSimulator()
        sim.history["^HSI"] = history
        await sim.start()
        redis = await connect(redis_url)
        try:  # a live start: backfill from the source
            store = HistoryStore(redis, live, sessions=60)
            await Backfiller(store, {"yahoo": YahooChart(sim.url.replace("ws://", "http://"))}
                             ).backfill(["hk:HSI"], NOW)
            from_backfill = (await store.baselines(["hk:HSI"], NOW, window=20))["hk:HSI"]
        finally:
            await sim.stop()
        tape = tmp_path / "day.jsonl"  # a replay: the same sessions as history lines
        tape.write_bytes(b"".join(orjson.dumps({
            "kind": "bar", "date": b.date.isoformat(), "id": "hk:HSI", "open": b.open,
            "high": b.high, "low": b.low, "close": b.close, "volume": b.volume}) + b"\n"
            for b in history) + b'{"ts": 1775635200000, "id": "hk:HSI", "value": 25000}\n')
        await replay(read_tape(tape), load_config(env={}), redis_url, speed=math.inf, out=None,
                     view=QuietView(), namespace="replay-start")
        store = HistoryStore(redis, Keys("cc", "replay-start"))
        from_tape = (await store.baselines(["hk:HSI"], NOW, window=20))["hk:HSI"]
        await redis.aclose()
        return from_backfill, from_tape

    from_backfill, from_tape = asyncio.run(main())
    assert not from_backfill.warming_up
    assert from_backfill == from_tape


def test_defillama_series_fill_tvl_dex_volume_and_stablecoins(redis_url: str, keys: Keys
                                                              ) -> None:
    days = [date(2026, 3, 9) + timedelta(days=i) for i in range(30)]  # to 2026-04-07

    async def main() -> tuple[list[Outcome], dict[str, list[DailyBar]]]:
        sim = DefiLlamaSimulator()
        sim.history = {"tvl:superstate": [(d, 640e6 - i * 5e6) for i, d in enumerate(days)],
                       "dexvol:curve-dex": [(d, 95e6) for d in days],
                       "stable:USDT": [(d, 183e9 + i * 1e8) for i, d in enumerate(days)]}
        await sim.start()
        redis = await connect(redis_url)
        store = HistoryStore(redis, keys, sessions=400)
        config = load_config(env={"CROSSCURRENT_SOURCES_DEFILLAMA_API_URL": sim.url,
                                  "CROSSCURRENT_SOURCES_DEFILLAMA_STABLECOINS_URL": sim.url})
        ids = ["tvl:superstate", "dexvol:curve-dex", "stable:USDT", "tvl:lido"]
        try:
            outcomes = await Backfiller(store, history_sources(config)).backfill(ids, NOW)
            return outcomes, {i: await store.get(i) for i in ids}
        finally:
            await redis.aclose()
            await sim.stop()

    outcomes, bars = asyncio.run(main())
    added = {o.ident: o.added for o in outcomes}
    assert added["tvl:superstate"] == added["dexvol:curve-dex"] == added["stable:USDT"] == 30
    assert bars["tvl:superstate"][-1].close == 640e6 - 29 * 5e6
    assert bars["stable:USDT"][0].date == date(2026, 3, 9)
    lido = next(o for o in outcomes if o.ident == "tvl:lido")
    assert lido.error is not None  # no series served: reported, the others went on
    assert lido.unknown and "not retried" in lido.line()  # HTTP 400: the id, not the network


def _config(tmp_path: Path, keys: Keys, sim: YahooSimulator) -> Config:
    """hk:HSI from the simulator: its stream and its chart API."""
    http = "http://" + sim.url.removeprefix("ws://")
    config_file = tmp_path / "c.yaml"
    config_file.write_text(
        f"sources:\n  yahoo: {{ws_url: '{sim.url}/?version=2', chart_url: '{http}'}}\n"
        "watchlist: [hk:HSI]\n")
    return load_config(config_file, env={"CROSSCURRENT_REDIS_PREFIX": keys.prefix})


def test_live_streaming_never_waits_on_history(redis_url: str, keys: Keys, tmp_path: Path
                                               ) -> None:
    """The chart API refuses everyone (429): the feed streams at once all the same."""

    async def main() -> tuple[int, int]:
        sim = YahooSimulator()
        sim.rate_limit_everyone = True
        await sim.start()
        task = asyncio.create_task(run_live(
            _config(tmp_path, keys, sim), redis_url, only=None, view=QuietView(),
            namespace=keys.namespace))
        try:
            await sim.wait_subscribed(["hk:HSI"])
            return sim.rate_limited, sim.chart_requests
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.stop()

    refused, asked = asyncio.run(main())
    assert refused == asked < 3  # subscribed before the backfill gave up on its 3 attempts


def test_run_backfills_and_takes_previous_closes_from_history_for_bare_frames(
        redis_url: str, keys: Keys, tmp_path: Path) -> None:
    """A frame with neither previous_close nor change: the last daily close of the store."""

    async def main() -> tuple[list[DailyBar], list[Any]]:
        sim = YahooSimulator()
        sim.history["^HSI"] = sessions(25, last=date.today() - timedelta(days=1))
        await sim.start()
        task = asyncio.create_task(run_live(
            _config(tmp_path, keys, sim), redis_url, only=None, view=QuietView(),
            namespace=keys.namespace))
        redis = await connect(redis_url)
        try:
            await sim.wait_subscribed(["hk:HSI"])
            store = HistoryStore(redis, keys)
            async with asyncio.timeout(20):
                while True:  # the references are filled once the backfill is done
                    now = int(time.time() * 1000)
                    await sim.publish(TapeEvent(ts=now, id="hk:HSI", value=25100.0))
                    ticks = [e for e in await stream_events(redis, keys.events("hk"))
                             if getattr(e, "prev_close", None)]
                    if ticks:
                        return await store.get("hk:HSI"), ticks
                    await asyncio.sleep(0.2)
        finally:
            await redis.aclose()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.stop()

    bars, ticks = asyncio.run(main())
    today = default_catalog()["hk:HSI"].calendar.session_date(ticks[0].ts)
    backfilled = [bar for bar in bars if bar.date < today]  # the recorder adds today's
    assert len(backfilled) == 25
    assert ticks[0].prev_close == backfilled[-1].close
