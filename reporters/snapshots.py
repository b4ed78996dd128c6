"""When `run` writes the day's report: the next of the configured local times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from crosscurrent.config import Snapshot


def next_snapshot(now: datetime, snapshots: Sequence[Snapshot]) -> tuple[datetime, Snapshot]:
    """The next (UTC time, snapshot) strictly after `now` (aware)."""
    found: list[tuple[datetime, Snapshot]] = []
    for snapshot in snapshots:
        zone = ZoneInfo(snapshot.tz)
        local = now.astimezone(zone)
        hour, minute = (int(part) for part in snapshot.at.split(":"))
        for days in (0, 1, 2):
            day = local.date() + timedelta(days=days)
            at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
            if at > now:
                found.append((at.astimezone(UTC), snapshot))
                break
    if not found:
        raise ValueError("no snapshot times configured")
    return min(found, key=lambda item: item[0])
