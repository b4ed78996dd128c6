from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from crosscurrent.catalog import UnknownIdError, default_catalog, family
from tests.conftest import shared


def ms(text: str, tz: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def test_every_id_of_the_tape_spec_is_in_the_catalog() -> None:
    spec = shared("spec/tape.md").read_text()
    ids = set(re.findall(r"`([a-z]+:[A-Z0-9_]+)`", spec))
    ids |= {f"tvl:{slug}" for slug in ("lido", "rocket-pool", "superstate", "openeden",
                                       "ondo-finance", "stargate")}
    ids |= {f"dexvol:{slug}" for slug in ("uniswap-v3", "fluid", "curve-dex")}
    assert len(ids) > 30
    catalog = default_catalog()
    for ident in ids:
        item = catalog[ident]
        assert item.en and item.zh and item.source and item.symbol, ident


def test_seed_names_and_categories() -> None:
    catalog = default_catalog()
    assert catalog["hk:HSTECH"].zh == "恒生科技"
    assert catalog["us:IXIC"].zh == "纳指"
    assert catalog["tvl:superstate"].category == "rwa"
    assert catalog["tvl:lido"].category == "liquid-staking"
    assert catalog["tvl:some-new-protocol"].category == "other"


def test_sources_list_their_instruments() -> None:
    catalog = default_catalog()
    assert "hk:HSI" in {i.id for i in catalog.for_source("yahoo")}
    assert {i.id for i in catalog.for_source("binance")} == {"crypto:BTC", "crypto:ETH"}
    usdm = {i.id: i.symbol for i in catalog.for_source("binance-usdm")}
    assert usdm["perp:BTC"] == usdm["funding:BTC"] == "BTCUSDT"
    assert family("hk:HSI") == "hk"


def test_unknown_id_says_what_ids_look_like() -> None:
    with pytest.raises(UnknownIdError, match="ids look like 'hk:HSI'"):
        default_catalog()["hsi"]


def test_hong_kong_lunch_break_and_weekend() -> None:
    hkex = default_catalog()["hk:HSI"].calendar
    assert hkex.is_open(ms("2026-04-08 10:00", "Asia/Hong_Kong"))
    assert not hkex.is_open(ms("2026-04-08 12:30", "Asia/Hong_Kong"))
    assert hkex.is_open(ms("2026-04-08 15:59", "Asia/Hong_Kong"))
    assert not hkex.is_open(ms("2026-04-11 10:00", "Asia/Hong_Kong"))  # Saturday


def test_new_york_hours_follow_daylight_saving() -> None:
    nyse = default_catalog()["us:SPX"].calendar
    assert nyse.is_open(ms("2026-04-07 09:30", "America/New_York"))  # 13:30Z in April
    assert nyse.is_open(ms("2026-01-07 15:59", "America/New_York"))  # 20:59Z in January
    assert not nyse.is_open(ms("2026-04-07 16:00", "America/New_York"))


def test_a_share_session_and_crypto_always_open() -> None:
    catalog = default_catalog()
    sse = catalog["cn:SSE"].calendar
    assert not sse.is_open(ms("2026-04-08 12:00", "Asia/Shanghai"))
    assert sse.is_open(ms("2026-04-08 14:00", "Asia/Shanghai"))
    assert catalog["crypto:BTC"].calendar.is_open(ms("2026-04-11 03:00", "UTC"))
    assert sse.session_date(ms("2026-04-08 23:30", "Asia/Shanghai")).isoformat() == "2026-04-08"


def test_holidays_come_from_the_exchange_schedule() -> None:
    catalog = default_catalog()
    hkex, sse, nyse = (catalog[i].calendar for i in ("hk:HSI", "cn:SSE", "us:SPX"))
    assert not hkex.is_open(ms("2026-04-03 10:00", "Asia/Hong_Kong"))  # Good Friday
    assert not hkex.is_open(ms("2026-04-06 10:00", "Asia/Hong_Kong"))  # Easter Monday
    assert not sse.is_open(ms("2026-04-06 10:00", "Asia/Shanghai"))  # Qingming
    assert not nyse.is_open(ms("2026-04-03 10:00", "America/New_York"))  # Good Friday
    assert nyse.is_open(ms("2026-04-06 10:00", "America/New_York"))
    assert hkex.is_open(ms("2026-04-08 15:59", "Asia/Hong_Kong"))


def test_beyond_the_schedule_the_regular_sessions_apply() -> None:
    hkex = default_catalog()["hk:HSI"].calendar
    assert hkex.is_open(ms("2040-04-10 10:00", "Asia/Hong_Kong"))  # a Tuesday
    assert not hkex.is_open(ms("2040-04-10 12:30", "Asia/Hong_Kong"))
