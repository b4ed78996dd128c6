from __future__ import annotations

import asyncio

import pytest
from rich.console import Console

from crosscurrent.config import load_config
from crosscurrent.events import FeedState, FeedStatus, encode, pack
from reporters.feed_table import FeedStates, feeds_table, latest_statuses
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


def test_frames_are_the_sources_counters_where_they_were_flushed() -> None:
    """The frames `audit` counts (the source's counters in Redis), once per source, on its
    first connection's row; a source that never flushed shows its latest status's."""
    config = load_config(env={})
    statuses = {
        "binance-usdm /market": status("binance-usdm", FeedState.CONNECTED, 1_000,
                                       connection="/market", messages=0),
        "binance-usdm /public": status("binance-usdm", FeedState.CONNECTED, 1_000,
                                       connection="/public", messages=0),
        "yahoo": status("yahoo", FeedState.CONNECTED, 1_000, messages=0),
        "coingecko": status("coingecko", FeedState.CONNECTED, 1_000, messages=3, malformed=1),
    }
    counted = {"binance-usdm": (2396, 2), "yahoo": (862, 0), "binance": (1564, 0)}
    text = render(feeds_table(config, FeedStates(statuses, counted), now_ms=2_000))
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in text.splitlines() if line.startswith("│") and line.split("│")[1].strip()}
    assert rows["binance-usdm /market"][3:5] == ["2396", "2"]
    assert rows["binance-usdm /public"][3:5] == ["↑", "↑"]  # its source's, shown above
    assert rows["yahoo"][3:5] == ["862", "0"]
    assert rows["coingecko"][3:5] == ["3", "1"]  # never flushed: its status's
    assert rows["binance"][1:5] == ["no status yet", "", "1564", "0"]
    assert "as `audit` counts them" in " ".join(text.split())
    assert feeds_table(config, statuses, 2_000, counted).caption  # given apart


def test_latest_statuses_carry_the_sources_counters(redis_url: str, keys: Keys) -> None:
    async def main() -> FeedStates:
        redis = await connect(redis_url)
        await redis.xadd(keys.status, {FIELD: encode(status("yahoo", FeedState.CONNECTED, 1))})
        await redis.hset(keys.stats, mapping={"feed.yahoo.received": 12,
                                              "feed.yahoo.malformed": 1, "feed.yahoo.sent": 12})
        found = await latest_statuses(redis, keys)
        await redis.aclose()
        return found

    found = asyncio.run(main())
    assert found["yahoo"].state == FeedState.CONNECTED and found.counted == {"yahoo": (12, 1)}
