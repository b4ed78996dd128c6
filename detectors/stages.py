"""The detectors split in two stages for a partitioned engine (Faust on Kafka).

Per instrument: the detectors whose state for an id depends on that id's events alone
(`per_instrument = True`), one `Instrument` per id, so its state lives under the id's key in
a partitioned table. Across markets: the rest, fed by a low-volume stream of changes (an
event that can move a cross-market detector, with the alerts it raised upstream) in one
`Market`, which takes them in event-time order across partitions. Plain code, no I/O:
events in, alerts and changes out, state as bytes.

The per-instrument stage takes a batch at a time and sends the changes of each partition's
batch as one message (`pack_changes`): each change says where its event came from (the
message's partition and offset, and its index in that message: a message of the events
topic holds several events), so a change forwarded twice is taken once.

A tick that leaves the price and previous close as they were, or comes late, cannot move the
cross-market detectors' trackers (`Moves`): it is not forwarded unless it raised an alert.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from crosscurrent.events import EVENT_ADAPTER, Alert, Metric, Tick, decode, encode
from detectors.agent import Baselines, DetectorSet
from detectors.base import Detector
from streams.history import HistoryStore

WHOLE = 1 << 62  # the index of a message taken whole (a snapshot of before the index)
LIMIT = 512 * 1024  # bytes of a message at most (Kafka takes 1 MB): more is split in two
HELD = b"market.held"  # the market table's keys of held changes: HELD.<chunk>.<gen>.<piece>
_KINDS: dict[str, type[Tick] | type[Metric]] = {"tick": Tick, "metric": Metric}
_FIELDS = {kind: frozenset(model.model_fields) for kind, model in _KINDS.items()}
_SETS = {kind: set(names) for kind, names in _FIELDS.items()}
_new, _set = object.__new__, object.__setattr__


def is_per_instrument(detector: Detector) -> bool:
    return bool(getattr(detector, "per_instrument", False))


def split(detectors: Sequence[Detector]) -> tuple[list[Detector], list[Detector]]:
    """(per-instrument, cross-market) detectors, in their order."""
    return ([d for d in detectors if is_per_instrument(d)],
            [d for d in detectors if not is_per_instrument(d)])


def fields(event: Tick | Metric) -> dict[str, Any]:
    """An event as the changes carry it: its fields, every one (orjson writes them)."""
    return event.__dict__


def trusted(values: dict[str, Any]) -> Tick | Metric:
    """The event of `fields`, as the per-instrument stage validated it: made without
    validating again (pydantic's validation is most of the cost of decoding an event, and
    the events topic's was done). Raises KeyError or ValueError on what is not one."""
    kind = values["kind"]
    if values.keys() != _FIELDS[kind]:
        raise ValueError(f"a {kind}'s fields are {sorted(_FIELDS[kind])}")
    event = _new(_KINDS[kind])
    _set(event, "__dict__", values)
    _set(event, "__pydantic_fields_set__", _SETS[kind])  # frozen models: never changed
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


def _alert(data: Any) -> Alert:
    alert = EVENT_ADAPTER.validate_python(data)
    if not isinstance(alert, Alert):
        raise ValueError("a change's alerts are alerts")
    return alert


@dataclass(frozen=True)
class Change:
    """What the per-instrument stage forwards: the event, the alerts it raised there, and
    where it came from (`partition`, `offset` of its message, `index` in the message), so a
    replayed one is recognised. Without an event it only reports the partition's progress:
    its events up to (`ts`, `recv_ns`) were taken. Events of one time are ordered by
    `recv_ns`, the order the feeds received them."""

    event: Tick | Metric | None
    alerts: tuple[Alert, ...]
    partition: int
    offset: int
    ts: int
    recv_ns: int = 0
    index: int = 0

    @classmethod
    def of(cls, event: Tick | Metric, alerts: Sequence[Alert], partition: int, offset: int,
           index: int = 0) -> Change:
        return cls(event, tuple(alerts), partition, offset, event.ts, event.recv_ns, index)

    @property
    def time(self) -> tuple[int, int]:
        """Where it stands in the market stage's order."""
        return self.ts, self.recv_ns

    def to_bytes(self) -> bytes:
        """One change alone (the form of before the changes were sent in batches)."""
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


def forwarded(offset: int, index: int, event: Tick | Metric, alerts: Sequence[Alert]
              ) -> list[Any]:
    """A change as `pack_changes` sends it."""
    return [offset, index, fields(event), [orjson.Fragment(encode(a)) for a in alerts]]


def fitted(items: Sequence[Any], dump: Callable[[Sequence[Any], bool], bytes]) -> list[bytes]:
    """`dump(part, last)` of `items`, in as few parts as keep each within `LIMIT` bytes (a
    part of one item is what it is); `last`: whether the part ends `items`."""
    def parts(start: int, end: int) -> list[bytes]:
        data = dump(items[start:end], end == len(items))
        if len(data) <= LIMIT or end - start <= 1:
            return [data]
        middle = (start + end) // 2
        return parts(start, middle) + parts(middle, end)

    return parts(0, len(items))


def pack_changes(partition: int, mark: tuple[int, int] | None, changes: Sequence[list[Any]]
                 ) -> list[bytes]:
    """The messages of one partition's batch: its `forwarded` changes, in order, in one
    message or a few (`fitted`); the last says the partition's events up to `mark`
    (ts, recv_ns) were taken (a batch that forwards nothing still sends that)."""
    return fitted(changes, lambda part, last: orjson.dumps(
        {"p": partition, "m": list(mark) if mark and last else None, "c": part}))


@dataclass
class Changes:
    """A message of the changes topic: changes of one partition, and its progress."""

    partition: int
    mark: tuple[int, int] | None
    changes: list[tuple[int, int, Tick | Metric, tuple[Alert, ...]]]  # offset, index, ...

    @classmethod
    def from_bytes(cls, data: bytes) -> Changes:
        """Raises ValueError, KeyError, TypeError or pydantic's ValidationError on what is
        not a message of `pack_changes`."""
        raw = orjson.loads(data)
        mark = raw["m"]
        changes = [(o, i, trusted(e), tuple(_alert(a) for a in alerts) if alerts else ())
                   for o, i, e, alerts in raw["c"]]
        if not all(type(o) is int and type(i) is int for o, i, _, _ in changes):
            raise ValueError("a change's offset and index are integers")
        return cls(int(raw["p"]), None if mark is None else (int(mark[0]), int(mark[1])),
                   changes)

    def events(self) -> list[Tick | Metric]:
        return [change[2] for change in self.changes]


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


# (ts, recv_ns, partition, offset, index, chunk, event, alerts): a change the market stage
# holds, and the chunk of the market table it is stored in
Held = tuple[int, int, int, int, int, int, Tick | Metric, tuple[Alert, ...]]
Saved = tuple[list[tuple[bytes, bytes]], bytes, list[bytes]]


def held_key(chunk: int, gen: int, piece: int) -> bytes:
    return b"%s.%d.%d.%d" % (HELD, chunk, gen, piece)


class Market:
    """The cross-market detectors (and the readers of findings), fed by changes from every
    partition of the per-instrument stage, in event-time order (events of one time in the
    order they were received, as the embedded engine takes them).

    Partitions are processed apart, so their changes arrive interleaved as it happens; each
    is held until every partition has reported events past it (its watermark: changes, and
    the progress each batch reports for the events not forwarded). A partition not heard
    from for `idle_ms` (wall clock, passed in as `now`) stops holding the others back; so
    does one of `partitions` never heard from, `idle_ms` after the stage starts. The last
    position taken from each partition (offset, index) makes a change forwarded twice count
    once.

    Saved (`save`), the held changes are not in the state, which stays small however many
    there are (one worker's partitions may run far ahead of another's): they are stored in
    chunks of their own, each the changes of one batch still held, written once, and again
    (under a new key: the state says which are current) only when some of it is released.
    """

    def __init__(self, detectors: Sequence[Detector], history: HistoryStore | None = None,
                 window: int = 20, idle_ms: int = 15_000, partitions: int = 0) -> None:
        self.detectors = list(detectors)
        self.set = DetectorSet(self.detectors)
        self.baselines = Baselines(self.detectors, history, window)
        self.idle_ms = idle_ms
        self.partitions = partitions
        self.taken: dict[int, tuple[int, int]] = {}  # partition -> last (offset, index) taken
        # partition -> latest (ts, recv_ns) reported; (0, 0) holds the others back
        self.marks: dict[int, tuple[int, int]] = dict.fromkeys(range(partitions), (0, 0))
        self.heard: dict[int, int] = {}  # partition -> when it was last heard from (wall)
        self.held: list[Held] = []  # a heap
        self.chunk = 0  # the chunk of what is held now: stored by the next `save`
        self.counts: dict[int, int] = {}  # chunk -> how many of its changes are held
        self.stored: dict[int, tuple[int, int]] = {}  # chunk -> (generation, pieces) stored
        self._touched: set[int] = set()  # chunks released from since the last `save`

    def ids(self) -> frozenset[str]:
        return frozenset(self.set.routes)

    def add(self, partition: int, offset: int, index: int, event: Tick | Metric | None,
            alerts: tuple[Alert, ...], time: tuple[int, int], now: int) -> bool:
        """Hold a change (without an event: only progress up to `time`); False when it was
        taken before."""
        position = offset, index
        if position <= self.taken.get(partition, (-1, -1)):
            return False
        self.taken[partition] = position
        self.report(partition, time, now)
        if event is not None:
            heapq.heappush(self.held, (*time, partition, offset, index, self.chunk, event,
                                       alerts))
            self.counts[self.chunk] = self.counts.get(self.chunk, 0) + 1
        return True

    def report(self, partition: int, time: tuple[int, int], now: int) -> None:
        """`partition`'s events up to `time` were taken, as of `now`."""
        if time > self.marks.get(partition, (0, 0)):
            self.marks[partition] = time
        self.heard[partition] = now

    def take(self, change: Change, now: int) -> list[Alert] | None:
        """Hold `change`; the alerts of what it releases, or None when it was taken before."""
        if not self.add(change.partition, change.offset, change.index, change.event,
                        change.alerts, change.time, now):
            return None
        return self.release(now)

    def take_all(self, message: Changes, now: int) -> tuple[list[Alert], int]:
        """Hold a message's changes; the alerts of what they release, and how many of them
        were taken before (a message's changes are in the order of their positions)."""
        partition, changes = message.partition, message.changes
        last = self.taken.get(partition, (-1, -1))
        fresh = [c for c in changes if (c[0], c[1]) > last]
        if fresh:
            self.taken[partition] = fresh[-1][0], fresh[-1][1]
            held, push, chunk = self.held, heapq.heappush, self.chunk
            top = self.marks.get(partition, (0, 0))
            for offset, index, event, alerts in fresh:
                ts, recv = event.ts, event.recv_ns
                push(held, (ts, recv, partition, offset, index, chunk, event, alerts))
                if (ts, recv) > top:
                    top = ts, recv
            self.marks[partition] = top
            self.counts[chunk] = self.counts.get(chunk, 0) + len(fresh)
            self.heard[partition] = now
        if message.mark is not None:
            self.report(partition, message.mark, now)
        return self.release(now), len(changes) - len(fresh)

    def due(self, now: int) -> list[Held]:
        """The held changes every partition heard from lately has reported events past."""
        for partition in self.marks:
            self.heard.setdefault(partition, now)  # after a restore: heard from now on
        active = [mark for p, mark in self.marks.items() if now - self.heard[p] <= self.idle_ms]
        held, out = self.held, []
        if active:
            ts, recv = min(active)
            while held and (held[0][0] < ts or (held[0][0] == ts and held[0][1] <= recv)):
                out.append(heapq.heappop(held))
        else:
            while held:
                out.append(heapq.heappop(held))
        counts, touched = self.counts, self._touched
        for entry in out:
            counts[entry[5]] -= 1
            touched.add(entry[5])
        return out

    def release(self, now: int) -> list[Alert]:
        """Run the due changes through the detectors: their alerts (baselines given)."""
        alerts: list[Alert] = []
        give, detect = self.baselines.give, self.set.on_event
        for entry in self.due(now):
            event = entry[6]
            give(event)
            found = detect(event, entry[7])
            if found:
                alerts += found
        return alerts

    def _state(self) -> dict[str, Any]:
        return {**self.set.snapshot(),
                "taken": {str(p): list(o) for p, o in self.taken.items()},
                "marks": {str(p): list(t) for p, t in self.marks.items()}}

    def snapshot(self) -> bytes:
        """The whole state, held changes in it (see `save` for the state in parts)."""
        return orjson.dumps({**self._state(), "held": [plain(h) for h in self.held]})

    def save(self) -> Saved:
        """The state in parts: (key, value) of the chunks of held changes to write first,
        the state itself (which names the chunks), and the keys of chunks it no longer
        needs, to delete once the state is written (until then, a state saved before still
        finds its chunks)."""
        pending, touched = self.chunk, self._touched
        self._touched = set()
        writes: list[tuple[bytes, bytes]] = []
        drop: list[bytes] = []
        rewrite = {c for c in touched if c in self.stored and self.counts.get(c)}
        for chunk in [c for c in touched | {pending} if not self.counts.get(c)]:
            self.counts.pop(chunk, None)
            if chunk in self.stored:
                drop += [held_key(chunk, *k) for k in pieces(*self.stored.pop(chunk))]
        if self.counts.get(pending):
            rewrite.add(pending)
            self.chunk += 1
        groups: dict[int, list[Held]] = {chunk: [] for chunk in rewrite}
        if groups:
            for entry in self.held:
                group = groups.get(entry[5])
                if group is not None:
                    group.append(entry)
        for chunk, entries in groups.items():
            gen = 0
            if chunk in self.stored:
                gen = self.stored[chunk][0] + 1
                drop += [held_key(chunk, *k) for k in pieces(*self.stored[chunk])]
            data = fitted([orjson.Fragment(orjson.dumps(plain(h))) for h in entries],
                          lambda part, _: orjson.dumps(part))
            writes += [(held_key(chunk, gen, n), piece) for n, piece in enumerate(data)]
            self.stored[chunk] = gen, len(data)
        state = orjson.dumps({**self._state(), "held": [], "next": self.chunk,
                              "chunks": {str(c): list(s) for c, s in self.stored.items()}})
        return writes, state, drop

    def restore(self, data: bytes, load: Callable[[bytes], bytes | None] | None = None
                ) -> None:
        """Resume from `snapshot()` or `save()`'s state (its chunks read with `load`)."""
        state = orjson.loads(data)
        self.set.restore(state)
        self.taken = {int(k): (int(v), WHOLE) if isinstance(v, int) else (int(v[0]), int(v[1]))
                      for k, v in state["taken"].items()}
        self.marks = dict.fromkeys(range(self.partitions), (0, 0)) | {
            int(k): saved_time(mark) for k, mark in state["marks"].items()}
        self.chunk = int(state.get("next", 0))
        self.stored = {int(c): (int(s[0]), int(s[1])) for c, s in state.get("chunks", {}).items()}
        self.held = [saved_held(entry, self.chunk) for entry in state["held"]]
        for chunk, (gen, count) in self.stored.items():
            for piece in range(count):
                found = load(held_key(chunk, gen, piece)) if load else None
                if found is None:
                    raise ValueError(f"the market state's held changes {chunk}.{gen}.{piece} "
                                     "are not in the table")
                self.held += [saved_held(entry, chunk) for entry in orjson.loads(found)]
        heapq.heapify(self.held)
        self.counts = {}
        for entry in self.held:
            self.counts[entry[5]] = self.counts.get(entry[5], 0) + 1
        self._touched = set()
        self.heard = {}
        self.baselines.forget()


def pieces(gen: int, count: int) -> list[tuple[int, int]]:
    return [(gen, n) for n in range(count)]


def plain(held: Held) -> list[Any]:
    """A held change as saved: [ts, recv_ns, partition, offset, index, fields, alerts]."""
    ts, recv, partition, offset, index, _, event, alerts = held
    return [ts, recv, partition, offset, index, fields(event),
            [orjson.Fragment(encode(a)) for a in alerts]]


def saved_time(saved: int | list[int]) -> tuple[int, int]:
    """A saved (ts, recv_ns); a bare ts from a snapshot of before receive order (recv 0)."""
    parts = [saved] if isinstance(saved, int) else saved
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def saved_held(entry: list[Any], chunk: int) -> Held:
    """A held change of a snapshot (`plain`), in `chunk`; or of before the index ([ts,
    recv_ns, partition, offset, a change's bytes as text]) or before receive order ([ts,
    partition, offset, text])."""
    if isinstance(entry[-1], str):
        *time, partition, offset, text = entry
        change = Change.from_bytes(text.encode())
        if change.event is None:
            raise ValueError("a held change has an event")
        return (*saved_time(time), int(partition), int(offset), WHOLE, chunk, change.event,
                change.alerts)
    ts, recv, partition, offset, index, values, alerts = entry
    return (int(ts), int(recv), int(partition), int(offset), int(index), chunk,
            trusted(values), tuple(_alert(a) for a in alerts))


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

    def of(self, events: Iterable[Tick | Metric], load: Callable[[str], bytes | None]
           ) -> dict[str, tuple[Instrument, list[Tick | Metric]]]:
        """The instrument of each id of `events` (restored from `load(id)` where this one
        is not the table's), with its events in order."""
        found: dict[str, tuple[Instrument, list[Tick | Metric]]] = {}
        for event in events:
            mine = found.get(event.id)
            if mine is None:
                mine = found[event.id] = (self.get(event.id, load(event.id)), [])
            mine[1].append(event)
        return found

    def saved(self, ident: str, instrument: Instrument) -> bytes:
        """The snapshot to store for `ident`, remembered as this instrument's own."""
        data = instrument.snapshot()
        self._live[ident] = (instrument, data)
        return data


def run_batch(entries: Sequence[tuple[int, int, Tick | Metric]],
              instruments: dict[str, tuple[Instrument, list[Tick | Metric]]]
              ) -> tuple[list[Alert], list[list[Any]], tuple[int, int] | None]:
    """One partition's batch of (offset, index, event) through its instruments (baselines
    loaded): the alerts raised, the changes to forward (`forwarded`), and the latest
    (ts, recv_ns) taken."""
    raised: list[Alert] = []
    changes: list[list[Any]] = []
    mark = (-1, -1)
    for offset, index, event in entries:
        instrument = instruments[event.id][0]
        instrument.baselines.give(event)
        alerts, forward = instrument.on_event(event)
        if alerts:
            raised += alerts
        if forward:
            changes.append(forwarded(offset, index, event, alerts) if alerts else
                           [offset, index, event.__dict__, []])
        time = event.ts, event.recv_ns
        if time > mark:
            mark = time
    return raised, changes, mark if entries else None
