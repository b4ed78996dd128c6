"""Yahoo Finance streamer (websocket, JSON frames carrying base64 protobuf `PricingData`).

The protobuf schema is the one shipped inside the `yfinance` package; it is loaded from its
file so that importing it does not import yfinance itself (and pandas with it). yfinance's
own `listen()` loop is not used: it busy-loops on close and never reconnects.

Real frames leave fields out (shared/spec/live-sources.md): equities carry no previous_close,
open, day_high or day_low. The previous close is then `price - change`, else it comes from
daily history (`references`), else it is unknown (None).
"""

from __future__ import annotations

import base64
import importlib.util
import math
import struct
import time
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from google.protobuf.message import DecodeError

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import MarketEvent, Tick
from crosscurrent.references import CloseReference
from streams.feed import FrameError

SOURCE = "yahoo"
FLOAT32 = struct.Struct("<f")


@cache
def pricing_data_class() -> Any:
    """yfinance's generated `PricingData` message class."""
    spec = importlib.util.find_spec("yfinance")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the yfinance package (which ships the PricingData schema) is missing")
    path = Path(next(iter(spec.submodule_search_locations))) / "pricing_pb2.py"
    module_spec = importlib.util.spec_from_file_location("crosscurrent_pricing_pb2", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.PricingData


class YahooProtocol:
    """Subscribes with `{"subscribe": [...]}` (renewed every `resubscribe_s`) and decodes."""

    source = SOURCE
    silence_s: float | None = None  # thin symbols can pause: the feeds' stale_after_s

    def __init__(
        self,
        url: str,
        ids: Iterable[str],
        resubscribe_s: float = 15,
        catalog: Catalog | None = None,
        *,
        references: CloseReference | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        """`references`: previous closes from daily history, for frames that carry neither
        previous_close nor change. `clock` (epoch ms, default the wall clock) says which
        markets are open: Yahoo sends a symbol only while it trades."""
        catalog = catalog or default_catalog()
        self._url = url
        self.references = references
        self.clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.connection = ""
        self.seen: dict[str, int] = {}  # symbol -> when its latest frame came (recv ns)
        self._opened: dict[str, int] = {}  # symbol -> since when its market is open (ns)
        self.resubscribe_s: float | None = resubscribe_s
        self.symbols: dict[str, str] = {}
        for ident in ids:
            instrument = catalog[ident]
            if instrument.source != SOURCE:
                raise ValueError(f"{ident} is not a Yahoo instrument")
            self.symbols[instrument.symbol] = ident
        self._calendars = {symbol: catalog[ident].calendar
                           for symbol, ident in self.symbols.items()}
        self._pricing = pricing_data_class()

    def url(self) -> str:
        return self._url

    def subscribe_messages(self) -> list[str]:
        return [orjson.dumps({"subscribe": sorted(self.symbols)}).decode()]

    def streams(self) -> list[str]:
        return sorted(self.symbols)

    def silent(self, since_ns: int, now_ns: int, after_s: float) -> list[str]:
        """The symbols with no frame for `after_s` of their market's open hours."""
        market_now, out = self.clock(), []
        for symbol in self.streams():
            if not self._calendars[symbol].is_open(market_now):
                self._opened.pop(symbol, None)
                continue
            opened = self._opened.setdefault(symbol, now_ns)
            if now_ns - max(self.seen.get(symbol, 0), since_ns, opened) > after_s * 1e9:
                out.append(symbol)
        return out

    def silence_hint(self, streams: list[str]) -> str:
        return ("their markets are open, but Yahoo sends a symbol only while it trades: check "
                "the symbols (crosscurrent catalog), or a holiday the calendar does not know")

    def parse(self, frame: str | bytes, recv_ns: int) -> list[MarketEvent]:
        try:
            envelope = orjson.loads(frame)
            encoded = envelope["message"]
            raw = base64.b64decode(encoded, validate=True)
            data = self._pricing()
            data.ParseFromString(raw)
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError, DecodeError):
            # ValueError: binascii.Error (not base64), and a message that is not ASCII
            raise FrameError("not a Yahoo pricing frame") from None
        if not data.id:  # bytes that parse as a message of unknown fields only
            raise FrameError("pricing frame without a symbol")
        ident = self.symbols.get(data.id)
        if ident is None:
            return []
        self.seen[data.id] = recv_ns
        if not data.price or not data.time:
            raise FrameError(f"pricing for {data.id} has no price or time")
        hint = data.price_hint if 0 < data.price_hint <= 8 else 2
        price, digits = wire_decimal(data.price, hint)
        return [Tick(
            id=ident,
            ts=int(data.time),
            price=price,
            prev_close=self.previous_close(ident, data, price, digits),
            day_volume=float(data.day_volume) if data.day_volume else None,
            source=SOURCE,
            recv_ns=recv_ns,
        )]

    def previous_close(self, ident: str, data: Any, price: float, digits: int) -> float | None:
        """The frame's previous_close; else `price - change` (or from change_percent); else
        the reference's. A zero change is taken for an absent one (proto3 cannot tell)."""
        if data.previous_close:
            return wire_decimal(data.previous_close, digits)[0]
        prev = 0.0
        if data.change:
            prev = price - data.change
        elif data.change_percent and data.change_percent != -100:
            prev = price / (1 + data.change_percent / 100)
        if math.isfinite(prev) and prev > 0:
            return round(prev, digits)
        if self.references is not None:
            return self.references.previous_close(ident, int(data.time))
        return None


def wire_decimal(value: float, hint: int) -> tuple[float, int]:
    """A float32 from the wire as the decimal it was sent as: the value with the fewest
    decimals, at least `hint`, that is the same float32 (24.535 stays 24.535 under a hint of
    2, 5518.56005859375 becomes 5518.56); with those decimals."""
    try:
        wire = FLOAT32.unpack(FLOAT32.pack(value))[0]
        for digits in range(hint, 13):
            candidate = round(value, digits)
            if FLOAT32.unpack(FLOAT32.pack(candidate))[0] == wire:
                return candidate, digits
    except OverflowError:  # beyond float32: not from the wire
        pass
    return round(value, hint), hint
