"""The detectors split in two stages for a partitioned engine (Faust on Kafka).

Per instrument: the detectors whose state for an id depends on that id's events alone
(`per_instrument = True`), one `Instrument` per id, so its state lives under the id's key in
a partitioned table. Across markets: the rest, fed by a low-volume stream of `Change`s (an
event that can move a cross-market detector, with the alerts it raised upstream) in one
`Market`, which takes them in event-time order across partitions. Plain code, no I/O:
events in, alerts and changes out, state as bytes.

A tick that leaves the price and previous close as they were, or comes late, cannot move the
cross-market detectors' trackers (`Moves`): it is not forwarded unless it raised an alert.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from crosscurrent.events import Alert, Metric, Tick, decode, encode
from detectors.agent import Baselines, DetectorSet
from detectors.base import Detector
from streams.history import HistoryStore


def is_per_instrument(detector: Detector) -> bool:
    return bool(getattr(detector, "per_instrument", False))


def split(detectors: Sequence[Detector]) -> tuple[list[Detector], list[Detector]]:
    """(per-instrument, cross-market) detectors, in their order."""
    return ([d for d in detectors if is_per_instrument(d)],
            [d for d in detectors if not is_per_instrument(d)])


@dataclass(frozen=True)
class Change:
    """What the per-instrument stage forwards: the event, the alerts it raised there, and
    where it came from (`partition`, `offset`), so a replayed one is recognised. Without an
    event it only reports the partition's progress: its events up to (`ts`, `recv_ns`) were
    taken. Events of one time are ordered by `recv_ns`, the order the feeds received them."""

    event: Tick | Metric | None
    alerts: tuple[Alert, ...]
    partition: int
    offset: int
    ts: int
    recv_ns: int = 0

    @classmethod
    def of(cls, event: Tick | Metric, alerts: Sequence[Alert], partition: int, offset: int
           ) -> Change:
        return cls(event, tuple(alerts), partition, offset, event.ts, event.recv_ns)

    @property
    def time(self) -> tuple[int, int]:
        """Where it stands in the market stage's order."""
        return self.ts, self.recv_ns

    def to_bytes(self) -> bytes:
        return orjson.dumps({
            "e": None if self.event is None else orjson.Fragment(encode(self.event)),
            "a": [orjson.Fragment(encode(a)) for a in self.alerts],
            "p": self.partition, "o": self.offset, "t": self.ts, "r": self.recv_ns})

    @classmethod
    def from_bytes(cls, data: bytes) -> Change:
        raw = orjson.loads(data)
        event = None if raw["e"] is None else decode(orjson.dumps(raw["e"]))
        alerts = tuple(decode(orjson.dumps(a)) for a in raw["a"])
        if not isinstance(event, Tick | Metric | None) or \
                not all(isinstance(a, Alert) for a in alerts):
            raise ValueError("a change holds a market event and alerts")
        return cls(event, alerts, int(raw["p"]), int(raw["o"]),  # type: ignore[arg-type]
                   int(raw["t"]), int(raw.get("r", 0)))


class Instrument:
    """One id's per-instrument detectors, and its price as the cross-market stage sees it."""

    def __init__(self, detectors: Sequence[Detector], crossing: bool,
                 baselines: Baselines | None = None) -> None:
        """`crossing`: whether any cross-market detector reads this id."""
        self.detectors = list(detectors)
        self.set = DetectorSet(self.detectors)
        self.baselines = baselines or Baselines(self.detectors, None, 0)
        self.crossing = crossing

    def on_event(self, event: Tick | Metric) -> tuple[list[Alert], bool]:
        """The alerts `event` raises here, and whether to forward it across markets."""
        alerts = self.set.on_event(event)
        return alerts, bool(alerts) or (self.crossing and self._moves(event))

    def _moves(self, event: Tick | Metric) -> bool:
        if isinstance(event, Metric):
            return True  # metrics are few, and their windows move with time
        return self.set.moves.moved(event)  # as the cross-market detectors will take it

    def snapshot(self) -> bytes:
        return orjson.dumps(self.set.snapshot())

    def restore(self, data: bytes) -> None:
        state = orjson.loads(data)
        self.set.restore(state)
        self.set.moves.merge(state.get("seen", {}))  # a snapshot's own view, from before


