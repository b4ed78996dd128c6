from __future__ import annotations

import asyncio

import pytest
from rich.console import Console

from crosscurrent.config import load_config
from crosscurrent.events import FeedState, FeedStatus, encode, pack
from reporters.feed_table import feeds_table, latest_statuses
from streams.bus import FIELD
from streams.keys import Keys
from streams.redis_client import connect
from tests.test_cli import crosscurrent


def status(source: str, state: FeedState, ts: int, **more: object) -> FeedStatus:
    return FeedStatus(source=source, ts=ts, state=state, **more)


def render(table: object) -> str:
    console = Console(record=True, width=160)
    console.print(table)
    return console.export_text()


def test_table_shows_each_configured_source_with_its_latest_state() -> None:
    config = load_config(env={})
    text = render(feeds_table(config, {
        "yahoo": status("yahoo", FeedState.CLOSED, 1_000, messages=42, detail="markets closed"),
        "binance": status("binance", FeedState.STALE, 91_000, reconnects=3),
    }, now_ms=121_000))
    assert "closed" in text and "markets closed" in text and "2m ago" in text
    assert "stale" in text and "30s ago" in text
    assert "hk:HSI" in text and "crypto:BTC" in text


@pytest.mark.parametrize("packed", [False, True], ids=["an entry each", "one entry"])
def test_latest_statuses_from_the_bus_and_the_command(redis_url: str, keys: Keys,
                                                      packed: bool) -> None:
    async def main() -> dict[str, FeedStatus]:
        redis = await connect(redis_url)
        events = (status("yahoo", FeedState.CONNECTING, 1),
                  status("yahoo", FeedState.CONNECTED, 2, messages=7),
                  status("binance", FeedState.DISCONNECTED, 3, detail="OSError"))
        for payload in [pack([encode(e) for e in events])] if packed else map(encode, events):
            await redis.xadd(keys.status, {FIELD: payload})
        found = await latest_statuses(redis, keys)
        await redis.aclose()
        return found

    found = asyncio.run(main())
    assert found["yahoo"].state == FeedState.CONNECTED and found["yahoo"].messages == 7
    assert found["binance"].state == FeedState.DISCONNECTED
    result = crosscurrent("feeds", "--redis", redis_url, "--namespace", keys.namespace,
                          env={"CROSSCURRENT_REDIS_PREFIX": keys.prefix})
    assert result.returncode == 0, result.stderr
    assert "connected" in result.stdout and "disconnected" in result.stdout
