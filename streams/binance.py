"""Binance market streams (spot, USD-M and COIN-M futures): the sans-I/O protocol.

Per instrument it subscribes to `@trade`, the full 24 h `@ticker` (not `@miniTicker`, which
has no bid/ask) and `@bookTicker`; per funding id to `@markPrice@1s`. Spot takes them all on
one combined-stream connection at the host's root. Binance's futures hosts serve market data
under category paths since 2026-04-23 (the `category` layout, USD-M's default): `/public`
(trade, bookTicker) and `/market` (ticker, markPrice), so that takes two connections,
`connections()` gives one protocol each, sharing what they know. Frames become:
  trade        -> Tick (size as volume; the latest 24 h open as prev_close, on one connection:
                  split, a trade's reference would depend on which connection was quicker,
                  so there only the ticker carries it)
  24hrTicker   -> Tick (last price, 24 h open as prev_close, 24 h volume)
  bookTicker   -> Quote
  markPrice    -> Metric on the funding id (the rate of the next settlement)
  depthUpdate  -> ignored (order books are not modelled)
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import orjson

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import MarketEvent, Metric, Quote, Tick
from streams.feed import FrameError

MARKETS = ("binance", "binance-usdm", "binance-coinm")
#: Recent-trades REST path per market (public, newest `limit` trades): the gap backfill.
TRADES_PATH = {"binance": "/api/v3/trades", "binance-usdm": "/fapi/v1/trades",
               "binance-coinm": "/dapi/v1/trades"}
BACKFILL_LIMIT = 1000
_IGNORED = frozenset({"depthUpdate", "kline", "24hrMiniTicker"})
Layout = Literal["legacy", "category"]
#: The category path of each stream kind we take (ccxt's routing, shared/spec/live-sources.md)
CATEGORY = {"trade": "public", "bookTicker": "public", "ticker": "market",
            "markPrice@1s": "market"}
#: Streams that a live market sends continuously: silent for long means not served.
CONTINUOUS = frozenset({"ticker", "markPrice@1s", "bookTicker"})
MOVED = "2026-04-23"  # when Binance USD-M moved market data to category paths
SILENCE_S = 15.0  # a continuous stream quiet this long is not served (they tick every 1 s)


@dataclass(frozen=True)
class TradeGap:
    """Trade ids the stream skipped: those strictly between `after` and `before`."""

    symbol: str
    after: int
    before: int

    @property
    def size(self) -> int:
        return self.before - self.after - 1


class BinanceProtocol:
    resubscribe_s: float | None = None
    silence_s: float | None = SILENCE_S

    def __init__(
        self,
        base_url: str,
        ids: Iterable[str],
        catalog: Catalog | None = None,
        source: str = "binance",
        quotes: bool = True,
        category: str | None = None,
    ) -> None:
        """`base_url`: the host's root; `category`: the path this connection takes its
        streams from (`public`, `market`), None for every stream on the root."""
        if source not in MARKETS:
            raise ValueError(f"unknown Binance market {source!r} (one of {', '.join(MARKETS)})")
        catalog = catalog or default_catalog()
        self.source = source
        self.base_url = base_url.rstrip("/").removesuffix("/ws").removesuffix("/stream")
        self.quotes = quotes
        self.category = category
        self.seen: dict[str, int] = {}  # stream -> when its latest frame came (recv ns)
        self.prices: dict[str, str] = {}  # BTCUSDT -> crypto:BTC
        self.funding: dict[str, str] = {}  # BTCUSDT -> funding:BTC
        for ident in ids:
            instrument = catalog[ident]
            if instrument.source != source:
                raise ValueError(f"{ident} is not a {source} instrument ({instrument.source})")
            target = self.funding if instrument.asset == "funding" else self.prices
            target[instrument.symbol] = ident
        self._open_24h: dict[str, float] = {}
        self.last_trade_id: dict[str, int] = {}  # symbol -> newest trade id seen
        self.duplicates = 0
        self.gaps: list[TradeGap] = []  # skipped trade ids not yet recovered

    def connections(self, layout: Layout = "legacy") -> list[BinanceProtocol]:
        """One protocol per connection the layout needs (those with streams), sharing this
        one's state (trade ids, what a REST backfill recovers)."""
        if layout == "legacy":
            return [self]
        parts = []
        for category in ("public", "market"):
            part = copy.copy(self)
            part.category = category
            if part.streams():
                parts.append(part)
        return parts

    @property
    def connection(self) -> str:
        """The path this connection reads (`/market`), or "" on the root."""
        return f"/{self.category}" if self.category else ""

    def _kinds(self) -> list[str]:
        kinds = ["trade", "ticker", "bookTicker"] if self.quotes else ["trade", "ticker"]
        return [k for k in kinds if self.category in (None, CATEGORY[k])]

    def streams(self) -> list[str]:
        kinds = self._kinds()
        names = [f"{s.lower()}@{kind}" for s in sorted(self.prices) for kind in kinds]
        if self.category in (None, CATEGORY["markPrice@1s"]):
            names += [f"{s.lower()}@markPrice@1s" for s in sorted(self.funding)]
        return names

    def url(self) -> str:
        return f"{self.base_url}{self.connection}/stream?streams={'/'.join(self.streams())}"

    def silent(self, since_ns: int, now_ns: int, after_s: float) -> list[str]:
        """The continuous streams with no frame for `after_s` (counted from `since_ns`, when
        the connection opened, for those that never sent one)."""
        limit = after_s * 1e9
        return [name for name in self.streams() if name.split("@", 1)[1] in CONTINUOUS
                and now_ns - max(self.seen.get(name, 0), since_ns) > limit]

    def silence_hint(self, streams: list[str]) -> str:
        """Why those streams may be silent, and what to set."""
        section = f"sources.{self.source.replace('-', '_')}.layout"
        if self.source != "binance" and self.category is None:
            return (f"on the legacy root, where Binance futures send trades but no ticker, "
                    f"markPrice or bookTicker (USD-M since {MOVED}): set {section}: category")
        if self.category is not None:
            return (f"if this host still serves them on its root, set {section}: legacy")
        return "the symbol may not trade, or the host does not serve this stream"

    def subscribe_messages(self) -> list[str]:
        return []  # the combined-stream URL subscribes

    def parse(self, frame: str | bytes, recv_ns: int) -> list[MarketEvent]:
        try:
            msg = orjson.loads(frame)
            if "stream" in msg:
                self.seen[msg["stream"]] = recv_ns
                data = msg["data"]
            else:
                data = msg
            kind = data.get("e")
        except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError):
            raise FrameError("not a Binance stream frame") from None
        if kind is not None and not isinstance(kind, str):
            raise FrameError(f"event type {kind!r} is not a string")
        try:
            if kind == "trade" or kind == "aggTrade":
                symbol = data["s"]
                ident = self.prices.get(symbol)
                if ident is None:
                    return []
                if kind == "trade" and not self._new_trade(symbol, int(data["t"])):
                    return []
                return [Tick(
                    id=ident, ts=int(data["T"]), price=float(data["p"]), volume=float(data["q"]),
                    day_volume=None, source=self.source, recv_ns=recv_ns,
                    prev_close=None if self.category else self._open_24h.get(symbol),
                )]
            if kind == "bookTicker" or (kind is None and "b" in data and "u" in data):
                ident = self.prices.get(data["s"])
                if ident is None:
                    return []
                return [Quote(
                    id=ident, ts=int(data.get("T") or data.get("E") or recv_ns // 1_000_000),
                    bid=float(data["b"]), bid_size=float(data["B"]), ask=float(data["a"]),
                    ask_size=float(data["A"]), source=self.source, recv_ns=recv_ns,
                )]
            if kind == "24hrTicker":
                symbol = data["s"]
                ident = self.prices.get(symbol)
                if ident is None:
                    return []
                open_24h = self._open_24h[symbol] = float(data["o"])
                return [Tick(
                    id=ident, ts=int(data["E"]), price=float(data["c"]), volume=None,
                    day_volume=float(data["v"]), prev_close=open_24h, source=self.source,
                    recv_ns=recv_ns,
                )]
            if kind == "markPriceUpdate":
                ident = self.funding.get(data["s"])
                if ident is None or data.get("r") in (None, ""):
                    return []  # spot-like index symbols carry no funding rate
                return [Metric(
                    id=ident, ts=int(data["E"]), value=float(data["r"]), source=self.source,
                    recv_ns=recv_ns,
                )]
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise FrameError(f"bad {kind} frame ({type(exc).__name__}: {exc})") from None
        if kind in _IGNORED or (kind is None and "result" in data):
            return []  # order books, klines, subscription replies
        raise FrameError(f"unknown event type {kind!r}")

    def _new_trade(self, symbol: str, trade_id: int) -> bool:
        """False for a trade already seen (delivered by the backfill, then by the stream)."""
        last = self.last_trade_id.get(symbol)
        if last is not None and trade_id <= last:
            self.duplicates += 1
            return False
        if last is not None and trade_id > last + 1:  # trade ids are consecutive per symbol
            self.gaps.append(TradeGap(symbol, last, trade_id))
        self.last_trade_id[symbol] = trade_id
        return True

    # -- gap backfill over REST -------------------------------------------------------------
    def backfill_paths(self) -> list[str]:
        """After a reconnect: the recent trades of every symbol that had trades before (on
        the connection that carries trades)."""
        if self.category not in (None, CATEGORY["trade"]):
            return []
        return [f"{TRADES_PATH[self.source]}?symbol={s}&limit={BACKFILL_LIMIT}"
                for s in sorted(self.last_trade_id)]

    def gap_path(self, gap: TradeGap) -> str:
        return f"{TRADES_PATH[self.source]}?symbol={gap.symbol}&limit={BACKFILL_LIMIT}"

    def parse_gap(self, gap: TradeGap, body: bytes, recv_ns: int
                  ) -> tuple[list[MarketEvent], int]:
        """The skipped trades found in a recent-trades reply, and how many are not there."""
        ident = self.prices[gap.symbol]
        try:
            found = sorted((row for row in orjson.loads(body)
                            if gap.after < int(row["id"]) < gap.before), key=lambda r: int(r["id"]))
            events: list[MarketEvent] = [Tick(
                id=ident, ts=int(row["time"]), price=float(row["price"]),
                volume=float(row["qty"]), prev_close=self._open_24h.get(gap.symbol),
                source=self.source, recv_ns=recv_ns) for row in found]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise FrameError(f"bad recent-trades reply ({type(exc).__name__})") from None
        return events, gap.size - len(events)

    def parse_backfill(self, path: str, body: bytes, recv_ns: int
                       ) -> tuple[list[MarketEvent], int]:
        """The trades newer than the last one seen, and how many are still missing (older
        than what the endpoint returns)."""
        symbol = path.partition("symbol=")[2].partition("&")[0]
        ident, last = self.prices.get(symbol), self.last_trade_id.get(symbol)
        if ident is None or last is None:
            return [], 0
        try:
            rows = sorted(orjson.loads(body), key=lambda row: int(row["id"]))
            fresh = [row for row in rows if int(row["id"]) > last]
            events: list[MarketEvent] = [Tick(
                id=ident, ts=int(row["time"]), price=float(row["price"]),
                volume=float(row["qty"]), prev_close=self._open_24h.get(symbol),
                source=self.source, recv_ns=recv_ns) for row in fresh]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise FrameError(f"bad recent-trades reply ({type(exc).__name__})") from None
        missing = int(fresh[0]["id"]) - last - 1 if fresh else 0
        if fresh:
            self.last_trade_id[symbol] = int(fresh[-1]["id"])
        return events, max(0, missing)
