"""What detectors share: the alert latch, price and metric trackers, number formatting.

All plain data, snapshotted as JSON-able lists and dicts.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar

from crosscurrent.baselines import Baseline
from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import Alert, AlertState, Metric, Severity, Tick
from crosscurrent.facts import Change, trailing_change

DAY_MS = 86_400_000
STALE_MS = 14 * DAY_MS  # a quote this much older than the newest is not today's (a gap)


def finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def level_for(size: float, warn: float, critical: float) -> Severity | None:
    """The severity of a magnitude against two thresholds (None below `warn`)."""
    if size >= critical:
        return Severity.CRITICAL
    if size >= warn:
        return Severity.WARNING
    return None


def sticky_level(size: float, warn: float, critical: float, current: str | None,
                 keep: float = 0.8) -> Severity | None:
    """`level_for` with hysteresis: a level is left only below `keep` x its threshold."""
    level = level_for(size, warn, critical)
    if current == Severity.CRITICAL and level != Severity.CRITICAL and size >= critical * keep:
        return Severity.CRITICAL
    if current is not None and level is None and size >= warn * keep:
        return Severity.WARNING
    return level


def graded_level(size: float, info: float, warn: float, critical: float, resolve: float,
                 current: str | None, keep: float = 0.8) -> Severity | None:
    """The severity of a magnitude with a finding level: info from `info`, warning and
    critical from theirs. A critical is left below `keep` x its threshold (for a warning);
    a warning or a finding only below `resolve`, so a level never flaps down and back."""
    if size >= critical or (current == Severity.CRITICAL and size >= critical * keep):
        return Severity.CRITICAL
    if size >= warn or (current in (Severity.WARNING, Severity.CRITICAL) and size >= resolve):
        return Severity.WARNING
    if size >= info or (current == Severity.INFO and size >= resolve):
        return Severity.INFO
    return None


def take_volatility(volatility: dict[str, float], baselines: Mapping[str, Baseline],
                    ids: Collection[str]) -> None:
    """Keep each id's usual daily move (percent) from its baseline; forget it while the id
    warms up."""
    for ident, found in baselines.items():
        if ident not in ids:
            continue
        if found.daily_volatility:
            volatility[ident] = found.daily_volatility
        else:
            volatility.pop(ident, None)


def spread(changes: Sequence[Mapping[str, float]], groups: Sequence[Sequence[int]]
           ) -> tuple[float, int] | None:
    """The standard deviation of a gap between two groups' average daily changes (ISO date ->
    percent, one mapping per id; `groups` index them, side a then side b) over the dates all
    of them have, with their count; None under two dates."""
    days = set(changes[0]).intersection(*changes[1:]) if changes else set()
    if len(days) < 2:
        return None
    side_a, side_b = groups
    gaps = [sum(changes[i][d] for i in side_a) / len(side_a)
            - sum(changes[i][d] for i in side_b) / len(side_b) for d in days]
    return statistics.stdev(gaps), len(gaps)


def yi(value: float) -> str:
    """A CNY amount in 亿 / 万亿."""
    if abs(value) >= 1e12:
        return f"{value / 1e12:.2f}万亿"
    return f"{value / 1e8:.1f}亿"


class Latch:
    """The active severity of each alert key; a transition is reported only when it changes,
    so an alert fires once and resolves once however often a condition is re-evaluated."""

    def __init__(self) -> None:
        self.active: dict[str, str] = {}

    def move(self, key: str, level: Severity | None) -> tuple[AlertState, Severity] | None:
        current = self.active.get(key)
        if level == current:
            return None
        if level is None:
            assert current is not None
            del self.active[key]
            return AlertState.RESOLVED, Severity(current)
        self.active[key] = level
        return AlertState.FIRING, level

    def alerts(self, detector: str, key: str, level: Severity | None, event: Tick | Metric,
               ids: tuple[str, ...], title: str, title_zh: str, values: dict[str, float],
               notes: dict[str, str] | None = None) -> list[Alert]:
        """Move `key` to `level`: the alert of the transition, if there is one."""
        transition = self.move(key, level)
        if transition is None:
            return []
        return [make_alert(detector, key, transition, event, ids, title, title_zh, values,
                           notes)]


_IGNORED, _SAME, _MOVED = 0, 1, 2


class Moves:
    """Latest price and previous close of each id (tick ids), in event time: a late tick does
    not move the state back; non-finite or non-positive prices are ignored. A quote more than
    `STALE_MS` older than the newest tick taken has no change (its id went silent: a gap in
    the data), and a tick after such a silence does not inherit the old previous close."""

    def __init__(self, shared: bool = False) -> None:
        """`shared`: one view for a set of detectors, which snapshots it for them."""
        self.quotes: dict[str, list[Any]] = {}  # id -> [price, prev_close or None, ts]
        self.shared = shared
        self.newest = 0  # the latest tick time taken
        self._held: Tick | None = None  # the tick `hold` took, and what it did
        self._result = _IGNORED

    IGNORED: ClassVar[int] = _IGNORED  # what `take` did with a tick
    SAME: ClassVar[int] = _SAME
    MOVED: ClassVar[int] = _MOVED

    def take(self, tick: Tick) -> int:
        """Take a tick: IGNORED (late or unusable), SAME (the price and previous close are
        as they were: only the time moved) or MOVED."""
        if tick is self._held:
            return self._result
        return self._take(tick)

    def hold(self, tick: Tick) -> None:
        """Take `tick` once for every detector sharing this view: their `take` of this very
        tick returns what it did, until the next one is held."""
        self._held, self._result = tick, self._take(tick)

    def _take(self, tick: Tick) -> int:
        price = tick.price
        if not 0.0 < price < math.inf:  # also False for NaN
            return _IGNORED
        prev = tick.prev_close
        if prev is not None and not 0.0 < prev < math.inf:
            prev = None
        quote = self.quotes.get(tick.id)
        ts = tick.ts
        if ts > self.newest:
            self.newest = ts
        if quote is None:
            self.quotes[tick.id] = [price, prev, ts]
            return _MOVED
        if ts < quote[2]:
            return _IGNORED
        if ts - quote[2] > STALE_MS:
            quote[1] = None  # the previous close of before the silence is not this one's
        quote[2] = ts
        if prev is None or prev == quote[1]:
            if price == quote[0]:
                return _SAME
            quote[0] = price
            return _MOVED
        quote[0], quote[1] = price, prev
        return _MOVED

    def update(self, tick: Tick) -> bool:
        """Take a tick; False when it is ignored (late or unusable)."""
        return self.take(tick) != _IGNORED

    def moved(self, tick: Tick) -> bool:
        """Take a tick; True only when it moved the price or previous close. A detector whose
        verdict depends on the quotes alone (and settles in one evaluation) would reach the
        same verdict again on a tick that moved nothing, so it can skip it."""
        if tick is self._held:  # `take`, inlined: three detectors ask this of every tick
            return self._result == _MOVED
        return self._take(tick) == _MOVED

    def state(self) -> dict[str, Any]:
        """The quotes, for a detector's snapshot; nothing when shared (the set keeps them)."""
        return {} if self.shared else {"quotes": self.quotes}

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore the quotes of a detector's snapshot. A shared view merges them (a snapshot
        taken before the view was shared holds each detector's own)."""
        quotes = {k: list(v) for k, v in state.get("quotes", {}).items()}
        if self.shared:
            self.merge(quotes)
        else:
            self.quotes = quotes
        self.newest = max((int(q[2]) for q in self.quotes.values()), default=0)
        self._held = None

    def merge(self, quotes: Mapping[str, list[Any]]) -> None:
        """Add `quotes`, keeping the newer where both have an id."""
        for ident, quote in quotes.items():
            mine = self.quotes.get(ident)
            if mine is None or quote[2] > mine[2]:
                self.quotes[ident] = list(quote)
                self.newest = max(self.newest, int(quote[2]))

    def price(self, ident: str) -> float | None:
        quote = self.quotes.get(ident)
        return None if quote is None else float(quote[0])

    def change(self, ident: str) -> float | None:
        """Percent change against the previous close, once both are known."""
        quote = self.quotes.get(ident)
        if quote is None or not quote[1] or quote[1] <= 0 or quote[2] < self.newest - STALE_MS:
            return None
        return float((quote[0] / quote[1] - 1.0) * 100.0)

    def mean_change(self, ids: tuple[str, ...]) -> float | None:
        """The average change of a group; None until every member has one."""
        if len(ids) == 1:
            return self.change(ids[0])
        changes = [self.change(i) for i in ids]
        if not changes or any(c is None for c in changes):
            return None
        return sum(c for c in changes if c is not None) / len(changes)


