"""A CoinGecko server: `/api/v3/global` with the total market capitalisation.

With `demo_key` set it wants that key in `x-cg-demo-api-key` and answers 401 with CoinGecko's
error body otherwise; without, no key is needed (as the real free tier).
"""

from __future__ import annotations

import orjson
from aiohttp import web

from crosscurrent.catalog import Catalog
from streams.simulators.http import HttpSimulator

KEY_HEADER = "x-cg-demo-api-key"


def key_error(code: int, message: str) -> web.Response:
    """CoinGecko's answer to a missing or wrong key."""
    return web.json_response({"status": {"error_code": code, "error_message": message}},
                             status=401)


class CoinGeckoSimulator(HttpSimulator):
    source = "coingecko"

    def __init__(self, catalog: Catalog | None = None, demo_key: str | None = None) -> None:
        super().__init__(catalog)
        self.demo_key = demo_key
        self.key_refused = 0  # requests answered 401

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/v3/global", self._global)]

    def ids_of_path(self, request: web.Request) -> set[str]:
        return self.ids()

    def _refuse_key(self, request: web.Request) -> web.Response | None:
        if self.demo_key is None:
            return None
        sent = request.headers.get(KEY_HEADER)
        if sent == self.demo_key:
            return None
        self.messages_received += 1
        self.key_refused += 1
        if not sent:
            return key_error(10002, "API Key Missing")
        return key_error(10010, "Invalid API Key")

    async def _global(self, request: web.Request) -> web.Response:
        refused = self._refuse_key(request)
        if refused is not None:
            return refused
        current = self.values.get("crypto:TOTAL_MCAP")
        if current is None:
            return await self.respond(request, None)
        value, ts = current
        body = {"data": {
            "active_cryptocurrencies": 17000, "markets": 1200,
            "total_market_cap": {"usd": value}, "total_volume": {},
            "market_cap_percentage": {}, "market_cap_change_percentage_24h_usd": 0.0,
            "updated_at": ts // 1000,
        }}
        return await self.respond(request, (orjson.dumps(body), ts, {"crypto:TOTAL_MCAP"}))
