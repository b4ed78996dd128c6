"""Binance market-stream servers (spot, USD-M, COIN-M): combined streams, frames as Binance
sends them (field names and order as in the recordings of shared/data and Binance's docs).

Paths as the real hosts serve them (shared/spec/live-sources.md). Spot, and COIN-M by default,
serve every stream on the root (`/ws`, `/ws/<stream>`, `/stream?streams=`). USD-M, and COIN-M
with `layout="category"`, serve market data only under category paths since 2026-04-23:
`/public` (trade, bookTicker, depth) and `/market` (ticker, markPrice, aggTrade, klines, ...),
each with the same three modes; the old root acknowledges every subscription and then sends
trades only. `geo_blocked` answers HTTP 451 to everything, as Binance does to US addresses.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from http import HTTPStatus
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import Catalog
from streams.binance import TRADES_PATH
from streams.simulators.server import SimulatorServer
from streams.tape import TapeEvent

EIGHT_HOURS_MS = 8 * 3600 * 1000
Layout = Literal["legacy", "category"]
#: Where the category layout serves each stream kind (the rest: /market).
PUBLIC_KINDS = frozenset({"trade", "bookTicker", "depth", "rpiDepth"})
#: What the old root still sends under the category layout.
ROOT_KINDS = frozenset({"trade", "aggTrade"})
GEO_BLOCKED = (b'{"code":0,"msg":"Service unavailable from a restricted location according to '
               b"'b. Eligibility' in https://www.binance.com/en/terms. Please contact customer "
               b'service if you believe you received this message in error."}')


def stream_kind(stream: str) -> str:
    """`btcusdt@markPrice@1s` -> `markPrice`, `btcusdt@depth20@100ms` -> `depth`."""
    kind = stream.split("@")[1] if "@" in stream else stream
    return re.sub(r"(_\w+|\d+)$", "", kind)


def split_path(path: str) -> tuple[str | None, str]:
    """(category or None for the root, the rest): `/market/stream?x` -> (market, /stream)."""
    route = urlsplit(path).path
    for category in ("public", "market", "private"):
        if route == f"/{category}" or route.startswith(f"/{category}/"):
            return category, route[len(category) + 1:]
    return None, route


def _px(value: float) -> str:
    return f"{value:.8f}"


@dataclass
class _Day:
    """Rolling 24 h statistics of one symbol, for the 24hrTicker frames."""

    open: float
    high: float
    low: float
    volume: float = 0.0
    quote_volume: float = 0.0
    first_trade: int = 0
    count: int = 0


def trade_frame(market: str, symbol: str, trade_id: int, price: float, qty: float, ts: int
                ) -> dict[str, object]:
    if market == "binance":
        return {"e": "trade", "E": ts, "s": symbol, "t": trade_id, "p": _px(price),
                "q": _px(qty), "T": ts, "m": trade_id % 2 == 0, "M": True}
    return {"e": "trade", "E": ts, "T": ts, "s": symbol, "t": trade_id, "p": _px(price),
            "q": _px(qty), "X": "MARKET", "m": trade_id % 2 == 0}


def ticker_frame(market: str, symbol: str, day: _Day, last: float, qty: float, ts: int,
                 last_id: int) -> dict[str, object]:
    change = last - day.open
    frame: dict[str, object] = {
        "e": "24hrTicker", "E": ts, "s": symbol, "p": _px(change),
        "P": f"{change / day.open * 100:.3f}" if day.open else "0.000",
        "w": _px(day.quote_volume / day.volume if day.volume else last),
    }
    if market == "binance":
        frame |= {"x": _px(day.open), "c": _px(last), "Q": _px(qty), "b": _px(last - 0.01),
                  "B": _px(1.0), "a": _px(last + 0.01), "A": _px(1.0)}
    else:
        frame |= {"c": _px(last), "Q": _px(qty)}
    frame |= {"o": _px(day.open), "h": _px(day.high), "l": _px(day.low), "v": _px(day.volume),
              "q": _px(day.quote_volume), "O": ts - 86_400_000, "C": ts, "F": day.first_trade,
              "L": last_id, "n": day.count}
    return frame


def book_ticker_frame(market: str, symbol: str, update_id: int, price: float, ts: int
                      ) -> dict[str, object]:
    """Best bid and ask a cent either side of the last price; spot's frame has no event
    type and no time."""
    frame: dict[str, object] = {"u": update_id, "s": symbol, "b": _px(price - 0.01),
                                "B": _px(1.0), "a": _px(price + 0.01), "A": _px(1.0)}
    if market == "binance":
        return frame
    return {"e": "bookTicker", **frame, "T": ts, "E": ts}


def mark_price_frame(symbol: str, mark: float, rate: float, ts: int) -> dict[str, object]:
    next_funding = (ts // EIGHT_HOURS_MS + 1) * EIGHT_HOURS_MS
    return {"e": "markPriceUpdate", "E": ts, "s": symbol, "p": _px(mark), "i": _px(mark),
            "P": _px(mark), "r": f"{rate:.8f}", "T": next_funding}


class BinanceSimulator(SimulatorServer):
    """Serves `/stream?streams=a/b`, `/ws/<stream>` and `/ws` with `SUBSCRIBE` /
    `UNSUBSCRIBE` requests, on the root or under category paths (`layout`)."""

    DEFAULT_QTY = 0.01

    def __init__(self, catalog: Catalog | None = None, source: str = "binance",
                 layout: Layout | None = None, geo_blocked: bool = False,
                 book_tickers: bool | None = None) -> None:
        """`layout`: default `category` for USD-M, `legacy` for spot and COIN-M.
        `book_tickers`: a bookTicker frame after each trade (default: futures only; spot's
        carry no time, and nothing downstream reads quotes, so replays leave them out)."""
        super().__init__(catalog)
        self.source = source
        self.listed: set[str] = set()  # symbols it lists beyond the catalog's
        self.list_any = False  # `exchangeInfo?symbol=X` lists any X: a stand-in's way
        if layout == "category" and source == "binance":
            raise ValueError("Binance spot has no category paths")
        self.layout: Layout = layout or ("category" if source == "binance-usdm" else "legacy")
        self.geo_blocked = geo_blocked
        self.book_tickers = source != "binance" if book_tickers is None else book_tickers
        self._trade_ids: dict[str, int] = {}  # symbol -> last trade id: consecutive per symbol
        self._days: dict[str, _Day] = {}
        self._last: dict[str, float] = {}
        self._recent: dict[str, deque[dict[str, object]]] = {}  # symbol -> REST trades
        self.history: dict[str, list[DailyBar]] = {}  # symbol -> the daily klines served
        self._skip_trades = 0

    def skip_trades(self, count: int) -> None:
        """Leave the next `count` trades off the stream (still served over REST): a
        sequence gap."""
        self._skip_trades += count

    def refuses(self, path: str) -> tuple[HTTPStatus, bytes] | None:
        if self.geo_blocked:
            return HTTPStatus.UNAVAILABLE_FOR_LEGAL_REASONS, GEO_BLOCKED
        category, rest = split_path(path)
        if not rest.startswith(("/ws", "/stream")) and category is None:
            return None  # REST
        if (category is not None and self.layout == "legacy") or category == "private":
            return HTTPStatus.NOT_FOUND, b'{"code":-1,"msg":"Not found."}'
        return None

    def serves(self, path: str, topic: str) -> bool:
        if self.layout == "legacy":
            return True
        category, _ = split_path(path)
        kind = stream_kind(topic)
        if category is None:
            return kind in ROOT_KINDS
        return ("public" if kind in PUBLIC_KINDS else "market") == category

    def path_topics(self, request_path: str) -> set[str]:
        _, rest = split_path(request_path)
        if rest.startswith("/ws/"):  # raw streams: /ws/<stream>
            return {s for s in rest.removeprefix("/ws/").split("/") if s}
        query = parse_qs(urlsplit(request_path).query)
        return {s for value in query.get("streams", []) for s in value.split("/") if s}

    def message_topics(self, message: str | bytes) -> tuple[set[str], set[str], list[str]]:
        try:
            request = orjson.loads(message)
            method, params, rid = request["method"], request.get("params", []), request["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            error = {"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}
            return set(), set(), [orjson.dumps(error).decode()]
        reply = [orjson.dumps({"result": None, "id": rid}).decode()]
        if method == "SUBSCRIBE":
            return set(params), set(), reply
        if method == "UNSUBSCRIBE":
            return set(), set(params), reply
        return set(), set(), reply

    def render(self, ws: ServerConnection, topic: str, frame: str) -> str:
        """Combined streams (`/stream?streams=`) wrap each payload; `/ws` sends it bare."""
        _, rest = split_path(ws.request.path if ws.request else "/")
        if rest.startswith("/stream"):
            return f'{{"stream":"{topic}","data":{frame}}}'
        return frame

    def http(self, path: str) -> tuple[HTTPStatus, bytes] | None:
        """`GET /api/v3/exchangeInfo` (spot) or `/fapi/v1/exchangeInfo` (USD-M) with the
        simulated symbols, for ccxt; the recent trades (`/api/v3/trades`, ...)."""
        parts = urlsplit(path)
        if parts.path == "/api/v3/klines" and self.source == "binance":
            return self._klines(parse_qs(parts.query))
        if parts.path == TRADES_PATH[self.source]:
            query = parse_qs(parts.query)
            symbol, limit = query.get("symbol", [""])[0], int(query.get("limit", ["500"])[0])
            if symbol not in {i.symbol for i in self.catalog.for_source(self.source)}:
                return HTTPStatus.BAD_REQUEST, b'{"code":-1121,"msg":"Invalid symbol."}'
            recent = list(self._recent.get(symbol, ()))[-min(limit, 1000):]
            return HTTPStatus.OK, orjson.dumps(recent)
        route = {"binance": "/api/v3/exchangeInfo", "binance-usdm": "/fapi/v1/exchangeInfo"}
        if parts.path != route.get(self.source):
            return None
        make = exchange_info_symbol if self.source == "binance" else exchange_info_perpetual
        listed = {i.symbol for i in self.catalog.for_source(self.source)} | self.listed
        asked = parse_qs(parts.query).get("symbol", [])
        if asked:  # one symbol, as Binance answers `?symbol=`: it, or -1121 if it lists none
            if not (self.list_any or asked[0] in listed):
                return HTTPStatus.BAD_REQUEST, b'{"code":-1121,"msg":"Invalid symbol."}'
            listed = {asked[0]}
        symbols = sorted(listed)
        body = {"timezone": "UTC", "serverTime": 0, "rateLimits": [], "exchangeFilters": [],
                "symbols": [make(s) for s in symbols]}
        return HTTPStatus.OK, orjson.dumps(body)

    def _klines(self, query: dict[str, list[str]]) -> tuple[HTTPStatus, bytes]:
        """Daily klines (`interval=1d`) of `history` from `startTime`, at most `limit`."""
        symbol = query.get("symbol", [""])[0]
        if query.get("interval", [""])[0] != "1d":
            return HTTPStatus.BAD_REQUEST, b'{"code":-1120,"msg":"Invalid interval."}'
        start = int(query.get("startTime", ["0"])[0])
        limit = min(int(query.get("limit", ["500"])[0]), 1000)
        rows = []
        for bar in self.history.get(symbol, []):
            opened = int(datetime.combine(bar.date, time.min, UTC).timestamp() * 1000)
            if opened < start:
                continue
            volume = bar.volume or 0.0
            rows.append([opened, _px(bar.open), _px(bar.high), _px(bar.low), _px(bar.close),
                         _px(volume), opened + 86_399_999, _px(volume * bar.close), 1000,
                         _px(volume / 2), _px(volume * bar.close / 2), "0"])
        return HTTPStatus.OK, orjson.dumps(rows[:limit])

    def ccxt_overrides(self) -> dict[str, object]:
        """The ccxt.pro `binance` (spot) or `binanceusdm` config that points the unmodified
        client at this server."""
        return ccxt_overrides(self.url, self.source)

    def topic_of(self, instrument_id: str) -> str:
        instrument = self.catalog[instrument_id]
        kind = "markPrice@1s" if instrument.asset == "funding" else "trade"
        return f"{instrument.symbol.lower()}@{kind}"

    async def wait_subscribed(self, ids: Iterable[str], timeout: float = 15.0) -> None:
        """Wait until clients that are served them hold the trade and ticker streams of each
        price id and the markPrice stream of each funding id."""
        wanted = set()
        for ident in ids:
            topic = self.topic_of(ident)
            wanted.add(topic)
            if topic.endswith("@trade"):
                wanted.add(topic.replace("@trade", "@ticker"))
        await self.wait_topics(wanted, timeout)

    def frames(self, event: TapeEvent) -> list[tuple[str, str]]:
        instrument = self.catalog[event.id]
        symbol, stream = instrument.symbol, instrument.symbol.lower()
        if instrument.asset == "funding":
            frame = mark_price_frame(symbol, self._last.get(symbol, 0.0), event.value, event.ts)
            return [(f"{stream}@markPrice@1s", orjson.dumps(frame).decode())]
        price, qty = event.value, event.volume or self.DEFAULT_QTY
        self._last[symbol] = price
        day = self._days.get(symbol)
        if day is None or event.prev_close is not None:
            reference = event.prev_close or price
            if day is None:
                day = self._days[symbol] = _Day(reference, max(reference, price),
                                                min(reference, price),
                                                first_trade=self._trade_ids.get(symbol, 1_000_000))
            day.open = reference
        trade_id = self._trade_ids[symbol] = self._trade_ids.get(symbol, 1_000_000) + 1
        day.high, day.low = max(day.high, price), min(day.low, price)
        day.volume += qty
        day.quote_volume += qty * price
        day.count += 1
        trade = trade_frame(self.source, symbol, trade_id, price, qty, event.ts)
        self._recent.setdefault(symbol, deque(maxlen=1000)).append({
            "id": trade_id, "price": _px(price), "qty": _px(qty),
            "quoteQty": _px(price * qty), "time": event.ts, "isBuyerMaker": trade["m"],
            "isBestMatch": True})
        ticker = ticker_frame(self.source, symbol, day, price, qty, event.ts, trade_id)
        frames = [(f"{stream}@ticker", orjson.dumps(ticker).decode())]
        if self._skip_trades:
            self._skip_trades -= 1
        else:
            frames.append((f"{stream}@trade", orjson.dumps(trade).decode()))
        if self.book_tickers:
            book = book_ticker_frame(self.source, symbol, trade_id, price, event.ts)
            frames.append((f"{stream}@bookTicker", orjson.dumps(book).decode()))
        return frames


def exchange_info_symbol(symbol: str, quote: str = "USDT") -> dict[str, object]:
    """One symbol of `/api/v3/exchangeInfo`, with the fields and filters ccxt reads."""
    return {
        "symbol": symbol, "status": "TRADING", "baseAsset": symbol.removesuffix(quote),
        "baseAssetPrecision": 8, "quoteAsset": quote, "quotePrecision": 8,
        "quoteAssetPrecision": 8, "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT",
                       "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
        "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01000000",
             "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000",
             "stepSize": "0.00001000"},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000",
             "applyMinToMarket": True, "maxNotional": "9000000.00000000",
             "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def exchange_info_perpetual(symbol: str, quote: str = "USDT") -> dict[str, object]:
    """One symbol of `/fapi/v1/exchangeInfo` (a USD-M perpetual), with what ccxt reads."""
    base = symbol.removesuffix(quote)
    return {
        "symbol": symbol, "pair": symbol, "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000", "baseAsset": base,
        "quoteAsset": quote, "marginAsset": quote, "pricePrecision": 2, "quantityPrecision": 3,
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
        "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
        "liquidationFee": "0.012500", "marketTakeBound": "0.05",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764",
             "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000",
             "stepSize": "0.001"},
        ],
        "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


def ccxt_overrides(url: str, source: str = "binance") -> dict[str, object]:
    """ccxt.pro config pointing `binance` (spot) or `binanceusdm` at a local server."""
    http = url.replace("ws", "http", 1)  # ws:// -> http://, wss:// -> https://
    if source == "binance-usdm":
        return {"urls": {"api": {"fapiPublic": f"{http}/fapi/v1", "fapiPublicV2": f"{http}/fapi/v2",
                                 "fapiPublicV3": f"{http}/fapi/v3",
                                 "ws": {"linear": f"{url}/ws"}}},
                "options": {"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False}}
    return {"urls": {"api": {"public": f"{http}/api/v3", "ws": {"spot": f"{url}/ws"}}},
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}}
