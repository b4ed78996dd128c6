"""A DefiLlama server: `/tvl/<slug>`, `/summary/dexs/<slug>`, `/stablecoins` in real shapes,
and the daily series of `history` (`/protocol/<slug>`, `/stablecoincharts/all`, and the DEX
summary with its chart).

As the real service, a slug it does not know answers HTTP 400. It knows the catalog's slugs
of this source, those it has a value or a history for, and those a replay said it will
publish (`wait_subscribed`); `unknown_slugs` makes any of them unknown (a renamed protocol).
A known slug without a value yet answers 404 (not published yet).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time

import orjson
from aiohttp import web

from crosscurrent.catalog import Catalog
from streams.simulators.http import HttpSimulator, Reply


class DefiLlamaSimulator(HttpSimulator):
    source = "defillama"

    def __init__(self, catalog: Catalog | None = None) -> None:
        super().__init__(catalog)
        self.history: dict[str, list[tuple[date, float]]] = {}  # id -> daily values
        self.unknown_slugs: set[str] = set()  # answered 400 even if known (renamed)
        self.refused: Counter[str] = Counter()  # path -> requests answered 400
        self._slugs = {i.symbol for i in self.catalog.for_source(self.source)
                       if i.asset in ("tvl", "dex_volume")}

    def knows(self, slug: str) -> bool:
        """Whether a protocol slug exists here (else its paths answer 400)."""
        if slug in self.unknown_slugs:
            return False
        ids = (f"tvl:{slug}", f"dexvol:{slug}")
        return slug in self._slugs or any(i in self.values or i in self.history for i in ids)

    def _refuse(self, request: web.Request, text: str) -> web.Response | None:
        """The real service's 400 for an unknown slug; None for a known one."""
        if self.knows(request.match_info["slug"]):
            return None
        self.messages_received += 1
        self.refused[request.path] += 1
        return web.Response(status=400, text=text)

    async def wait_subscribed(self, ids: Iterable[str], timeout: float = 15.0) -> None:
        wanted = list(ids)  # the ids a replay will publish: their slugs exist
        self._slugs |= {self.catalog[i].symbol for i in wanted
                        if self.catalog[i].asset in ("tvl", "dex_volume")}
        await super().wait_subscribed(wanted, timeout)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/tvl/{slug}", self._tvl),
            web.get("/summary/dexs/{slug}", self._dex),
            web.get("/stablecoins", self._stablecoins),
            web.get("/protocol/{slug}", self._protocol),
            web.get("/stablecoincharts/all", self._stablecoin_chart),
        ]

    def _series(self, ident: str) -> list[tuple[int, float]]:
        return [(int(datetime.combine(day, time.min, UTC).timestamp()), value)
                for day, value in self.history.get(ident, [])]

    async def _protocol(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "Protocol is not in our database")
        if refused is not None:
            return refused
        slug = request.match_info["slug"]
        tvl = [{"date": stamp, "totalLiquidityUSD": value}
               for stamp, value in self._series(f"tvl:{slug}")]
        body = {"id": slug, "name": slug, "slug": slug, "tvl": tvl, "chainTvls": {},
                "currentChainTvls": {}}
        return web.json_response(body, status=200 if tvl else 400)

    async def _stablecoin_chart(self, request: web.Request) -> web.Response:
        wanted = request.query.get("stablecoin", "")
        ident = next((i.id for i in self.catalog.for_source(self.source)
                      if i.asset == "stablecoin" and i.symbol == wanted), "")
        points = [{"date": str(stamp), "totalCirculating": {"peggedUSD": value},
                   "totalCirculatingUSD": {"peggedUSD": value}}
                  for stamp, value in self._series(ident)]
        return web.json_response(points)

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
        refused = self._refuse(request, "Protocol is not in our database")
        if refused is not None:
            return refused
        ident = f"tvl:{request.match_info['slug']}"
        value = self.values.get(ident, (0.0, 0))[0]
        return await self.respond(request, self._one(ident, value))

    async def _dex(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "Protocol not found")
        if refused is not None:
            return refused
        slug = request.match_info["slug"]
        ident = f"dexvol:{slug}"
        if request.query.get("excludeTotalDataChart") == "false":  # the daily series
            chart = [[stamp, value] for stamp, value in self._series(ident)]
            return web.json_response({"name": slug, "slug": slug, "totalDataChart": chart,
                                      "total24h": chart[-1][1] if chart else 0})
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
