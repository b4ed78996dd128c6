"""A DefiLlama server: `/tvl/<slug>`, `/summary/dexs/<slug>`, `/stablecoins` in real shapes."""

from __future__ import annotations

import orjson
from aiohttp import web

from streams.simulators.http import HttpSimulator, Reply


class DefiLlamaSimulator(HttpSimulator):
    source = "defillama"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/tvl/{slug}", self._tvl),
            web.get("/summary/dexs/{slug}", self._dex),
            web.get("/stablecoins", self._stablecoins),
        ]

    def ids_of_path(self, request: web.Request) -> set[str]:
        path = request.path
        if path.startswith("/tvl/"):
            return {f"tvl:{request.match_info['slug']}"}
        if path.startswith("/summary/dexs/"):
            return {f"dexvol:{request.match_info['slug']}"}
        return {i for i in self.ids() if i.startswith("stable:")}

    def _one(self, ident: str, body: object) -> Reply:
        if ident not in self.values:
            return None
        return orjson.dumps(body), self.values[ident][1], {ident}

    async def _tvl(self, request: web.Request) -> web.Response:
        ident = f"tvl:{request.match_info['slug']}"
        value = self.values.get(ident, (0.0, 0))[0]
        return await self.respond(request, self._one(ident, value))

    async def _dex(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        ident = f"dexvol:{slug}"
        value = self.values.get(ident, (0.0, 0))[0]
        body = {"name": self.catalog[ident].en.removesuffix(" 24h volume"), "slug": slug,
                "total24h": value, "totalDataChart": [], "totalDataChartBreakdown": []}
        return await self.respond(request, self._one(ident, body))

    async def _stablecoins(self, request: web.Request) -> web.Response:
        assets: list[dict[str, object]] = []
        latest, ids = 0, set[str]()
        for ident in sorted(self.values):
            instrument = self.catalog[ident]
            if instrument.asset != "stablecoin":
                continue
            value, ts = self.values[ident]
            latest, ids = max(latest, ts), ids | {ident}
            symbol = instrument.short
            assets.append({
                "id": instrument.symbol, "name": instrument.en.removesuffix(" supply"),
                "symbol": symbol, "gecko_id": symbol.lower(), "pegType": "peggedUSD",
                "pegMechanism": "fiat-backed", "circulating": {"peggedUSD": value},
                "chains": [],
            })
        reply = (orjson.dumps({"peggedAssets": assets}), latest, ids) if assets else None
        return await self.respond(request, reply)
