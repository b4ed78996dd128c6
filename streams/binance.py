"""Binance market streams (spot, USD-M and COIN-M futures): the sans-I/O protocol.

One combined-stream connection per market. Per instrument it subscribes to `@trade`, the
full 24 h `@ticker` (not `@miniTicker`, which has no bid/ask) and `@bookTicker`; per funding
id to `@markPrice`. Frames become:
  trade        -> Tick (size as volume; the latest 24 h open as prev_close)
  24hrTicker   -> Tick (last price, 24 h open as prev_close, 24 h volume)
  bookTicker   -> Quote
  markPrice    -> Metric on the funding id (the rate of the next settlement)
  depthUpdate  -> ignored (order books are not modelled)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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

    def __init__(
        self,
        base_url: str,
        ids: Iterable[str],
        catalog: Catalog | None = None,
        source: str = "binance",
        quotes: bool = True,
    ) -> None:
        if source not in MARKETS:
            raise ValueError(f"unknown Binance market {source!r} (one of {', '.join(MARKETS)})")
        catalog = catalog or default_catalog()
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.quotes = quotes
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

    def streams(self) -> list[str]:
        kinds = ("trade", "ticker", "bookTicker") if self.quotes else ("trade", "ticker")
        names = [f"{s.lower()}@{kind}" for s in sorted(self.prices) for kind in kinds]
        names += [f"{s.lower()}@markPrice@1s" for s in sorted(self.funding)]
        return names

    def url(self) -> str:
        return f"{self.base_url}/stream?streams={'/'.join(self.streams())}"

    def subscribe_messages(self) -> list[str]:
        return []  # the combined-stream URL subscribes

    def parse(self, frame: str | bytes, recv_ns: int) -> list[MarketEvent]:
        try:
            msg = orjson.loads(frame)
            data = msg["data"] if "stream" in msg else msg
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
                    day_volume=None, prev_close=self._open_24h.get(symbol), source=self.source,
                    recv_ns=recv_ns,
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
        """After a reconnect: the recent trades of every symbol that had trades before."""
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
