from __future__ import annotations

from pathlib import Path

import pytest

from crosscurrent.config import ConfigError, load_config


def test_defaults_are_documented_and_valid() -> None:
    config = load_config(env={})
    assert config.redis.url is None
    pairs = {(p.a, p.b) for p in config.detectors.divergence.pairs}
    assert pairs == {(("crypto:BTC",), ("hk:HSTECH",)), (("crypto:ETH",), ("crypto:BTC",)),
                     (("crypto:BTC",), ("us:IXIC",)), (("cn:SSE",), ("hk:HSI",))}
    assert [n.name for n in config.detectors.chain.nodes] == ["US", "HK", "A-share"]


def test_file_overlays_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("agent:\n  batch: 64\n")
    config = load_config(path, env={})
    assert config.agent.batch == 64
    assert config.agent.block_ms == 200


def test_environment_overrides_nested_keys() -> None:
    config = load_config(env={"CROSSCURRENT_REDIS_URL": "redis://127.0.0.1:1/0",
                              "CROSSCURRENT_REDIS_BATCH_SIZE": "32",
                              "CROSSCURRENT_SOURCES_YAHOO_RESUBSCRIBE_S": "5"})
    assert config.redis.url == "redis://127.0.0.1:1/0"
    assert config.redis.batch_size == 32
    assert config.sources.yahoo.resubscribe_s == 5


@pytest.mark.parametrize(("text", "message"), [
    ("redis:\n  batch_size: many\n",
     "c.yaml: key 'redis.batch_size': input should be a valid integer"),
    ("redis:\n  bach_size: 3\n", "c.yaml: unknown key 'redis.bach_size'"),
    ("redis: [\n", "c.yaml: line 2 is not valid YAML"),
    ("- 1\n", "expected a mapping of sections"),
    ("detectors:\n  divergence:\n    pairs:\n      - {a: crypto:BTC, b: hk:HSTECH, warn: 3, "
     "critical: 2, resolve: 1}\n", "resolve < info <= warn <= critical"),
])
def test_bad_config_is_one_line_naming_file_and_key(tmp_path: Path, text: str, message: str
                                                     ) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="environment variable CROSSCURRENT_AGENT_BATCH"):
        load_config(env={"CROSSCURRENT_AGENT_BATCH": "zero"})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_config(tmp_path / "nope.yaml", env={})


def test_ccxt_exchanges_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("ccxt:\n  - {exchange: okx, ids: {crypto:BTC: BTC/USDT}}\n")
    (entry,) = load_config(path, env={}).ccxt
    assert entry.exchange == "okx" and entry.trades_limit == 10_000
    path.write_text("ccxt:\n  - {exchange: okx, ids: {crypto:NOPE: X/Y}}\n")
    with pytest.raises(ConfigError, match=r"key 'ccxt\.0\.ids\.crypto:NOPE\.\[key\]': value "
                                          r"error, unknown instrument id 'crypto:NOPE'"):
        load_config(path, env={})


def test_a_watchlist_typo_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("watchlist: [hk:HSI, hk:HSII]\n")
    with pytest.raises(ConfigError, match=r"key 'watchlist\.1': value error, unknown instrument "
                                          r"id 'hk:HSII'"):
        load_config(path, env={})


def test_a_config_error_never_shows_the_secrets_of_its_section(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sources:\n  binance: {ws_url: 'wss://x', layout: category}\n"
                    "  coingecko: {api_key: 'CG-SECRET-KEY'}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path, env={"CROSSCURRENT_SOURCES_COINGECKO_API_KEY": "CG-ENV-SECRET"})
    said = str(refused.value)
    assert "sources.binance.layout" in said and "SECRET" not in said and "\n" not in said
