"""A Coinbase Advanced Trade server: the public `ticker` and `market_trades` websocket
channels and `GET /api/v3/brokerage/market/products`, in the documented shapes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import urlsplit

import orjson

from crosscurrent.catalog import Catalog
from streams.simulators.server import SimulatorServer
from streams.tape import TapeEvent


def _time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).isoformat(timespec="microseconds") \
        .replace("+00:00", "Z")


def product(product_id: str) -> dict[str, object]:
    """One product of `/api/v3/brokerage/market/products`, with the fields ccxt reads."""
    base, quote = product_id.split("-")
    return {
        "product_id": product_id, "price": "0", "price_percentage_change_24h": "0",
        "volume_24h": "0", "volume_percentage_change_24h": "0", "base_increment": "0.00000001",
        "quote_increment": "0.01", "quote_min_size": "1", "quote_max_size": "150000000",
        "base_min_size": "0.00000001", "base_max_size": "3400", "base_name": base,
        "quote_name": quote, "watched": False, "is_disabled": False, "new": False,
        "status": "online", "cancel_only": False, "limit_only": False, "post_only": False,
        "trading_disabled": False, "auction_mode": False, "product_type": "SPOT",
        "quote_currency_id": quote, "base_currency_id": base,
        "fcm_trading_session_details": None, "mid_market_price": "", "alias": "",
        "alias_to": [], "base_display_symbol": base, "quote_display_symbol": quote,
        "view_only": False, "price_increment": "0.01", "display_name": product_id,
        "product_venue": "CBE",
    }


class CoinbaseSimulator(SimulatorServer):
    """`symbols` maps canonical ids to Coinbase product ids (`crypto:BTC` -> `BTC-USD`)."""

    source = "coinbase"

    def __init__(self, symbols: dict[str, str], catalog: Catalog | None = None) -> None:
        super().__init__(catalog)
        self.symbols = symbols
        self._sequence = itertools.count()
        self._trade_ids = itertools.count(600_000_000)
        self._open: dict[str, float] = {}

    def ids(self) -> set[str]:
        return set(self.symbols)

    def message_topics(self, message: str | bytes) -> tuple[set[str], set[str], list[str]]:
        try:
            request = orjson.loads(message)
            kind, channel, products = request["type"], request["channel"], request["product_ids"]
            topics = {f"{channel}:{p}" for p in products}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            error = {"type": "error", "message": "Failure to parse the subscription message"}
            return set(), set(), [orjson.dumps(error).decode()]
        reply = [orjson.dumps({
            "channel": "subscriptions", "client_id": "", "timestamp": _time(0),
            "sequence_num": next(self._sequence),
            "events": [{"subscriptions": {channel: products}}],
        }).decode()]
        if kind == "subscribe":
            return topics, set(), reply
        if kind == "unsubscribe":
            return set(), topics, reply
        return set(), set(), reply

    def http(self, path: str) -> tuple[HTTPStatus, bytes] | None:
        if urlsplit(path).path != "/api/v3/brokerage/market/products":
            return None
        products = [product(p) for p in self.symbols.values()]
        return HTTPStatus.OK, orjson.dumps({"products": products,
                                            "num_products": len(products)})

    def topic_of(self, instrument_id: str) -> str:
        return f"market_trades:{self.symbols[instrument_id]}"

    def frames(self, event: TapeEvent) -> list[tuple[str, str]]:
        product_id, when = self.symbols[event.id], _time(event.ts)
        if event.prev_close is not None:
            self._open[product_id] = event.prev_close
        opened = self._open.get(product_id)
        change = (event.value / opened - 1) * 100 if opened else 0.0
        price = f"{event.value:.2f}"
        ticker = {"type": "ticker", "product_id": product_id, "price": price,
                  "volume_24_h": "0", "low_24_h": price, "high_24_h": price, "low_52_w": price,
                  "high_52_w": price, "price_percent_chg_24_h": f"{change:.8f}",
                  "best_bid": price, "best_bid_quantity": "1", "best_ask": price,
                  "best_ask_quantity": "1"}
        trade = {"trade_id": str(next(self._trade_ids)), "product_id": product_id,
                 "price": price, "size": f"{event.volume or 0.01:g}", "side": "BUY",
                 "time": when}
        return [self._push("ticker", product_id, when, {"type": "update", "tickers": [ticker]}),
                self._push("market_trades", product_id, when,
                           {"type": "update", "trades": [trade]})]

    def _push(self, channel: str, product_id: str, when: str, event: dict[str, object]
              ) -> tuple[str, str]:
        frame = {"channel": channel, "client_id": "", "timestamp": when,
                 "sequence_num": next(self._sequence), "events": [event]}
        return f"{channel}:{product_id}", orjson.dumps(frame).decode()

    def ccxt_overrides(self) -> dict[str, object]:
        """The ccxt.pro `coinbase` config that points the unmodified client at this server
        (currencies, an endpoint the feed does not use, are not fetched)."""
        return {"urls": {"api": {"rest": self.url.replace("ws://", "http://"),
                                 "ws": self.url}},
                "has": {"fetchCurrencies": False}}
