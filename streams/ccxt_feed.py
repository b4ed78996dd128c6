"""Any ccxt.pro exchange as a feed: `watch_ticker` and `watch_trades` per symbol, and
`watch_funding_rate` for funding ids (`funding:BTC: BTC/USDT:USDT`): where Binance refuses a
region (HTTP 451), perpetuals and funding can come from another venue this way.

Traps handled here:
- ccxt keeps at most `options.tradesLimit` trades per symbol between two `watch_trades`
  calls (a top-level `tradesLimit` is ignored) and drops the oldest silently under bursts:
  the limit is configurable, and drops are counted from gaps in sequential trade ids.
- With `newUpdates`, trades that arrive while nobody waits are handed out with the next
  message, not before. Drops before the first trade seen cannot be told from ids.
- Binance's `watch_ticker` subscribes to `@miniTicker` (no bid/ask) unless asked for the full
  `ticker` stream.

ccxt is imported when a feed is built, not with this module: importing any part of it loads
every exchange it knows (0.8 s of CPU here), which a pipeline without ccxt sources, and every
command that only reads Redis, would pay at start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from crosscurrent.config import FeedsConfig
from crosscurrent.events import FeedState, FeedStatus, Metric, Tick
from streams.feed import Sink

log = logging.getLogger(__name__)

#: Extra `watch_ticker` params per exchange.
TICKER_PARAMS: dict[str, dict[str, str]] = {"binance": {"name": "ticker"}}


class CcxtFeed:
    def __init__(
        self,
        exchange_id: str,
        symbols: dict[str, str],
        sink: Sink,
        config: FeedsConfig,
        trades_limit: int = 10_000,
        overrides: dict[str, Any] | None = None,
        tickers: bool = True,
    ) -> None:
        """`symbols` maps canonical ids to the exchange's unified symbols (`BTC/USDT`);
        `overrides` is merged into the ccxt exchange config (urls, options); `tickers=False`
        follows trades only."""
        import ccxt.pro as ccxtpro

        if exchange_id not in ccxtpro.exchanges:
            raise ValueError(f"ccxt.pro has no exchange {exchange_id!r}")
        self.exchange_id = exchange_id
        self.source = f"ccxt:{exchange_id}"
        self.symbols = symbols
        self.loops = (self._tickers, self._trades) if tickers else (self._trades,)
        self.sink = sink
        self.config = config
        self.settings = _merged(
            {"enableRateLimit": True, "newUpdates": True,
             "options": {"tradesLimit": trades_limit}},
            overrides or {})
        self.frames = 0
        self.malformed = 0
        self.drops = 0
        self.reconnects = 0
        self.last_trade_ids: dict[str, int] = {}
        self._open_24h: dict[str, float] = {}

    async def _status(self, state: FeedState, detail: str = "") -> None:
        await self.sink(FeedStatus(
            source=self.source, ts=time.time_ns() // 1_000_000, state=state, detail=detail,
            reconnects=self.reconnects, messages=self.frames, malformed=self.malformed,
        ))

    async def run(self) -> None:
        import ccxt.pro as ccxtpro

        exchange = getattr(ccxtpro, self.exchange_id)(self.settings)
        try:
            await self._status(FeedState.CONNECTING)
            await self._retrying("load markets", exchange.load_markets)
            await self._status(FeedState.CONNECTED)
            await asyncio.gather(*(
                loop(exchange, ident, symbol)
                for ident, symbol in self.symbols.items()
                for loop in ((self._funding,) if ident.startswith("funding:") else self.loops)
            ))
        finally:
            await exchange.close()

    async def _retrying(self, what: str, call: Any, *args: Any) -> Any:
        from ccxt.base.errors import BaseError, NetworkError

        delay = self.config.backoff_initial_s
        while True:
            try:
                return await call(*args)
            except BaseError as exc:  # ccxt reconnects on the next call
                self.reconnects += 1
                log.warning("%s: %s failed (%s: %s); retrying in %.1fs", self.source, what,
                            type(exc).__name__, str(exc)[:160], delay)
                state = FeedState.DISCONNECTED if isinstance(exc, NetworkError) else \
                    FeedState.STALE
                await self._status(state, f"{what}: {type(exc).__name__}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.backoff_max_s)

    async def _tickers(self, exchange: Any, ident: str, symbol: str) -> None:
        params = TICKER_PARAMS.get(self.exchange_id, {})
        while True:
            ticker = await self._retrying(f"watch_ticker {symbol}", exchange.watch_ticker,
                                          symbol, params)
            self.frames += 1
            try:
                opened = float(ticker["open"]) if ticker.get("open") is not None else None
                event = Tick(id=ident, ts=int(ticker["timestamp"]), price=float(ticker["last"]),
                             prev_close=opened, day_volume=ticker.get("baseVolume"),
                             source=self.source, recv_ns=time.time_ns())
            except (KeyError, TypeError, ValueError) as exc:
                self.malformed += 1
                log.warning("%s: unusable ticker for %s skipped (%s)", self.source, symbol, exc)
                continue
            if opened:
                self._open_24h[ident] = opened
            await self.sink(event)

    async def _funding(self, exchange: Any, ident: str, symbol: str) -> None:
        while True:
            rate = await self._retrying(f"watch_funding_rate {symbol}",
                                        exchange.watch_funding_rate, symbol)
            self.frames += 1
            recv_ns = time.time_ns()
            try:
                event = Metric(id=ident, ts=int(rate.get("timestamp") or recv_ns // 1_000_000),
                               value=float(rate["fundingRate"]), source=self.source,
                               recv_ns=recv_ns)
            except (KeyError, TypeError, ValueError) as exc:
                self.malformed += 1
                log.warning("%s: unusable funding rate for %s skipped (%s)", self.source,
                            symbol, exc)
                continue
            await self.sink(event)

    async def _trades(self, exchange: Any, ident: str, symbol: str) -> None:
        while True:
            trades = await self._retrying(f"watch_trades {symbol}", exchange.watch_trades,
                                          symbol)
            recv_ns = time.time_ns()
            for trade in trades:
                self.frames += 1
                self._count_gap(ident, trade.get("id"))
                try:
                    event = Tick(id=ident, ts=int(trade["timestamp"]),
                                 price=float(trade["price"]), volume=float(trade["amount"]),
                                 prev_close=self._open_24h.get(ident), source=self.source,
                                 recv_ns=recv_ns)
                except (KeyError, TypeError, ValueError) as exc:
                    self.malformed += 1
                    log.warning("%s: unusable trade for %s skipped (%s)", self.source, symbol,
                                exc)
                    continue
                await self.sink(event)

    def _count_gap(self, ident: str, trade_id: object) -> None:
        """Sequential trade ids that skip numbers are trades ccxt's cache dropped."""
        if not isinstance(trade_id, str) or not trade_id.isdigit():
            return
        number = int(trade_id)
        last = self.last_trade_ids.get(ident)
        if last is not None and number > last + 1:
            self.drops += number - last - 1
            log.warning("%s: %d trades of %s lost between two reads (raise trades_limit)",
                        self.source, number - last - 1, ident)
        if last is None or number > last:
            self.last_trade_ids[ident] = number


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out
