"""The day's findings as data for the reporters: what is active, the flow map, the risks.

Read from Redis (the alerts stream and the detectors agent's committed state), or folded from
alerts already in hand; the same shape either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis import asyncio as aioredis

from crosscurrent.events import Alert, AlertState
from reporters.alert_log import read_alerts
from streams.keys import Keys

AGENT = "detectors"  # the agent that runs every detector (crosscurrent.app.build_agents)


@dataclass
class Findings:
    active: dict[str, Alert] = field(default_factory=dict)  # key -> its latest firing alert
    flow_map: list[dict[str, Any]] = field(default_factory=list)
    risks: list[dict[str, Any]] = field(default_factory=list)

    def by_detector(self, detector: str) -> list[Alert]:
        return [a for a in self.active.values() if a.detector == detector]


def active_findings(alerts: Iterable[Alert]) -> dict[str, Alert]:
    """Fold alert transitions, in order, into the findings still firing at the end."""
    active: dict[str, Alert] = {}
    for alert in alerts:
        if alert.state == AlertState.FIRING:
            active[alert.key] = alert
        else:
            active.pop(alert.key, None)
    return active


async def read_findings(redis: aioredis.Redis, keys: Keys) -> Findings:
    findings = Findings(active=active_findings(await read_alerts(redis, keys)))
    saved = await redis.hget(keys.state(AGENT), "detectors")
    if saved:
        synthesis = orjson.loads(saved).get("synthesis", {})
        findings.flow_map = list(synthesis.get("flow_map", []))
        findings.risks = list(synthesis.get("risks", []))
    return findings
