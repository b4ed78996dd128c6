from __future__ import annotations

import asyncio
import math

from crosscurrent.app import replay
from crosscurrent.config import load_config
from crosscurrent.events import Alert, AlertState, Severity
from reporters.findings import Findings, active_findings, read_findings
from streams.keys import Keys
from streams.redis_client import connect
from streams.tape import read_tape
from tests.conftest import QuietView
from tests.detectors.scenario import DATA


def alert(key: str, state: AlertState, ts: int) -> Alert:
    return Alert(ts=ts, detector="d", key=key, state=state, severity=Severity.WARNING, ids=(),
                 title=key)


def test_active_findings_fold_transitions() -> None:
    active = active_findings([alert("a", AlertState.FIRING, 1), alert("b", AlertState.FIRING, 2),
                              alert("a", AlertState.RESOLVED, 3)])
    assert list(active) == ["b"]


def test_a_replays_findings_are_data_in_redis(redis_url: str) -> None:
    async def main() -> Findings:
        await replay(read_tape(DATA / "crash-day.jsonl"), load_config(env={}), redis_url,
                     speed=math.inf, out=None, view=QuietView(), namespace="findings-test")
        redis = await connect(redis_url)
        try:
            return await read_findings(redis, Keys("cc", "findings-test"))
        finally:
            await redis.aclose()

    findings = asyncio.run(main())
    critical = {k for k, a in findings.active.items() if a.severity == Severity.CRITICAL}
    assert "breadth:decline" in critical and "level_break:hk:HSI:below:25000" in critical
    assert [a.key for a in findings.by_detector("chain")] == ["chain:intact:risk-off"]
    assert findings.risks and all({"risk", "probability", "impact", "trigger"} <= set(r)
                                  for r in findings.risks)