class Sessions:
    """When each id's market last opened, for telling today's quote from an older one: a
    market that has opened (today, or on its latest trading day) but not traded since still
    holds the change of a session before, which is not its latest move; so does one closed
    for a holiday its calendar does not know. Only exchange-traded markets (a calendar with
    an exchange) count: 24/7 and around-the-clock markets never go stale this way. Looked up
    once a minute per id (a pure function of the time)."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self._seen: dict[str, tuple[int, int]] = {}  # id -> (minute, latest open or -1)

    def opened(self, ident: str, at: int) -> int:
        """When the market of `ident` last opened by `at` (epoch ms; -1: no sessions)."""
        minute = at // 60_000
        seen = self._seen.get(ident)
        if seen is not None and seen[0] == minute:
            return seen[1]
        calendar = self.catalog[ident].calendar
        start = calendar.latest_start(at) if calendar.exchange is not None else -1
        self._seen[ident] = (minute, start)
        return start

    def change(self, moves: Moves, ident: str, at: int) -> float | None:
        """The id's change as of `at`: None when it has not traded since its market last
        opened."""
        quote = moves.quotes.get(ident)
        if quote is None or quote[2] < self.opened(ident, at):
            return None
        return moves.change(ident)

    def mean_change(self, moves: Moves, ids: tuple[str, ...], at: int) -> float | None:
        """The average change of a group as of `at`; None until every member has one."""
        total = 0.0
        for ident in ids:
            change = self.change(moves, ident, at)
            if change is None:
                return None
            total += change
        return total / len(ids)


class Series:
    """Each metric's values over a trailing window, in event time, with the value in force at
    its start: `trailing` gives their change, as `crosscurrent.facts` computes it for every
    reader. At most `cap` points are kept per id (the oldest go first)."""

    def __init__(self, window_ms: int = DAY_MS, cap: int = 512) -> None:
        self.window_ms = window_ms
        self.cap = cap
        self.points: dict[str, list[list[float]]] = {}  # id -> [[ts, value], ...] in ts order

    def update(self, metric: Metric) -> bool:
        if not finite(metric.value):
            return False
        points = self.points.setdefault(metric.id, [])
        if points and metric.ts < points[-1][0]:
            return False  # late: the window only moves forward
        if points and metric.ts == points[-1][0]:
            points[-1][1] = metric.value
        else:
            points.append([metric.ts, metric.value])
        horizon = metric.ts - self.window_ms  # keep the value in force at the horizon
        while len(points) > 1 and (points[1][0] <= horizon or len(points) > self.cap):
            points.pop(0)
        return True

    def trailing(self, ident: str, as_of: int | None = None) -> Change | None:
        """The change over the window to `as_of` (default: the id's latest value), as
        `facts.trailing_change` computes it."""
        return trailing_change(self.points.get(ident, ()), self.window_ms, as_of)

    def latest(self, ident: str) -> float | None:
        points = self.points.get(ident)
        return points[-1][1] if points else None

    def snapshot(self) -> dict[str, Any]:
        return {"points": self.points}

    def restore(self, state: dict[str, Any]) -> None:
        self.points = {k: [list(p) for p in v] for k, v in state.get("points", {}).items()}


def make_alert(
    detector: str,
    key: str,
    transition: tuple[AlertState, Severity],
    event: Tick | Metric,
    ids: tuple[str, ...],
    title: str,
    title_zh: str,
    values: dict[str, float],
    notes: dict[str, str] | None = None,
) -> Alert:
    """An alert transition; a resolution says so in both titles."""
    state, severity = transition
    if state == AlertState.RESOLVED:
        title, title_zh = f"resolved: {title}", f"已解除:{title_zh}"
    return Alert(ts=event.ts, detector=detector, key=key, state=state, severity=severity,
                 ids=ids, title=title, title_zh=title_zh, values=values, notes=notes or {},
                 trigger_recv_ns=event.recv_ns)
