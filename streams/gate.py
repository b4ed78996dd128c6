"""The edge gate, sans-I/O: each market event is checked before it enters the bus.

An event is rejected when its id is malformed, a price (a tick's price or previous close, a
quote's bid or ask) is not a finite number above zero, a metric's value is not finite
(metrics may be zero or negative: funding, net flows), its time lies outside the window of
the stream's clock (`now - max_past` .. `now + max_future`), or it is older than the latest
time of its own stream by more than the late tolerance. A stream is a source's events of one
kind and id, ticks split into trades (with a size) and ticker snapshots (without): a source
may send those on separate connections (Binance USD-M: /public and /market), which drift
apart, and a connection's backfill after a reconnect must not be measured against the other.
Feed status and alerts are not checked. Rejections are counted per (source, reason); the
I/O layer logs them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import ID_PATTERN, AnyEvent, Metric, Quote, Tick

BAD_ID = "bad id"
NON_FINITE_PRICE = "non-finite price"
NON_POSITIVE_PRICE = "non-positive price"
NON_FINITE_VALUE = "non-finite value"
OUT_OF_WINDOW = "time out of window"
LATE = "late"

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_ID = re.compile(ID_PATTERN)


class EventGate:
    """Checks market events against a clock given with each one; counts what it rejects."""

    def __init__(self, max_past_ms: int = 7 * DAY_MS, max_future_ms: int = HOUR_MS,
                 late_tolerance_ms: int = 10 * 60_000, catalog: Catalog | None = None) -> None:
        self.max_past_ms = max_past_ms
        self.max_future_ms = max_future_ms
        self.late_tolerance_ms = late_tolerance_ms
        self.catalog = catalog or default_catalog()
        self.counts: Counter[tuple[str, str]] = Counter()  # (source, reason) -> rejected
        self.latest: dict[tuple[str, str, str], int] = {}  # stream -> its latest time
        self._ids: dict[str, bool] = {}  # id -> whether it is a canonical one of the catalog

    @property
    def rejected(self) -> int:
        return sum(self.counts.values())

    def check(self, event: AnyEvent, now_ms: int) -> str | None:
        """None if `event` may enter the bus, else why not (counted). On the path of every
        event: the usual case is a few comparisons and two dict lookups."""
        if not isinstance(event, Tick | Quote | Metric):
            return None
        key = _stream(event)
        reason = self._problem(event, now_ms, self.latest.get(key))
        if reason is None:
            if event.ts > self.latest.get(key, event.ts - 1):
                self.latest[key] = event.ts
        else:
            self.counts[event.source, reason] += 1
        return reason

    def _known(self, ident: str) -> bool:
        """A canonical id of the catalog (remembered either way)."""
        known = self._ids.get(ident)
        if known is None:
            known = self._ids[ident] = bool(_ID.match(ident)) and ident in self.catalog
        return known

    def _problem(self, event: Tick | Quote | Metric, now_ms: int, latest: int | None
                 ) -> str | None:
        if not self._known(event.id):
            return BAD_ID
        if isinstance(event, Metric):
            if not math.isfinite(event.value):
                return NON_FINITE_VALUE
        elif isinstance(event, Tick):
            price, prev = event.price, event.prev_close
            if not (0.0 < price < math.inf and (prev is None or 0.0 < prev < math.inf)):
                return _price_problem((price,) if prev is None else (price, prev))
        elif not (0.0 < event.bid < math.inf and 0.0 < event.ask < math.inf):
            return _price_problem((event.bid, event.ask))
        ts = event.ts
        if not now_ms - self.max_past_ms <= ts <= now_ms + self.max_future_ms:
            return OUT_OF_WINDOW
        if latest is not None and ts < latest - self.late_tolerance_ms:
            return LATE
        return None

    def describe(self, event: Tick | Quote | Metric, reason: str, now_ms: int) -> str:
        """One line naming the source, id, time, reason and the value at fault."""
        ident = repr(event.id) if reason == BAD_ID else event.id
        head = f"{event.source or 'unknown source'}: {ident} at {when(event.ts)} rejected"
        if reason == OUT_OF_WINDOW:
            detail = (f"(now {when(now_ms)}, accepted -{span(self.max_past_ms)} … "
                      f"+{span(self.max_future_ms)})")
        elif reason == LATE:
            latest = self.latest.get(_stream(event), event.ts)
            detail = (f"({span(latest - event.ts)} before the latest {_stream(event)[1]} of "
                      f"the id, tolerance {span(self.late_tolerance_ms)})")
        elif isinstance(event, Metric):
            detail = f"(value {event.value!r})"
        elif reason == BAD_ID:
            detail = "(not a canonical id of the catalog)"
        else:
            detail = "(" + ", ".join(f"{name} {value!r}" for name, value in
                                     _named_prices(event)) + ")"
        return f"{head}: {reason} {detail}"


def _stream(event: Tick | Quote | Metric) -> tuple[str, str, str]:
    """(source, what, id): `what` is the kind, a tick's split into trade and ticker."""
    what: str = event.kind
    if isinstance(event, Tick):
        what = "ticker tick" if event.volume is None else "trade"
    return event.source, what, event.id


def _price_problem(prices: tuple[float, ...]) -> str:
    """Why prices that failed `0 < p < inf` fail: not finite (NaN, inf), or not above 0."""
    return NON_FINITE_PRICE if not all(math.isfinite(p) for p in prices) else \
        NON_POSITIVE_PRICE


def _named_prices(event: Tick | Quote) -> list[tuple[str, float]]:
    if isinstance(event, Quote):
        return [("bid", event.bid), ("ask", event.ask)]
    named = [("price", event.price)]
    if event.prev_close is not None:
        named.append(("previous close", event.prev_close))
    return named


def when(ms: int) -> str:
    """Epoch ms as a UTC minute (`2026-04-08T02:36Z`); out of datetime's range, the number."""
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")
    except (OverflowError, ValueError, OSError):
        return f"{ms} ms"


def span(ms: int) -> str:
    """A duration in its largest whole unit (`7 d`, `1 h`, `10 min`, `30 s`)."""
    for unit, size in (("d", DAY_MS), ("h", HOUR_MS), ("min", 60_000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms / 1000:g} s"
