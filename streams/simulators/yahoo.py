"""A Yahoo Finance streamer: `{"subscribe": [...]}` in, base64 protobuf `PricingData` out."""

from __future__ import annotations

import base64
from http import HTTPStatus
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import Catalog
from streams.simulators.server import SimulatorServer
from streams.tape import TapeEvent
from streams.yahoo import pricing_data_class

MARKET_HOURS_REGULAR = 1
# Yahoo's QuoteType enum by catalog asset (indices, VIX and ^TNX are INDEX)
QUOTE_TYPES = {"fx": 14, "commodity": 18}  # CURRENCY, FUTURE
QUOTE_TYPE_INDEX = 9
FOUR_DIGITS = {"fx", "rate"}  # the price hint Yahoo sends for currencies and ^TNX


class YahooSimulator(SimulatorServer):
    source = "yahoo"

    def __init__(self, catalog: Catalog | None = None) -> None:
        super().__init__(catalog)
        self.history: dict[str, list[DailyBar]] = {}  # symbol -> bars the chart API serves
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

    def http(self, path: str) -> tuple[HTTPStatus, bytes] | None:
        """`GET /v8/finance/chart/<symbol>?period1=&period2=&interval=1d` over `history`."""
        parts = urlsplit(path)
        if not parts.path.startswith("/v8/finance/chart/"):
            return None
        symbol = unquote(parts.path.removeprefix("/v8/finance/chart/"))
        query = parse_qs(parts.query)
        start, end = (int(query.get(k, ["0"])[0]) for k in ("period1", "period2"))
        instrument = next((i for i in self.catalog.for_source(self.source)
                           if i.symbol == symbol), None)
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
                     "exchangeTimezoneName": zone.key, "dataGranularity": "1d"},
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
        prev = self._prev_close.get(event.id, 0.0)
        day_open, high, low = self._range.get(event.id, (event.value,) * 3)
        high, low = max(high, event.value), min(low, event.value)
        self._range[event.id] = (day_open, high, low)
        data = self._pricing(
            id=instrument.symbol, price=event.value, time=event.ts,
            currency=instrument.currency,
            quote_type=QUOTE_TYPES.get(instrument.asset, QUOTE_TYPE_INDEX),
            market_hours=MARKET_HOURS_REGULAR,
            change_percent=(event.value / prev - 1) * 100 if prev else 0.0,
            change=event.value - prev if prev else 0.0,
            day_volume=int(event.volume or 0), day_high=high, day_low=low,
            short_name=instrument.en, open_price=day_open, previous_close=prev,
            price_hint=4 if instrument.asset in FOUR_DIGITS else 2,
        )
        message = base64.b64encode(data.SerializeToString()).decode()
        return [(instrument.symbol, orjson.dumps({"type": "pricing", "message": message}).decode())]
