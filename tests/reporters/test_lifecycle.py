from __future__ import annotations

from crosscurrent.events import Alert, AlertState, Severity
from crosscurrent.notify_config import Inhibit, Mute, NotifyConfig
from reporters.lifecycle import Lifecycle, Notice

S = 1000  # ms
IMMEDIATE = NotifyConfig(group_wait_s=0, group_interval_s=0, keep_firing_for_s=0,
                         inhibit=(Inhibit(),))


def alert(key: str, ts: int, state: str = "firing", severity: str = "warning",
          ids: tuple[str, ...] = ("crypto:BTC",), detector: str = "divergence") -> Alert:
    return Alert(ts=ts, detector=detector, key=key, state=AlertState(state),
                 severity=Severity(severity), ids=ids, title=key)


def run(life: Lifecycle, alerts: list[Alert], until: int | None = None) -> list[Notice]:
    notices: list[Notice] = []
    for a in alerts:
        life.on_alert(a)
        notices += life.advance(a.ts)
    if until is not None:
        notices += life.advance(until)
    return notices


def changes(notices: list[Notice]) -> list[tuple[str, str, str]]:
    return [(a.key, a.state, a.severity) for n in notices for a in n.alerts]


def test_flapping_within_keep_firing_for_is_one_notification() -> None:
    life = Lifecycle(IMMEDIATE.model_copy(update={"keep_firing_for_s": 120}))
    flaps = []
    for i in range(10):
        flaps += [alert("k", i * 20 * S), alert("k", i * 20 * S + 10 * S, "resolved")]
    notices = run(life, flaps, until=400 * S)
    assert changes(notices) == [("k", "firing", "warning"), ("k", "resolved", "warning")]


def test_pending_alerts_that_resolve_never_notify() -> None:
    life = Lifecycle(IMMEDIATE.model_copy(update={"for_s": 60}))
    notices = run(life, [alert("k", 0), alert("k", 30 * S, "resolved")], until=200 * S)
    assert notices == []
    notices = run(life, [alert("j", 300 * S)], until=359 * S)
    assert notices == []
    assert changes(life.advance(360 * S)) == [("j", "firing", "warning")]


def test_escalation_notifies_again_and_repeats_come_at_the_interval() -> None:
    life = Lifecycle(IMMEDIATE.model_copy(update={"repeat_interval_s": 3600}))
    notices = run(life, [alert("k", 0), alert("k", 5 * S), alert("k", 10 * S, severity="critical")])
    assert changes(notices) == [("k", "firing", "warning"), ("k", "firing", "critical")]
    assert life.advance(3000 * S) == []
    assert changes(life.advance(3611 * S)) == [("k", "firing", "critical")]


def test_changes_are_grouped_and_paced() -> None:
    life = Lifecycle(NotifyConfig(group_wait_s=30, group_interval_s=300, keep_firing_for_s=0))
    notices = run(life, [alert("a", 0), alert("b", 10 * S)], until=29 * S)
    assert notices == []
    (first,) = life.advance(30 * S)
    assert [a.key for a in first.alerts] == ["a", "b"] and first.group == "divergence"
    run(life, [alert("c", 40 * S)])
    assert life.advance(300 * S) == []
    (second,) = life.advance(330 * S)
    assert [a.key for a in second.alerts] == ["c"] and second.id != first.id


def test_a_critical_inhibits_the_related_warnings_and_silences_mute() -> None:
    life = Lifecycle(IMMEDIATE)
    notices = run(life, [alert("crit", 0, severity="critical", ids=("hk:HSI",)),
                         alert("warn", 1 * S, ids=("hk:HSI", "cn:SSE")),
                         alert("other", 2 * S, ids=("crypto:ETH",))])
    assert [c[0] for c in changes(notices)] == ["crit", "other"]
    notices = run(life, [alert("crit", 5 * S, "resolved", "critical", ("hk:HSI",))])
    assert ("warn", "firing", "warning") in changes(notices)  # no longer inhibited

    silenced = Lifecycle(IMMEDIATE, silenced=lambda a, now: a.key == "quiet" and now < 60 * S)
    assert run(silenced, [alert("quiet", 0)], until=59 * S) == []
    assert changes(silenced.advance(60 * S)) == [("quiet", "firing", "warning")]


def test_closed_markets_mute_and_state_survives_a_restart() -> None:
    config = IMMEDIATE.model_copy(update={"mute": (Mute(match="ids=hk:*"),)})
    life = Lifecycle(config)
    saturday = 1775880000000  # 2026-04-11 04:00 UTC: Hong Kong closed
    assert run(life, [alert("hk", saturday, ids=("hk:HSI",))]) == []
    again = Lifecycle(config)
    again.restore(life.snapshot())  # still held back after a restart
    assert again.advance(saturday + 60 * S) == []
    wednesday_1pm_hkt = 1775624400000  # 2026-04-08 05:00 UTC: open
    notices = run(again, [alert("hk", wednesday_1pm_hkt, ids=("hk:HSI",))])
    assert changes(notices) == [("hk", "firing", "warning")]
