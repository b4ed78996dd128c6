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
    decode_entry,
    encode,
    pack,
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


def test_a_packed_entry_holds_several_events_and_one_is_left_as_it_is() -> None:
    ticks = [Tick(id="crypto:BTC", ts=n, price=100.0 + n) for n in range(3)]
    assert decode_entry(pack([encode(t) for t in ticks])) == (ticks, [])
    assert pack([encode(ticks[0])]) == encode(ticks[0])
    assert decode_entry(encode(ticks[0])) == ([ticks[0]], [])


def test_a_bad_event_in_a_packed_entry_costs_only_itself() -> None:
    good = [Tick(id="crypto:BTC", ts=n, price=1.0) for n in range(2)]
    entry = pack([encode(good[0]), b'{"kind":"tick","id":"BTC","ts":1,"price":1}',
                  encode(good[1])])
    events, problems = decode_entry(entry)
    assert events == good
    assert problems == ["event 2 of 3: tick.id: String should match pattern "
                        "'^[a-z]+:[A-Za-z0-9][A-Za-z0-9_.\\-]*$'"]


@pytest.mark.parametrize("payload", [b"[{", b"{}", b"", b"[1]"])
def test_an_entry_that_does_not_parse_is_one_problem_per_event(payload: bytes) -> None:
    events, problems = decode_entry(payload)
    assert events == [] and len(problems) == 1