class Market:
    """The cross-market detectors (and the readers of findings), fed by `Change`s from every
    partition of the per-instrument stage, in event-time order (events of one time in the
    order they were received, as the embedded engine takes them).

    Partitions are processed apart, so their changes arrive interleaved as it happens; each
    is held until every partition has reported events past it (its watermark: changes and
    `Change`s without an event, sent for the events not forwarded). A partition not heard
    from for `idle_ms` (wall clock, passed in as `now`) stops holding the others back; so
    does one of `partitions` never heard from, `idle_ms` after the stage starts. The last
    offset taken from each partition makes a change forwarded twice count once.
    """

    def __init__(self, detectors: Sequence[Detector], history: HistoryStore | None = None,
                 window: int = 20, idle_ms: int = 15_000, partitions: int = 0) -> None:
        self.detectors = list(detectors)
        self.set = DetectorSet(self.detectors)
        self.baselines = Baselines(self.detectors, history, window)
        self.idle_ms = idle_ms
        self.partitions = partitions
        self.taken: dict[int, int] = {}  # partition -> last offset taken
        # partition -> latest (ts, recv_ns) reported; (0, 0) holds the others back
        self.marks: dict[int, tuple[int, int]] = dict.fromkeys(range(partitions), (0, 0))
        self.heard: dict[int, int] = {}  # partition -> when it was last heard from (wall)
        # heap of (ts, recv_ns, partition, offset, change)
        self.held: list[tuple[int, int, int, int, bytes]] = []

    def ids(self) -> frozenset[str]:
        return frozenset(self.set.routes)

    def take(self, change: Change, now: int) -> list[Alert] | None:
        """Hold `change`; the alerts of what it releases, or None when it was taken before."""
        if change.offset <= self.taken.get(change.partition, -1):
            return None
        self.taken[change.partition] = change.offset
        self.marks[change.partition] = max(change.time, self.marks.get(change.partition, (0, 0)))
        self.heard[change.partition] = now
        if change.event is not None:
            heapq.heappush(self.held, (*change.time, change.partition, change.offset,
                                       change.to_bytes()))
        return self.release(now)

    def due(self, now: int) -> list[Change]:
        """The held changes every partition heard from lately has reported events past."""
        for partition in self.marks:
            self.heard.setdefault(partition, now)  # after a restore: heard from now on
        active = [mark for p, mark in self.marks.items() if now - self.heard[p] <= self.idle_ms]
        watermark = min(active) if active else None
        out = []
        while self.held and (watermark is None or self.held[0][:2] <= watermark):
            out.append(Change.from_bytes(heapq.heappop(self.held)[-1]))
        return out

    def release(self, now: int) -> list[Alert]:
        """Run the due changes through the detectors: their alerts (baselines given)."""
        alerts = []
        for change in self.due(now):
            assert change.event is not None
            self.baselines.give(change.event)
            alerts += self.set.on_event(change.event, change.alerts)
        return alerts

    def snapshot(self) -> bytes:
        return orjson.dumps({
            **self.set.snapshot(),
            "taken": {str(p): o for p, o in self.taken.items()},
            "marks": {str(p): list(t) for p, t in self.marks.items()},
            "held": [[*key, data.decode()] for *key, data in self.held]})

    def restore(self, data: bytes) -> None:
        state = orjson.loads(data)
        self.set.restore(state)
        self.taken = {int(k): int(v) for k, v in state["taken"].items()}
        self.marks = dict.fromkeys(range(self.partitions), (0, 0)) | {
            int(k): saved_time(mark) for k, mark in state["marks"].items()}
        self.held = [(*saved_time(time), partition, offset, text.encode())
                     for *time, partition, offset, text in state["held"]]
        heapq.heapify(self.held)
        self.heard = {}
        self.baselines.forget()


def saved_time(saved: int | list[int]) -> tuple[int, int]:
    """A saved (ts, recv_ns); a bare ts from a snapshot of before receive order (recv 0)."""
    parts = [saved] if isinstance(saved, int) else saved
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


class Instruments:
    """The `Instrument` of each id, made on first use and restored from `load(id)` (the
    partitioned table), kept while the table holds the same state it last saved."""

    def __init__(self, make: Callable[[], list[Detector]], crossing: frozenset[str],
                 history: HistoryStore | None = None, window: int = 20) -> None:
        self.make = make
        self.crossing = crossing
        self.history = history
        self.window = window
        self._live: dict[str, tuple[Instrument, bytes | None]] = {}

    def get(self, ident: str, saved: bytes | None) -> Instrument:
        found = self._live.get(ident)
        if found is not None and found[1] is saved:
            return found[0]
        detectors = self.make()
        instrument = Instrument(detectors, ident in self.crossing,
                                Baselines(detectors, self.history, self.window))
        if saved is not None:
            instrument.restore(saved)
        self._live[ident] = (instrument, saved)
        return instrument

    def saved(self, ident: str, instrument: Instrument) -> bytes:
        """The snapshot to store for `ident`, remembered as this instrument's own."""
        data = instrument.snapshot()
        self._live[ident] = (instrument, data)
        return data
