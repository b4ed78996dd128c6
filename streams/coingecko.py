"""CoinGecko `GET /api/v3/global`: total crypto market capitalisation (sans-I/O protocol)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import orjson

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import MarketEvent, Metric
from streams.feed import FrameError

SOURCE = "coingecko"
GLOBAL_PATH = "/api/v3/global"


class CoinGeckoProtocol:
    source = SOURCE

    def __init__(self, ids: Iterable[str], catalog: Catalog | None = None) -> None:
        catalog = catalog or default_catalog()
        self.ids = sorted(ids)
        for ident in self.ids:
            if catalog[ident].source != SOURCE:
                raise ValueError(f"{ident} is not a CoinGecko instrument")

    def paths(self) -> list[str]:
        return [GLOBAL_PATH] if self.ids else []

    def parse(self, path: str, body: bytes, ts: int, recv_ns: int) -> list[MarketEvent]:
        try:
            value = orjson.loads(body)["data"]["total_market_cap"]["usd"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise FrameError("no data.total_market_cap.usd in the response") from None
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise FrameError(f"total_market_cap.usd is not a number: {value!r}")
        return [Metric(id=i, ts=ts, value=float(value), source=SOURCE, recv_ns=recv_ns)
                for i in self.ids]
