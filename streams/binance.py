"""Binance spot market streams (combined-stream websocket): the sans-I/O protocol."""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import Metric, Tick
from streams.feed import FrameError

SOURCE = "binance"


class BinanceProtocol:
    """Subscribes to `<symbol>@trade` and `<symbol>@ticker` and turns frames into ticks.

    A trade becomes a tick with its size as volume; a 24 h ticker becomes a tick with the
    24 h open as `prev_close` (crypto changes are 24 h changes) and the 24 h volume.
    """

    source = SOURCE
    resubscribe_s: float | None = None

    def __init__(self, base_url: str, ids: Iterable[str], catalog: Catalog | None = None):
        catalog = catalog or default_catalog()
        self.base_url = base_url.rstrip("/")
        self.symbols: dict[str, str] = {}  # BTCUSDT -> crypto:BTC
        for ident in ids:
            instrument = catalog[ident]
            if instrument.source != SOURCE:
                raise ValueError(f"{ident} is not a Binance instrument")
            self.symbols[instrument.symbol] = ident
        self._open_24h: dict[str, float] = {}

    def streams(self) -> list[str]:
        return [f"{s.lower()}@{kind}" for s in sorted(self.symbols) for kind in ("trade", "ticker")]

    def url(self) -> str:
        return f"{self.base_url}/stream?streams={'/'.join(self.streams())}"

    def subscribe_messages(self) -> list[str]:
        return []  # the combined-stream URL subscribes

    def parse(self, frame: str | bytes, recv_ns: int) -> list[Tick | Metric]:
        try:
            msg = orjson.loads(frame)
            data = msg["data"] if "stream" in msg else msg
            kind = data.get("e")
        except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError):
            raise FrameError("not a Binance stream frame") from None
        if kind is None:
            if "result" in data or "u" in data:  # subscription reply, bookTicker
                return []
            raise FrameError("frame has no event type 'e'")
        try:
            symbol = data["s"]
            ident = self.symbols.get(symbol)
            if ident is None:
                return []
            if kind == "trade" or kind == "aggTrade":
                return [Tick(
                    id=ident, ts=int(data["T"]), price=float(data["p"]), volume=float(data["q"]),
                    prev_close=self._open_24h.get(symbol), source=SOURCE, recv_ns=recv_ns,
                )]
            if kind == "24hrTicker":
                open_24h = float(data["o"])
                self._open_24h[symbol] = open_24h
                return [Tick(
                    id=ident, ts=int(data["E"]), price=float(data["c"]), prev_close=open_24h,
                    day_volume=float(data["v"]), source=SOURCE, recv_ns=recv_ns,
                )]
        except (KeyError, TypeError, ValueError) as exc:
            raise FrameError(f"bad {kind} frame ({type(exc).__name__}: {exc})") from None
        return []
