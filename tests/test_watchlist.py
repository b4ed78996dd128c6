"""The config's watchlist of ids and the user's own symbols (`crosscurrent/watchlist.py`),
and what the pipeline makes of them: catalog, ccxt entries, large-move rules, readers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crosscurrent.app import large_move_rules
from crosscurrent.catalog import default_catalog
from crosscurrent.config import ConfigError, load_config
from streams.keys import Keys
from streams.owner import learn_instruments, share_instruments
from streams.redis_client import connect


def config_of(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_symbols_become_ids_the_whole_pipeline_knows(tmp_path: Path) -> None:
    config = load_config(config_of(tmp_path, """
watchlist:
  - crypto:BTC
  - SOL/USDT
  - {symbol: NVDA, name: NVIDIA}
  - {symbol: 0700.HK, id: hk:TENCENT, name: Tencent, calendar: hkex}
  - SOL/USDT:USDT
  - okx:DOGE/USDT
detectors:
  rules:
    - {name: nvda-up, when: 'price("us:NVDA") > 100'}
  divergence:
    pairs: [[crypto:SOL, us:NVDA], {a: [crypto:SOL], b: [crypto:BTC], warn: 2, critical: 4,
                                    resolve: 1}]
"""), env={})
    assert config.watchlist == ("crypto:BTC", "crypto:SOL", "us:NVDA", "hk:TENCENT",
                                "perp:SOL", "funding:SOL", "crypto:DOGE")
    catalog = default_catalog()
    nvda, tencent = catalog["us:NVDA"], catalog["hk:TENCENT"]
    assert (nvda.en, nvda.source, nvda.symbol, nvda.region, nvda.currency) == (
        "NVIDIA", "yahoo", "NVDA", "us", "USD")
    assert (tencent.symbol, tencent.calendar.tz, tencent.currency) == (
        "0700.HK", "Asia/Hong_Kong", "HKD")
    assert catalog["funding:SOL"].kind == "metric"
    assert [(e.exchange, dict(e.ids)) for e in config.ccxt] == [
        ("okx", {"crypto:DOGE": "DOGE/USDT"})]  # a venue's symbol is a ccxt entry
    rules = {i: r for r in large_move_rules(config) for i in r.ids}
    assert rules["crypto:SOL"].always_critical == 15.0  # as the coins
    assert rules["us:NVDA"].always_critical is None  # a stock: its own history decides
    assert rules["us:NVDA"].sigma_warn == rules["us:SPX"].sigma_warn
    short, full = config.detectors.divergence.pairs
    assert (short.a, short.b, short.warn, short.critical) == (("crypto:SOL",), ("us:NVDA",),
                                                              3.0, 5.0)
    assert full.warn == 2


@pytest.mark.parametrize(("entry", "message"), [
    ("SOL/EUR", "key 'watchlist.1': value error, 'SOL/EUR': prices are followed in US dollars"),
    ("{symbol: 0700.HK, calendar: moon}", "key 'watchlist.1': value error, unknown calendar "
     "'moon'"),
    ("{symbol: NVDA, colour: green}", "key 'watchlist.1': value error, colour: Extra inputs "
     "are not permitted"),
    ("hk:HSII", "key 'watchlist.1': value error, unknown instrument id 'hk:HSII'"),
    ("ETH/USDT", "value error, ETH/USDT is crypto:ETH, which the catalog has already: list "
     "crypto:ETH itself"),
    ("{symbol: AAPL, id: crypto:BTC}", "id 'crypto:BTC': AAPL's ids are us:..., the family of"),
    ("{symbol: AAPL, id: us:DJI}", "AAPL is us:DJI, which the catalog has already"),
    ("SOL/USDT:BTC", "the Binance perpetuals followed here are USDT-settled (SOL/USDT:USDT)"),
    ("crypto:BTC", "crypto:BTC twice in the watchlist: keep one"),
])
def test_a_bad_entry_is_one_line_naming_it(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(config_of(tmp_path, f"watchlist:\n  - crypto:BTC\n  - {entry}\n"), env={})
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_readers_of_a_namespace_learn_its_writers_own_instruments(redis_url: str,
                                                                   tmp_path: Path) -> None:
    load_config(config_of(tmp_path, "watchlist: [NVDA]\n"), env={})
    catalog = default_catalog()
    nvda = catalog["us:NVDA"]

    async def main() -> None:
        redis = await connect(redis_url)
        keys = Keys("cc", "own-instruments")
        try:
            await share_instruments(redis, keys)
            del catalog._instruments["us:NVDA"]  # a reader that never loaded that config
            catalog.added.clear()
            assert "us:NVDA" not in catalog
            await learn_instruments(redis, keys)
        finally:
            await redis.aclose()

    asyncio.run(main())
    assert catalog["us:NVDA"] == nvda


@pytest.mark.parametrize("value", ["true", "42", "{a: 1}", "okx:SOL/USDT"])
def test_a_watchlist_that_is_no_list_is_one_line_too(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="key 'watchlist'"):
        load_config(config_of(tmp_path, f"watchlist: {value}\n"), env={})
