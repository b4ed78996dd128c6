from __future__ import annotations

import asyncio
import math
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from crosscurrent.app import replay
from crosscurrent.bars import DailyBar
from crosscurrent.baselines import Baseline
from crosscurrent.config import AgentConfig, load_config
from crosscurrent.events import Tick, encode
from crosscurrent.intraday import Series
from reporters.report_data import collect
from streams.bus import FIELD
from streams.history import HistoryRecorder, HistoryStore
from streams.keys import Keys
from streams.redis_client import connect
from streams.tape import read_tape
from tests.conftest import QuietView


def bar(day: date, close: float) -> DailyBar:
    return DailyBar(date=day, open=close, high=close, low=close, close=close, volume=1.0)


def test_bars_are_kept_per_id_newest_sessions_only(redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        redis = await connect(redis_url)
        store = HistoryStore(redis, keys, sessions=5)
        start = date(2026, 3, 1)
        await store.put(("hk:HSI", bar(start + timedelta(days=i), 25000.0 + i)) for i in range(8))
        await store.put([("hk:HSI", bar(start + timedelta(days=7), 99.0))])  # today, updated
        bars = await store.get("hk:HSI")
        assert [b.date for b in bars] == [start + timedelta(days=i) for i in range(3, 8)]
        assert bars[-1].close == 99.0
        assert [b.close for b in await store.get("hk:HSI", days=2)] == [25006.0, 99.0]
        assert await store.bar("hk:HSI", start + timedelta(days=4)) == bars[1]
        assert await store.get("us:SPX") == [] and await store.bar("us:SPX", start) is None
        await redis.aclose()

    asyncio.run(main())


def history_tape(path: Path, with_bars: bool) -> Path:
    lines = []
    if with_bars:
        for i in range(25):  # 25 sessions before 2026-04-08 (weekends included: fine here)
            day = date(2026, 3, 14) + timedelta(days=i)
            lines.append(orjson.dumps({"kind": "bar", "date": day.isoformat(), "id": "hk:HSI",
                                       "open": 25000 + i, "high": 25100 + i, "low": 24900 + i,
                                       "close": 25000 + i, "volume": 2e11}))
    for minute, value, turnover in ((30, 25300.0, 1e10), (45, 25100.0, 5e10),
                                    (59, 25180.5, 2.4e11)):
        lines.append(orjson.dumps({"ts": f"2026-04-08T01:{minute}:00Z", "id": "hk:HSI",
                                   "value": value, "volume": turnover, "prev_close": 25024}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


async def replay_and_read(tape_path: Path, url: str) -> tuple[dict[str, Baseline],
                                                              list[DailyBar]]:
    tape = read_tape(tape_path)
    await replay(tape, load_config(env={}), url, speed=math.inf, out=None, view=QuietView(),
                 namespace="history-test")
    redis = await connect(url)
    store = HistoryStore(redis, Keys("cc", "history-test"))
    found = await store.baselines(["hk:HSI"], tape.start_ms, window=20)
    bars = await store.get("hk:HSI")
    await redis.aclose()
    return found, bars


def test_a_tape_with_history_gives_baselines_from_its_first_event(redis_url: str,
                                                                   tmp_path: Path) -> None:
    found, bars = asyncio.run(replay_and_read(history_tape(tmp_path / "t.jsonl", True),
                                              redis_url))
    hsi = found["hk:HSI"]
    assert not hsi.warming_up and hsi.sessions == 25
    assert hsi.previous_close == 25024.0 and hsi.average_volume == 2e11
    assert hsi.volume_ratio(2.4e11) == pytest.approx(1.2)
    today = bars[-1]  # built live from the replayed events, in Hong Kong's calendar
    assert (today.date, today.open, today.high, today.low, today.close, today.volume) == \
        (date(2026, 4, 8), 25300.0, 25300.0, 25100.0, 25180.5, 2.4e11)


def test_a_tape_without_history_is_warming_up(redis_url: str, tmp_path: Path) -> None:
    found, bars = asyncio.run(replay_and_read(history_tape(tmp_path / "t.jsonl", False),
                                              redis_url))
    assert found["hk:HSI"].warming_up and found["hk:HSI"].average_volume is None
    assert [b.date for b in bars] == [date(2026, 4, 8)]


def test_a_restarted_recorder_continues_today_s_bar_and_bucket(redis_url: str, keys: Keys
                                                              ) -> None:
    async def main() -> tuple[DailyBar | None, Series]:
        redis = await connect(redis_url)
        store = HistoryStore(redis, keys)
        base = 1775611800000  # 2026-04-08 09:30 Hong Kong
        for i, price in enumerate((25300.0, 25400.0, 25100.0, 25180.5)):
            await redis.xadd(keys.events("hk"), {FIELD: encode(Tick(
                id="hk:HSI", ts=base + i * 60_000, price=price, day_volume=1e9 * (i + 1)))})
        first = HistoryRecorder(redis, keys, ["hk"], store, AgentConfig(batch=2))
        await first.start()
        await first.step()  # two events, committed; then the process "dies"
        second = HistoryRecorder(redis, keys, ["hk"], store, AgentConfig(batch=2))
        await second.start()
        while await second.step():
            pass
        found = await store.bar("hk:HSI", date(2026, 4, 8))
        series, _, _ = await collect(redis, keys)
        await redis.aclose()
        return found, series["hk:HSI"]

    bar, series = asyncio.run(main())
    assert bar is not None
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == \
        (25300.0, 25400.0, 25100.0, 25180.5, 4e9)
    # the report's view: the same day from the five-minute bucket, across the restart
    assert (series.first, series.high, series.low, series.last, series.volume) == \
        (25300.0, 25400.0, 25100.0, 25180.5, 4e9)
