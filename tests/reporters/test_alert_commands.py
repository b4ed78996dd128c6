"""`crosscurrent silence` and `crosscurrent alerts` as a user runs them."""

from __future__ import annotations

import asyncio

import orjson

from crosscurrent.events import Alert, AlertState, Severity, encode
from streams.bus import FIELD
from streams.keys import Keys
from streams.redis_client import connect
from tests.test_cli import crosscurrent


def test_silences_are_added_listed_and_expired(redis_url: str) -> None:
    base = ["--redis", redis_url, "--namespace", "silence-test"]
    added = crosscurrent("silence", "add", "detector=divergence ids=hk:*", "--for", "2h",
                         "--comment", "HK holiday", *base)
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.split()[1]
    listed = crosscurrent("silence", "list", *base)
    assert silence_id in listed.stdout and "active" in listed.stdout
    assert "HK holiday" in listed.stdout
    assert crosscurrent("silence", "expire", silence_id, *base).returncode == 0
    assert "expired" in crosscurrent("silence", "list", *base).stdout
    bad = crosscurrent("silence", "add", "region=hk", *base)
    assert bad.returncode == 2 and "field is one of detector" in bad.stderr
    bad = crosscurrent("silence", "add", "ids=hk:*", "--for", "soon", *base)
    assert bad.returncode == 2 and "bad duration 'soon'" in bad.stderr


def test_alerts_list_filters_and_prints_json(redis_url: str) -> None:
    keys = Keys("cc", "alerts-test")

    async def load() -> None:
        redis = await connect(redis_url)
        for i, severity in enumerate(["info", "warning", "critical"]):
            alert = Alert(ts=1775635200000 + i * 3_600_000, detector="d", key=f"k{i}",
                          state=AlertState.FIRING, severity=Severity(severity), ids=(),
                          title=f"alert {i}")
            await redis.xadd(keys.alerts, {FIELD: encode(alert)})
        await redis.aclose()

    asyncio.run(load())
    base = ["--redis", redis_url, "--namespace", "alerts-test"]
    listed = crosscurrent("alerts", "list", "--severity", "warning", *base)
    assert [line.split()[-1] for line in listed.stdout.splitlines()] == ["1", "2"]
    recent = crosscurrent("alerts", "list", "--since", "90m", "--json", *base)
    assert [orjson.loads(line)["key"] for line in recent.stdout.splitlines()] == ["k1", "k2"]
