"""A user's symbols to sources, ids and markets (`crosscurrent/symbols.py`)."""

from __future__ import annotations

import pytest

from crosscurrent.symbols import SymbolError, resolve


@pytest.mark.parametrize(("symbol", "expected"), [
    ("SOL/USDT", ("crypto:SOL", "binance", None, "SOLUSDT", "always", None)),
    ("sol/usdt", ("crypto:SOL", "binance", None, "SOLUSDT", "always", None)),
    ("okx:SOL/USDT", ("crypto:SOL", "ccxt", "okx", "SOL/USDT", "always", None)),
    ("SOL/USDT:USDT", ("perp:SOL", "binance-usdm", None, "SOLUSDT", "always", "funding:SOL")),
    ("okx:SOL/USDT:USDT", ("perp:SOL", "ccxt", "okx", "SOL/USDT:USDT", "always", None)),
    ("NVDA", ("us:NVDA", "yahoo", None, "NVDA", "nyse", None)),
    ("BRK-B", ("us:BRK-B", "yahoo", None, "BRK-B", "nyse", None)),
    ("0700.HK", ("hk:0700", "yahoo", None, "0700.HK", "hkex", None)),
    ("600519.SS", ("cn:600519", "yahoo", None, "600519.SS", "sse", None)),
    ("000001.SZ", ("cn:000001", "yahoo", None, "000001.SZ", "sse", None)),
    ("^N225", ("jp:N225", "yahoo", None, "^N225", "tse", None)),
    ("defillama:aave", ("tvl:aave", "defillama", None, "aave", "always", None)),
])
def test_each_form_names_its_source_id_and_market(symbol: str,
                                                  expected: tuple[str | None, ...]) -> None:
    found = resolve(symbol)
    assert (found.id, found.source, found.venue, found.market, found.calendar,
            found.funding) == expected


def test_the_suffix_decides_market_and_currency() -> None:
    assert (resolve("0700.HK").currency, resolve("7203.T").currency) == ("HKD", "JPY")
    assert resolve("^N225").asset == "index" and resolve("NVDA").asset == "equity"


@pytest.mark.parametrize(("symbol", "message"), [
    ("SOL/EUR", "prices are followed in US dollars: quote it in USDT"),
    ("0700.XX", "no market for the suffix .XX (known: .HK, .SS"),
    ("what is this", "is not a symbol we can follow: give one like SOL/USDT"),
    ("", "is not a symbol we can follow"),
])
def test_what_is_no_symbol_says_the_forms(symbol: str, message: str) -> None:
    with pytest.raises(SymbolError, match=message.replace(".", r"\.").replace("(", r"\(")):
        resolve(symbol)
