"""A user's symbol, as they would type it, to a source, a canonical id and a market.

  SOL/USDT            Binance spot (ccxt's unified form)      crypto:SOL
  okx:SOL/USDT        any ccxt.pro venue, spot                crypto:SOL
  SOL/USDT:USDT       a perpetual, with its funding           perp:SOL (+ funding:SOL)
  NVDA                Yahoo, a US listing                     us:NVDA
  0700.HK 600519.SS   Yahoo: the suffix decides the market    hk:0700, cn:600519
  ^N225               Yahoo, an index                         jp:N225
  defillama:aave      a protocol's TVL                        tvl:aave

Pure: no source is asked here (`crosscurrent.lookup` asks them).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

Source = Literal["binance", "binance-usdm", "ccxt", "yahoo", "defillama"]


class SymbolError(ValueError):
    """A symbol that names no instrument we can follow: the message says the forms."""


class Resolved(BaseModel):
    """Where a symbol is followed and what it is called there."""

    model_config = ConfigDict(frozen=True)

    symbol: str  # as the user gave it
    id: str
    source: Source
    venue: str | None = None  # the ccxt.pro exchange, for source ccxt
    market: str  # the source's own symbol: SOLUSDT, NVDA, 0700.HK, SOL/USDT, aave
    region: str
    asset: str
    currency: str
    calendar: str
    funding: str | None = None  # a perpetual's funding-rate id


# suffix -> (region, calendar, currency): Yahoo's market suffixes
YAHOO_SUFFIXES = {
    "": ("us", "nyse", "USD"),
    "HK": ("hk", "hkex", "HKD"),
    "SS": ("cn", "sse", "CNY"),
    "SZ": ("cn", "sse", "CNY"),  # Shenzhen keeps Shanghai's hours
    "T": ("jp", "tse", "JPY"),
    "L": ("uk", "lse", "GBP"),
    "DE": ("eu", "xetra", "EUR"),
}
# Yahoo's index symbols outside the US -> their market
YAHOO_INDICES = {"N225": "T", "FTSE": "L", "GDAXI": "DE", "HSI": "HK", "HSCE": "HK"}
QUOTES = ("USDT", "USDC", "USD", "FDUSD")
FORMS = ("SOL/USDT, okx:SOL/USDT, SOL/USDT:USDT, NVDA, 0700.HK, 600519.SS, ^N225 or "
         "defillama:aave")
_PAIR = re.compile(r"^(?:(?P<venue>[a-z][a-z0-9]*):)?(?P<base>[A-Z0-9]{2,15})/"
                   r"(?P<quote>[A-Z0-9]{2,10})(?::(?P<settle>[A-Z0-9]{2,10}))?$")
_TICKER = re.compile(r"^(?P<index>\^)?(?P<root>[A-Z0-9][A-Z0-9&-]{0,9})"
                     r"(?:\.(?P<suffix>[A-Z]{1,2}))?$")
_SLUG = re.compile(r"^defillama:(?P<slug>[a-z0-9][a-z0-9.-]{0,60})$")


def resolve(symbol: str) -> Resolved:
    """The source, id and market of `symbol`; SymbolError if it has none of the forms."""
    text = symbol.strip()
    if (found := _SLUG.match(text)) is not None:
        slug = found["slug"]
        return Resolved(symbol=text, id=f"tvl:{slug}", source="defillama", market=slug,
                        region="defi", asset="tvl", currency="USD", calendar="always")
    venue, colon, rest = text.partition(":")
    if "/" in venue or not colon:  # no venue: the first part is the pair (or a ticker)
        venue, colon, rest = "", "", text
    if (found := _PAIR.match(f"{venue.lower()}{colon}{rest.upper()}")) is not None:
        return _pair(found.string, found["venue"], found["base"], found["quote"],
                     found["settle"])
    if (found := _TICKER.match(text.upper())) is not None:
        return _yahoo(text.upper(), found["root"], found["suffix"], bool(found["index"]))
    raise SymbolError(f"{symbol!r} is not a symbol we can follow: give one like {FORMS}")


def _pair(text: str, venue: str | None, base: str, quote: str, settle: str | None
          ) -> Resolved:
    if quote not in QUOTES:
        raise SymbolError(f"{text!r}: prices are followed in US dollars: quote it in "
                          f"{', '.join(QUOTES)} (e.g. {base}/USDT)")
    on_binance = venue in (None, "binance")
    if settle is None:
        return Resolved(symbol=text, id=f"crypto:{base}",
                        source="binance" if on_binance else "ccxt", venue=venue,
                        market=f"{base}{quote}" if on_binance else f"{base}/{quote}",
                        region="crypto", asset="crypto", currency="USD", calendar="always")
    usdm = on_binance and settle == quote == "USDT"
    if on_binance and not usdm:
        raise SymbolError(f"{text!r}: the Binance perpetuals followed here are USDT-settled "
                          f"({base}/USDT:USDT); for another, give its ccxt.pro venue "
                          f"(e.g. okx:{base}/{quote}:{settle})")
    return Resolved(symbol=text, id=f"perp:{base}", source="binance-usdm" if usdm else "ccxt",
                    venue=venue, market=f"{base}{quote}" if usdm else f"{base}/{quote}:{settle}",
                    region="crypto", asset="perpetual", currency="USD", calendar="always",
                    funding=f"funding:{base}" if usdm else None)


def _yahoo(text: str, root: str, suffix: str | None, index: bool) -> Resolved:
    market_suffix = suffix or (YAHOO_INDICES.get(root, "") if index else "")
    if market_suffix not in YAHOO_SUFFIXES:
        known = ", ".join(f".{s}" for s in YAHOO_SUFFIXES if s)
        raise SymbolError(f"{text!r}: no market for the suffix .{suffix} (known: {known}; "
                          "none for a US listing)")
    region, calendar, currency = YAHOO_SUFFIXES[market_suffix]
    return Resolved(symbol=text, id=f"{region}:{root}", source="yahoo", market=text,
                    region=region, asset="index" if index else "equity", currency=currency,
                    calendar=calendar)
