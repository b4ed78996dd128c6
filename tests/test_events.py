from __future__ import annotations

import pytest
from pydantic import ValidationError

from crosscurrent.events import (
    Alert,
    AlertState,
    FeedState,
    FeedStatus,
    Severity,
    Tick,
    decode,
    encode,
)


def test_events_round_trip_through_json() -> None:
    events = [
        Tick(id="crypto:BTC", ts=1, price=71917.0, prev_close=68918.06, volume=0.5),
        FeedStatus(source="binance", ts=2, state=FeedState.CONNECTED),
        Alert(ts=3, detector="divergence", key="k", state=AlertState.FIRING,
              severity=Severity.WARNING, ids=("crypto:BTC", "hk:HSTECH"), title="t",
              values={"gap": 5.98}),
    ]
    for event in events:
        assert decode(encode(event)) == event


def test_change_is_against_previous_close() -> None:
    tick = Tick(id="crypto:BTC", ts=1, price=71917.0, prev_close=68918.06)
    assert tick.change_pct == pytest.approx(4.35, abs=0.005)
    assert Tick(id="crypto:BTC", ts=1, price=1.0).change_pct is None


@pytest.mark.parametrize(
    "payload", [b"{}", b"not json", b'{"kind":"tick","id":"BTC","ts":1,"price":1}'])
def test_bad_payloads_are_rejected(payload: bytes) -> None:
    with pytest.raises(ValidationError):
        decode(payload)


def test_alert_uid_names_the_transition() -> None:
    alert = Alert(ts=3, detector="d", key="k", state=AlertState.RESOLVED,
                  severity=Severity.CRITICAL, ids=("a:B",), title="t")
    assert alert.uid == "k|resolved|critical|3"
