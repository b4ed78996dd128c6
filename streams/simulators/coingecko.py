"""A CoinGecko server: `/api/v3/global` with the total market capitalisation."""

from __future__ import annotations

import orjson
from aiohttp import web

from streams.simulators.http import HttpSimulator


class CoinGeckoSimulator(HttpSimulator):
    source = "coingecko"

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/v3/global", self._global)]

    def ids_of_path(self, request: web.Request) -> set[str]:
        return self.ids()

    async def _global(self, request: web.Request) -> web.Response:
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
