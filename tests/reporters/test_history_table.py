from __future__ import annotations

import asyncio
from datetime import date, timedelta

from rich.console import Console

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import default_catalog
from reporters.history_table import history_view, sparkline
from streams.history import HistoryStore
from streams.keys import Keys
from streams.redis_client import connect
from tests.test_cli import crosscurrent

BARS = [DailyBar(date=date(2026, 4, 1) + timedelta(days=i), open=c, high=c, low=c, close=c,
                 volume=2.4e11) for i, c in enumerate((25357.0, 25500.0, 25180.5))]


def test_sparkline_spans_the_range() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5]) == "▁▁" and sparkline([]) == ""


def test_view_has_names_changes_and_volumes() -> None:
    console = Console(record=True, width=100)
    console.print(history_view(default_catalog()["hk:HSI"], BARS))
    text = console.export_text()
    assert "hk:HSI  Hang Seng Index / 恒生指数" in text and "3 sessions (Asia/Hong_Kong)" in text
    assert "+0.56%" in text and "-1.25%" in text and "240.00B" in text


def test_history_show_reads_a_pipeline_s_store(redis_url: str, keys: Keys) -> None:
    async def put() -> None:
        redis = await connect(redis_url)
        await HistoryStore(redis, keys).put(("hk:HSI", bar) for bar in BARS)
        await redis.aclose()

    asyncio.run(put())
    env = {"CROSSCURRENT_REDIS_PREFIX": keys.prefix}
    shown = crosscurrent("history", "show", "hk:HSI", "--days", "2", "--redis", redis_url,
                         "--namespace", keys.namespace, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "2026-04-03" in shown.stdout and "2026-04-01" not in shown.stdout
    empty = crosscurrent("history", "show", "us:SPX", "--redis", redis_url,
                         "--namespace", keys.namespace, env=env)
    assert empty.returncode == 1 and "no bars of us:SPX" in empty.stdout
