"""DefiLlama: protocol TVL, DEX 24 h volumes and stablecoin supply (sans-I/O protocol).

    GET /tvl/<slug>                       -> a bare number: the protocol's TVL in USD
    GET /summary/dexs/<slug>?excludeTotalDataChart=true&excludeTotalDataChartBreakdown=true
                                          -> {"total24h": ..., ...}
    GET /stablecoins?includePrices=false  -> {"peggedAssets": [{"id": "1", "symbol": "USDT",
                                              "circulating": {"peggedUSD": ...}, ...}, ...]}
On the real service the stablecoin path lives on another host (stablecoins.llama.fi): the
poller of stablecoins gets its own base URL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import orjson

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import MarketEvent, Metric
from streams.feed import FrameError

SOURCE = "defillama"
DEX_QUERY = "?excludeTotalDataChart=true&excludeTotalDataChartBreakdown=true"
STABLECOINS_PATH = "/stablecoins?includePrices=false"


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FrameError(f"{what} is not a number: {value!r}")
    return float(value)


class DefiLlamaProtocol:
    """TVL and DEX volume ids (`part="protocols"`) or stablecoin ids (`part="stablecoins"`)."""

    source = SOURCE

    def __init__(self, ids: Iterable[str], part: str = "protocols",
                 catalog: Catalog | None = None) -> None:
        catalog = catalog or default_catalog()
        self.part = part
        self._paths: dict[str, str] = {}  # path -> id
        self._stables: dict[str, str] = {}  # DefiLlama stablecoin id -> canonical id
        for ident in ids:
            instrument = catalog[ident]
            if instrument.source != SOURCE:
                raise ValueError(f"{ident} is not a DefiLlama instrument")
            if instrument.asset == "stablecoin":
                self._stables[instrument.symbol] = ident
            elif instrument.asset == "tvl":
                self._paths[f"/tvl/{instrument.symbol}"] = ident
            elif instrument.asset == "dex_volume":
                self._paths[f"/summary/dexs/{instrument.symbol}{DEX_QUERY}"] = ident

    def paths(self) -> list[str]:
        if self.part == "stablecoins":
            return [STABLECOINS_PATH] if self._stables else []
        return sorted(self._paths)

    def parse(self, path: str, body: bytes, ts: int, recv_ns: int) -> list[MarketEvent]:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise FrameError("response is not JSON") from None
        if path == STABLECOINS_PATH:
            return self._stablecoins(data, ts, recv_ns)
        ident = self._paths.get(path)
        if ident is None:
            return []
        if path.startswith("/tvl/"):
            value = _finite(data, "TVL")
        else:
            if not isinstance(data, dict):
                raise FrameError("DEX summary is not an object")
            value = _finite(data.get("total24h"), "total24h")
        return [Metric(id=ident, ts=ts, value=value, source=SOURCE, recv_ns=recv_ns)]

    def _stablecoins(self, data: object, ts: int, recv_ns: int) -> list[MarketEvent]:
        if not isinstance(data, dict) or not isinstance(data.get("peggedAssets"), list):
            raise FrameError("no peggedAssets list")
        out: list[MarketEvent] = []
        for asset in data["peggedAssets"]:
            ident = self._stables.get(str(asset.get("id"))) if isinstance(asset, dict) else None
            if ident is None:
                continue
            circulating = asset.get("circulating")
            if not isinstance(circulating, dict):
                raise FrameError(f"stablecoin {asset.get('symbol')} has no circulating supply")
            value = _finite(circulating.get("peggedUSD"), "circulating.peggedUSD")
            out.append(Metric(id=ident, ts=ts, value=value, source=SOURCE, recv_ns=recv_ns))
        return out
