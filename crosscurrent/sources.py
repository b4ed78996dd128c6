"""Which adapter serves each source, and at which address: live, or a simulator's."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.references import CloseReference
from streams.ashare import AshareFeed
from streams.backfill import CcxtCandles, DefiLlamaHistory, HistorySource, YahooChart
from streams.binance import MARKETS as BINANCE_MARKETS
from streams.binance import BinanceProtocol
from streams.ccxt_feed import CcxtFeed
from streams.coingecko import CoinGeckoProtocol
from streams.defillama import DefiLlamaProtocol
from streams.feed import Sink, WebsocketFeed
from streams.poll import HttpPoller
from streams.yahoo import YahooProtocol

log = logging.getLogger(__name__)

#: Sources with a live adapter here (all of them have a simulator too).
ADAPTED_SOURCES = (*BINANCE_MARKETS, "yahoo", "defillama", "coingecko", "eastmoney")


class Feed(Protocol):
    frames: int
    malformed: int

    @property
    def source(self) -> str: ...

    async def run(self) -> None: ...


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def build_feeds(
    source: str,
    ids: Iterable[str],
    config: Config,
    sink: Sink,
    url: str | None = None,
    poll_s: float | None = None,
    clock: Callable[[], int] = wall_clock_ms,
    ca_file: str | None = None,
    references: CloseReference | None = None,
) -> list[Feed]:
    """The feeds of a source's ids: its live address, or `url` (a simulator's) if given.
    `clock` (epoch ms) says when "now" is for market hours: the tape's clock on replay.
    `ca_file`: a simulator's CA, for sources reached through a TLS-ending proxy (`url`).
    `references`: previous closes from daily history, for quotes that carry none."""
    ids = sorted(ids)
    sources = config.sources
    calendars = {default_catalog()[i].calendar for i in ids}

    def market_open() -> bool:
        now = clock()
        return any(calendar.is_open(now) for calendar in calendars)

    if source in BINANCE_MARKETS:
        protocol = BinanceProtocol(url or sources.ws_url(source), ids, source=source)
        rest = url.replace("ws://", "http://") if url else sources.rest_url(source)
        return [WebsocketFeed(part, sink, config.feeds, market_open, rest_url=rest,
                              watch_streams=url is None)
                for part in protocol.connections(sources.layout(source))]
    if source == "yahoo":
        address = f"{url}/?version=2" if url else sources.yahoo.ws_url
        return [WebsocketFeed(YahooProtocol(address, ids, sources.yahoo.resubscribe_s,
                                            references=references, clock=clock),
                              sink, config.feeds, market_open, watch_streams=url is None)]
    if source == "defillama":
        llama = sources.defillama
        feeds: list[Feed] = []
        for part, base in (("protocols", url or llama.api_url),
                           ("stablecoins", url or llama.stablecoins_url)):
            poll_protocol = DefiLlamaProtocol(ids, part)
            if poll_protocol.paths():
                feeds.append(HttpPoller(poll_protocol, base, sink, config.feeds,
                                        poll_s or llama.poll_s))
        return feeds
    if source == "coingecko":
        gecko = sources.coingecko
        gecko_protocol = CoinGeckoProtocol(ids, api_key=gecko.api_key, api_plan=gecko.api_plan)
        return [HttpPoller(gecko_protocol, url or gecko.base_url(), sink, config.feeds,
                           poll_s or gecko.poll_s)]
    if source == "eastmoney":
        east = sources.eastmoney
        return [AshareFeed(ids, sink, config.feeds, poll_s or east.poll_s, market_open, clock,
                           proxy=url or east.proxy, ca_bundle=ca_file or east.ca_bundle)]
    raise ValueError(f"no live adapter for source {source!r} yet")


def live_feeds(config: Config, sink: Sink, references: CloseReference | None = None
               ) -> list[tuple[str, Feed]]:
    """The feeds of the watchlist and of the ccxt entries, named, at their live addresses."""
    catalog = default_catalog()
    feeds: list[tuple[str, Feed]] = [
        (f"ccxt {entry.exchange} feed", CcxtFeed(entry.exchange, entry.ids, sink, config.feeds,
                                                 trades_limit=entry.trades_limit))
        for entry in config.ccxt
    ]
    by_source: dict[str, list[str]] = {}
    for ident in config.watchlist:
        if catalog[ident].source != "ccxt":  # a venue's symbol: followed by its ccxt entry
            by_source.setdefault(catalog[ident].source, []).append(ident)
    for source, ids in by_source.items():
        if source not in ADAPTED_SOURCES:
            log.warning("no live adapter for %s yet: %s not followed", source, ", ".join(ids))
            continue
        feeds += [(f"{source}{getattr(feed, 'connection', '')} feed", feed)
                  for feed in build_feeds(source, ids, config, sink, references=references)]
    return feeds


def history_sources(config: Config) -> dict[str, HistorySource]:
    """Where each source's daily history is backfilled from (sources without one: absent)."""
    catalog = default_catalog()
    spot = {i.symbol: f"{i.symbol.removesuffix('USDT')}/USDT"
            for i in catalog.for_source("binance")}
    sources: dict[str, HistorySource] = {
        "yahoo": YahooChart(config.sources.yahoo.chart_url),
        "defillama": DefiLlamaHistory(config.sources.defillama.api_url,
                                      config.sources.defillama.stablecoins_url),
    }
    rest = config.sources.binance.rest_url
    if rest:  # candles through ccxt, at the configured REST address, spot markets only
        sources["binance"] = CcxtCandles("binance", spot, {
            "urls": {"api": {"public": f"{rest.rstrip('/')}/api/v3"}},
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}})
    return sources
