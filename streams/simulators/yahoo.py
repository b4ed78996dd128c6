"""A Yahoo Finance streamer: `{"subscribe": [...]}` in, base64 protobuf `PricingData` out.

Like the real one (shared/spec/live-sources.md), its frames carry price, time, change and
change_percent but no previous_close, open, day_high or day_low (`full_frames` adds them), and
its chart API answers HTTP 429 to clients that do not look like a browser.
"""

from __future__ import annotations

import base64
from http import HTTPStatus
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
from websockets.http11 import Request

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import Catalog
from streams.simulators.server import HttpReply, SimulatorServer
from streams.tape import TapeEvent
from streams.yahoo import pricing_data_class

MARKET_HOURS_REGULAR = 1
# Yahoo's QuoteType enum by catalog asset (indices, VIX and ^TNX are INDEX)
QUOTE_TYPES = {"equity": 8, "fx": 14, "commodity": 18}  # EQUITY, CURRENCY, FUTURE
QUOTE_TYPE_INDEX = 9
FOUR_DIGITS = {"fx", "rate"}  # the price hint Yahoo sends for currencies and ^TNX
CHART_PREFIX = "/v8/finance/chart/"
TOO_MANY_REQUESTS = b"Too Many Requests\r\n"  # what Yahoo's edge answers, as text


class YahooSimulator(SimulatorServer):
    source = "yahoo"

    def __init__(self, catalog: Catalog | None = None, full_frames: bool = False) -> None:
        super().__init__(catalog)
        self.full_frames = full_frames  # also previous_close, open, day_high, day_low
        self.rate_limit_plain_clients = True  # chart API: 429 unless the UA is a browser's
        self.rate_limit_everyone = False  # chart API: 429 to every request
        self.retry_after_s = 1  # the Retry-After of those 429s
        self.chart_requests = 0
        self.rate_limited = 0  # chart requests answered 429
        self.history: dict[str, list[DailyBar]] = {}  # symbol -> bars the chart API serves
        self.listed: dict[str, str] = {}  # symbols it lists beyond the catalog -> shortName
        self.list_any = False  # every symbol is listed (named by itself): a stand-in's way
        self._pricing = pricing_data_class()
        self._prev_close: dict[str, float] = {}
        self._range: dict[str, tuple[float, float, float]] = {}  # open, high, low

    def message_topics(self, message: str | bytes) -> tuple[set[str], set[str], list[str]]:
        try:
            request = orjson.loads(message)
        except orjson.JSONDecodeError:
            return set(), set(), []  # Yahoo ignores what it does not understand
        if not isinstance(request, dict):
            return set(), set(), []
        return set(request.get("subscribe", [])), set(request.get("unsubscribe", [])), []

    def http_request(self, request: Request) -> HttpReply | None:
        """The chart API, rate limited as `rate_limit_*` say; the rest as `http`."""
        if urlsplit(request.path).path.startswith(CHART_PREFIX):
            self.chart_requests += 1
            browser = request.headers.get("User-Agent", "").startswith("Mozilla/")
            if self.rate_limit_everyone or (self.rate_limit_plain_clients and not browser):
                self.rate_limited += 1
                return HttpReply(HTTPStatus.TOO_MANY_REQUESTS, TOO_MANY_REQUESTS, (
                    ("Content-Type", "text/html;charset=utf-8"),
                    ("Retry-After", str(self.retry_after_s))))
        return super().http_request(request)

    def http(self, path: str) -> tuple[HTTPStatus, bytes] | None:
        """`GET /v8/finance/chart/<symbol>?period1=&period2=&interval=1d` over `history`."""
        parts = urlsplit(path)
        if not parts.path.startswith(CHART_PREFIX):
            return None
        symbol = unquote(parts.path.removeprefix(CHART_PREFIX))
        query = parse_qs(parts.query)
        start, end = (int(query.get(k, ["0"])[0]) for k in ("period1", "period2"))
        instrument = next((i for i in self.catalog.for_source(self.source)
                           if i.symbol == symbol), None)
        if instrument is None and self.list_any:
            self.listed.setdefault(symbol, symbol)
        if instrument is None and symbol in self.listed:  # known to Yahoo, not to us yet
            return HTTPStatus.OK, orjson.dumps({"chart": {"result": [{
                "meta": {"currency": "USD", "symbol": symbol, "shortName": self.listed[symbol],
                         "exchangeTimezoneName": "America/New_York", "dataGranularity": "1d"},
                "timestamp": [], "indicators": {"quote": [{}]}}], "error": None}})
        if instrument is None:
            error = {"chart": {"result": None, "error": {
                "code": "Not Found", "description": "No data found, symbol may be delisted"}}}
            return HTTPStatus.NOT_FOUND, orjson.dumps(error)
        zone = instrument.calendar.zone
        opens = {bar.date: int(instrument.calendar.session_bounds(bar.date)[0].timestamp())
                 for bar in self.history.get(symbol, [])}
        bars = [b for b in self.history.get(symbol, []) if start <= opens[b.date] < end]
        quote = {k: [getattr(b, k) for b in bars] for k in ("open", "high", "low", "close")}
        quote["volume"] = [b.volume for b in bars]
        body = {"chart": {"result": [{
            "meta": {"currency": instrument.currency, "symbol": symbol,
                     "shortName": instrument.en, "exchangeTimezoneName": zone.key,
                     "dataGranularity": "1d"},
            "timestamp": [opens[b.date] for b in bars],
            "indicators": {"quote": [quote]},
        }], "error": None}}
        return HTTPStatus.OK, orjson.dumps(body)

    def topic_of(self, instrument_id: str) -> str:
        return self.catalog[instrument_id].symbol

    def frames(self, event: TapeEvent) -> list[tuple[str, str]]:
        instrument = self.catalog[event.id]
        if event.prev_close is not None:
            self._prev_close[event.id] = event.prev_close
        prev = self._prev_close.get(event.id)
        day_open, high, low = self._range.get(event.id, (event.value,) * 3)
        high, low = max(high, event.value), min(low, event.value)
        self._range[event.id] = (day_open, high, low)
        data = self._pricing(
            id=instrument.symbol, price=event.value, time=event.ts,
            currency=instrument.currency,
            quote_type=QUOTE_TYPES.get(instrument.asset, QUOTE_TYPE_INDEX),
            market_hours=MARKET_HOURS_REGULAR, day_volume=int(event.volume or 0),
            short_name=instrument.en, price_hint=4 if instrument.asset in FOUR_DIGITS else 2,
        )
        if prev:  # without a previous close, Yahoo's change fields are left out too
            data.change = event.value - prev
            data.change_percent = (event.value / prev - 1) * 100
        if self.full_frames:
            data.previous_close = prev or 0.0
            data.open_price, data.day_high, data.day_low = day_open, high, low
        message = base64.b64encode(data.SerializeToString()).decode()
        return [(instrument.symbol, orjson.dumps({"type": "pricing", "message": message}).decode())]
