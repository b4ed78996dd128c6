"""The alert log: alerts as rich text lines while they fire, and `alerts.jsonl` at the end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from redis import asyncio as aioredis
from rich.text import Text

from crosscurrent.events import Alert, AlertState, Severity, decode
from streams.bus import FIELD, entries_of
from streams.keys import Keys
from streams.redis_client import Link, xread_through_outages

SEVERITY_STYLE = {
    Severity.INFO: "cyan",
    Severity.WARNING: "yellow",
    Severity.CRITICAL: "bold red",
}


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).isoformat(timespec="seconds")


def alert_line(alert: Alert) -> Text:
    """One alert as a styled line: time, state, severity, title."""
    when = datetime.fromtimestamp(alert.ts / 1000, tz=UTC).strftime("%m-%d %H:%M:%S")
    firing = alert.state == AlertState.FIRING
    line = Text()
    line.append(f"{when}Z ", style="dim")
    line.append("FIRING  " if firing else "RESOLVED", style="bold" if firing else "green")
    line.append(f" {alert.severity.value:<8} ", style=SEVERITY_STYLE[alert.severity])
    line.append(f"{alert.detector:<11} ", style="magenta")
    line.append(alert.title, style="" if firing else "dim")
    return line


def alert_record(alert: Alert) -> dict[str, Any]:
    """An alert as one line of alerts.jsonl (shared/spec/tape.md, "Outputs of a replay")."""
    record = alert.model_dump(mode="json", exclude={"kind"})
    record["ts"] = iso(alert.ts)
    record["uid"] = alert.uid
    return record


async def read_alerts(redis: aioredis.Redis, keys: Keys) -> list[Alert]:
    """Every alert in the alerts stream, oldest first."""
    alerts: list[Alert] = []
    start = "-"
    while True:
        chunk: Any = await redis.xrange(keys.alerts, min=start, count=1000)
        if not chunk:
            return alerts
        for _, fields in chunk:
            try:
                event = decode(fields[FIELD])
            except (ValidationError, KeyError):
                continue
            if isinstance(event, Alert):
                alerts.append(event)
        start = "(" + chunk[-1][0].decode()


def write_alerts_jsonl(alerts: list[Alert], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for alert in alerts:
            out.write(orjson.dumps(alert_record(alert)) + b"\n")


async def tail_alerts(
    redis: aioredis.Redis, keys: Keys, on_alert: Callable[[Alert], None], start: str = "0-0",
    stop: asyncio.Event | None = None,
) -> None:
    """Call `on_alert` for each alert as it lands (a read-only viewer: no consumer group),
    until `stop` is set (or cancellation). A Redis outage is waited out, from where it was."""
    last: bytes | str = start
    link = Link(redis)
    try:
        while stop is None or not stop.is_set():
            entries = entries_of(await xread_through_outages(link, {keys.alerts: last}, 500,
                                                             100, "alert log"))
            for entry in entries:
                last = entry.id
                try:
                    event = decode(entry.payload)
                except ValidationError:
                    continue
                if isinstance(event, Alert):
                    on_alert(event)
            if not entries:
                await asyncio.sleep(0)
    finally:
        await link.release()
