"""The events that cross every boundary: ticks, metrics, feed status and alerts."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Literal, cast

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

ID_PATTERN = r"^[a-z]+:[A-Za-z0-9][A-Za-z0-9_.\-]*$"
CanonicalId = Annotated[str, Field(pattern=ID_PATTERN)]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Tick(_Event):
    """A traded price or index level."""

    kind: Literal["tick"] = "tick"
    id: CanonicalId
    ts: int = Field(description="event time, epoch milliseconds")
    price: float
    volume: float | None = Field(None, description="size traded since the previous tick")
    day_volume: float | None = Field(None, description="session volume so far (24 h for crypto)")
    prev_close: float | None = Field(
        None, description="previous session close (24 h ago for crypto)"
    )
    source: str = ""
    recv_ns: int = Field(0, description="local receive time, epoch nanoseconds")

    @property
    def change_pct(self) -> float | None:
        """Change against the previous close, in percent."""
        if not self.prev_close:
            return None
        return (self.price / self.prev_close - 1.0) * 100.0


class Quote(_Event):
    """Best bid and ask (Binance bookTicker): high volume, on its own stream."""

    kind: Literal["quote"] = "quote"
    id: CanonicalId
    ts: int
    bid: float
    bid_size: float
    ask: float
    ask_size: float
    source: str = ""
    recv_ns: int = 0


class Metric(_Event):
    """A value that is not a traded price: breadth, turnover, TVL, supply, funding, ..."""

    kind: Literal["metric"] = "metric"
    id: CanonicalId
    ts: int
    value: float
    source: str = ""
    recv_ns: int = 0


class FeedState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"  # connected, silent, and every market of the feed is closed: expected
    STALE = "stale"
    DISCONNECTED = "disconnected"
    SILENT = "silent"  # connected and data flows, but a subscribed stream sends nothing
    UNAVAILABLE = "unavailable"  # refused for good (HTTP 451): not retried


class FeedStatus(_Event):
    """A feed's health: emitted on every state change of a source connection."""

    kind: Literal["status"] = "status"
    source: str
    connection: str = Field("", description="which of a source's connections (`/market`)")
    ts: int
    state: FeedState
    detail: str = ""
    reconnects: int = 0
    messages: int = 0
    malformed: int = 0
    gap_ms: int = Field(0, description="after a reconnect: how long no data was received")


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(_Event):
    """A detector's finding changing state; `uid` is the idempotency key of this transition."""

    kind: Literal["alert"] = "alert"
    ts: int = Field(description="event time of the event that caused the transition, epoch ms")
    detector: str
    key: str = Field(description="dedup key: one alert identity across its transitions")
    state: AlertState
    severity: Severity
    ids: tuple[str, ...]
    title: str
    title_zh: str = Field("", description="the title in Chinese, with the same numbers")
    values: dict[str, float] = Field(default_factory=dict)
    notes: dict[str, str] = Field(
        default_factory=dict,
        description="explanation, implication, assessment, ...: each with a `<name>_zh` twin")
    trigger_recv_ns: int = Field(0, description="receive time of the triggering event")

    @property
    def uid(self) -> str:
        return f"{self.key}|{self.state}|{self.severity}|{self.ts}"


MarketEvent = Tick | Quote | Metric
AnyEvent = Tick | Quote | Metric | FeedStatus | Alert
Event = Annotated[AnyEvent, Field(discriminator="kind")]
EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(Event)


def encode(event: _Event) -> bytes:
    """Serialise an event to compact JSON bytes; fields that are None are left out (they
    decode back to None: a sixth less to parse for a tick without volumes)."""
    return event.__pydantic_serializer__.to_json(event, exclude_none=True)


# The adapter's validator itself: its Python wrapper costs ~0.3 us, and every event is decoded
# by every consumer.
_VALIDATE_JSON = EVENT_ADAPTER.validator.validate_json


def decode(data: bytes | str) -> AnyEvent:
    """Parse an event from JSON; raises pydantic.ValidationError on bad input."""
    return cast(AnyEvent, _VALIDATE_JSON(data))


def pack(encoded: Sequence[bytes]) -> bytes:
    """One bus entry holding several encoded events: a JSON array (one is left as it is)."""
    return encoded[0] if len(encoded) == 1 else b"[" + b",".join(encoded) + b"]"


_VALIDATE_MANY = TypeAdapter(list[Event]).validator.validate_json
_VALIDATE_ONE = EVENT_ADAPTER.validator.validate_python


def decode_entry(data: bytes) -> tuple[list[AnyEvent], list[str]]:
    """The events of one bus entry (one event, or several `pack`ed), and what is wrong with
    each one that does not parse: a bad event costs only itself, not its neighbours."""
    if data[:1] != b"[":
        try:
            return [_VALIDATE_JSON(data)], []
        except ValidationError as exc:
            return [], [_problem(exc)]
    try:
        return _VALIDATE_MANY(data), []
    except ValidationError:
        pass
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return [], [f"not JSON ({exc})"]
    events: list[AnyEvent] = []
    problems: list[str] = []
    for i, item in enumerate(items):
        try:
            events.append(_VALIDATE_ONE(item))
        except ValidationError as exc:
            problems.append(f"event {i + 1} of {len(items)}: {_problem(exc)}")
    return events, problems


def _problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]
