"""The interface every detector implements: events in, alerts out, state as plain data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from crosscurrent.baselines import Baseline
from crosscurrent.events import Alert, Metric, Tick
from detectors.common import Moves


class Detector(Protocol):
    """A finding's logic with no I/O: deterministic in the events it is given."""

    name: str

    def ids(self) -> frozenset[str]:
        """The canonical ids this detector reads."""
        ...

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        """Feed one event; return the alert transitions it causes."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """State as JSON-able data; `restore(snapshot())` resumes exactly."""
        ...

    def restore(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class UsesBaselines(Protocol):
    """A detector that judges today against the recent past is given each id's `Baseline`
    (from the history store) before the events of a new session: input, not I/O."""

    def set_baselines(self, baselines: Mapping[str, Baseline]) -> None: ...


@runtime_checkable
class UsesFindings(Protocol):
    """A detector of detectors: it is shown the alerts the others raised on each event."""

    def on_alerts(self, alerts: Sequence[Alert], event: Tick | Metric) -> list[Alert]: ...


@runtime_checkable
class UsesQuotes(Protocol):
    """A detector that reads prices through a `Moves` view. In a `DetectorSet` they all share
    one, which takes each tick once and is snapshotted once, by the set."""

    moves: Moves
