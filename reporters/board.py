"""What the dashboard shows, as plain state: fed events, alerts and feed status, no I/O.

Per id: last value, change, a session sparkline (bounded samples); the transmission chain's
nodes; the active divergences; the newest alerts; each source's health with its message rate.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from crosscurrent.catalog import default_catalog
from crosscurrent.detector_config import ChainNode
from crosscurrent.events import Alert, AlertState, FeedStatus, Metric, Tick
from crosscurrent.facts import Change
from detectors.common import Series

SPARK_POINTS = 48
SPARK_BUCKET_MS = 10 * 60_000
ALERTS_KEPT = 50


@dataclass
class Line:
    """One id on the board."""

    last: float
    prev_close: float | None = None
    trend: Change | None = None  # a metric's change over the trailing 24 h, as the report's
    metric: bool = False
    ts: int = 0
    spark: deque[float] = field(default_factory=lambda: deque(maxlen=SPARK_POINTS))
    bucket: int = -1

    @property
    def change(self) -> float | None:
        """A price's since its previous close; a metric's over the trailing 24 h
        (`crosscurrent.facts.trailing_change`, as the alerts and the report compute it)."""
        if self.metric:
            return None if self.trend is None else self.trend.pct
        return None if not self.prev_close else (self.last / self.prev_close - 1) * 100


@dataclass
class Health:
    state: str
    detail: str = ""
    messages: int = 0
    reconnects: int = 0
    rate: float = 0.0  # messages/s between the last two reports
    ts: int = 0


class Board:
    def __init__(self, nodes: tuple[ChainNode, ...] = ()) -> None:
        self.nodes = nodes
        self.lines: dict[str, Line] = {}
        self.alerts: deque[Alert] = deque(maxlen=ALERTS_KEPT)
        self.active: dict[str, Alert] = {}
        self.health: dict[str, Health] = {}
        self.clock = 0  # the newest event time seen (the tape's on replay)
        self.metrics = Series()  # the metrics' trailing 24 h, for their changes
        self.events = 0

    def take(self, event: Tick | Metric | FeedStatus | Alert) -> None:
        if isinstance(event, Alert):
            self.alerts.appendleft(event)
            if event.state == AlertState.FIRING:
                self.active[event.key] = event
            else:
                self.active.pop(event.key, None)
            return
        if isinstance(event, FeedStatus):
            self._status(event)
            return
        self.events += 1
        self.clock = max(self.clock, event.ts)
        value = event.price if isinstance(event, Tick) else event.value
        if value != value or value in (float("inf"), float("-inf")):
            return
        line = self.lines.get(event.id)
        if line is None:
            line = self.lines[event.id] = Line(last=value, metric=isinstance(event, Metric),
                                               ts=event.ts)
        elif event.ts < line.ts:
            return
        line.last, line.ts = value, event.ts
        if isinstance(event, Tick) and event.prev_close:
            line.prev_close = event.prev_close
        elif isinstance(event, Metric) and self.metrics.update(event):
            line.trend = self.metrics.trailing(event.id)
        bucket = event.ts // SPARK_BUCKET_MS
        if bucket != line.bucket:
            line.bucket = bucket
            line.spark.append(value)
        else:
            line.spark[-1] = value

    def _status(self, status: FeedStatus) -> None:
        old = self.health.get(status.source)
        rate = 0.0
        if old is not None and status.ts > old.ts:
            rate = max(0.0, (status.messages - old.messages) / ((status.ts - old.ts) / 1000))
        self.health[status.source] = Health(str(status.state), status.detail, status.messages,
                                            status.reconnects, rate, status.ts)

    def node_moves(self) -> list[tuple[ChainNode, float | None]]:
        out = []
        for node in self.nodes:
            changes = [self.lines[i].change for i in node.ids if i in self.lines]
            known = [c for c in changes if c is not None]
            out.append((node, sum(known) / len(known) if len(known) == len(node.ids) else None))
        return out

    def broken_at(self) -> str | None:
        for key in self.active:
            if key.startswith("chain:broken:"):
                return key.removeprefix("chain:broken:")
        return None

    def divergences(self) -> list[Alert]:
        return sorted((a for k, a in self.active.items() if k.startswith("divergence:")),
                      key=lambda a: -abs(self.gap(a)))

    def gap(self, alert: Alert) -> float:
        """A divergence's gap now, from the board's own changes (as the report's table has
        it); the alert's, from when it fired, while a side has none."""
        if len(alert.ids) == 2:
            a, b = (self.lines[i].change if i in self.lines else None for i in alert.ids)
            if a is not None and b is not None:
                return a - b
        return alert.values.get("gap", 0.0)

    def ids_of(self, *regions: str) -> list[str]:
        catalog = default_catalog()
        return [i.id for i in catalog if i.region in regions and i.id in self.lines]
