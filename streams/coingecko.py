"""CoinGecko `GET /api/v3/global`: total crypto market capitalisation (sans-I/O protocol).

Without a key the public host answers, rate-limited per IP; a demo key goes in the
`x-cg-demo-api-key` header, a pro key in `x-cg-pro-api-key` (on pro-api.coingecko.com).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import orjson

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import MarketEvent, Metric
from streams.feed import FrameError

SOURCE = "coingecko"
GLOBAL_PATH = "/api/v3/global"
KEY_HEADERS = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}
KEY_SETTING = "sources.coingecko.api_key"
KEY_ENV = "CROSSCURRENT_SOURCES_COINGECKO_API_KEY"


class CoinGeckoProtocol:
    source = SOURCE

    def __init__(self, ids: Iterable[str], catalog: Catalog | None = None,
                 api_key: str | None = None, api_plan: Literal["demo", "pro"] = "demo") -> None:
        catalog = catalog or default_catalog()
        self.ids = sorted(ids)
        self._api_key = api_key or None
        self.api_plan = api_plan
        for ident in self.ids:
            if catalog[ident].source != SOURCE:
                raise ValueError(f"{ident} is not a CoinGecko instrument")

    def __repr__(self) -> str:  # never the key
        key = "set" if self._api_key else "none"
        return f"CoinGeckoProtocol(ids={self.ids}, api_plan={self.api_plan!r}, key={key})"

    def headers(self) -> dict[str, str]:
        """The API key header of the plan, if a key is configured."""
        return {KEY_HEADERS[self.api_plan]: self._api_key} if self._api_key else {}

    def auth_help(self) -> str:
        """What to configure when the server refuses the key (names settings, not the key)."""
        if self._api_key is None:
            return f"no API key is configured: set {KEY_SETTING} (environment: {KEY_ENV})"
        return (f"check {KEY_SETTING} (environment: {KEY_ENV}) and "
                f"sources.coingecko.api_plan (now {self.api_plan!r})")

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
