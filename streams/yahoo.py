"""Yahoo Finance streamer (websocket, JSON frames carrying base64 protobuf `PricingData`).

The protobuf schema is the one shipped inside the `yfinance` package; it is loaded from its
file so that importing it does not import yfinance itself (and pandas with it). yfinance's
own `listen()` loop is not used: it busy-loops on close and never reconnects.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from google.protobuf.message import DecodeError

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import MarketEvent, Tick
from streams.feed import FrameError

SOURCE = "yahoo"


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

    def __init__(
        self,
        url: str,
        ids: Iterable[str],
        resubscribe_s: float = 15,
        catalog: Catalog | None = None,
    ) -> None:
        catalog = catalog or default_catalog()
        self._url = url
        self.resubscribe_s: float | None = resubscribe_s
        self.symbols: dict[str, str] = {}
        for ident in ids:
            instrument = catalog[ident]
            if instrument.source != SOURCE:
                raise ValueError(f"{ident} is not a Yahoo instrument")
            self.symbols[instrument.symbol] = ident
        self._pricing = pricing_data_class()

    def url(self) -> str:
        return self._url

    def subscribe_messages(self) -> list[str]:
        return [orjson.dumps({"subscribe": sorted(self.symbols)}).decode()]

    def parse(self, frame: str | bytes, recv_ns: int) -> list[MarketEvent]:
        try:
            envelope = orjson.loads(frame)
            encoded = envelope["message"]
            raw = base64.b64decode(encoded, validate=True)
            data = self._pricing()
            data.ParseFromString(raw)
        except (orjson.JSONDecodeError, TypeError, KeyError, binascii.Error, DecodeError):
            raise FrameError("not a Yahoo pricing frame") from None
        ident = self.symbols.get(data.id)
        if ident is None:
            return []
        if not data.price or not data.time:
            raise FrameError(f"pricing for {data.id} has no price or time")
        digits = data.price_hint or 2  # prices travel as float32: round to the quote's digits
        return [Tick(
            id=ident,
            ts=int(data.time),
            price=round(data.price, digits),
            prev_close=round(data.previous_close, digits) if data.previous_close else None,
            day_volume=float(data.day_volume) if data.day_volume else None,
            source=SOURCE,
            recv_ns=recv_ns,
        )]
