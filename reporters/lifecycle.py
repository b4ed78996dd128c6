"""The alert lifecycle between the detectors and people (Alertmanager-style), sans-I/O.

In: the detectors' raw transitions (`on_alert`) and the passing of event time (`advance`).
Out: `Notice`s, each a group of alert changes due to be sent. Per alert key:
  - pending: it must hold `for_s` before it notifies; resolved before that, it never does;
  - firing: notified once per severity (an escalation notifies again); while it lasts it is
    sent again every `repeat_interval_s` (if set);
  - resolving: a resolve waits `keep_firing_for_s`; firing again meanwhile is no news;
  - suppressed: silenced, inhibited (a critical mutes the related warnings: same ids) or muted
    (its markets closed) alerts are not notified; when that ends, a still-firing one is.
Changes are grouped (`group_by`): a group's first notice waits `group_wait_s`, later ones come
at most every `group_interval_s`. All state is plain data (`snapshot` / `restore`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crosscurrent.catalog import default_catalog
from crosscurrent.events import Alert, AlertState, Severity
from crosscurrent.notify_config import NotifyConfig
from reporters.matchers import Matcher


@dataclass(frozen=True)
class Notice:
    """Alert changes to send together; `id` is the idempotency key of the delivery."""

    id: str
    group: str
    alerts: tuple[Alert, ...]
    ts: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "group": self.group, "ts": self.ts,
                "alerts": [a.model_dump(mode="json") for a in self.alerts]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notice:
        return cls(id=data["id"], group=data["group"], ts=data["ts"],
                   alerts=tuple(Alert.model_validate(a) for a in data["alerts"]))


Suppressor = Callable[[Alert, int], bool]  # (alert, now) -> silenced?


class Lifecycle:
    def __init__(self, config: NotifyConfig, silenced: Suppressor | None = None) -> None:
        self.config = config
        self.silenced = silenced or (lambda alert, now: False)
        self.inhibit = [(Matcher.parse(i.source), Matcher.parse(i.target))
                        for i in config.inhibit]
        self.mutes = [Matcher.parse(m.match) for m in config.mute if m.closed_markets]
        # key -> {"alert": raw alert JSON, "since": ts, "resolved_at": ts | None,
        #         "notified": severity | None, "sent_at": ts | None}
        self.tracked: dict[str, dict[str, Any]] = {}
        # group -> {"changes": [alert JSON, ...], "first": ts, "last_flush": ts | None}
        self.groups: dict[str, dict[str, Any]] = {}
        self.now = 0

    # -- input ------------------------------------------------------------------------------
    def on_alert(self, alert: Alert) -> None:
        self.now = max(self.now, alert.ts)
        entry = self.tracked.get(alert.key)
        if alert.state == AlertState.FIRING:
            if entry is None:
                self.tracked[alert.key] = {"alert": _dump(alert), "since": alert.ts,
                                           "resolved_at": None, "notified": None,
                                           "sent_at": None}
            else:
                entry["alert"], entry["resolved_at"] = _dump(alert), None
        elif entry is not None:
            entry["alert"] = _dump(alert)
            entry["resolved_at"] = alert.ts

    # -- output -----------------------------------------------------------------------------
    def advance(self, now: int) -> list[Notice]:
        """Move event time to `now`; the notices that are due."""
        self.now = now = max(self.now, now)
        cfg = self.config
        for key in list(self.tracked):
            entry = self.tracked[key]
            alert = Alert.model_validate(entry["alert"])
            if entry["resolved_at"] is not None:
                if now - entry["resolved_at"] < cfg.keep_firing_for_s * 1000:
                    continue  # resolving: held a little longer
                del self.tracked[key]
                if entry["notified"] is not None and cfg.send_resolved:
                    self._queue(alert, now)
                continue
            if now - entry["since"] < cfg.for_s * 1000 or self._suppressed(alert, now):
                continue
            repeat = entry["sent_at"] is not None and cfg.repeat_interval_s is not None and \
                now - entry["sent_at"] >= cfg.repeat_interval_s * 1000
            if entry["notified"] != alert.severity or repeat:
                entry["notified"], entry["sent_at"] = str(alert.severity), now
                self._queue(alert, now)
        return self._flush(now)

    def _suppressed(self, alert: Alert, now: int) -> bool:
        if self.silenced(alert, now):
            return True
        for source, target in self.inhibit:
            if not target.matches(alert):
                continue
            for other in self.tracked.values():
                firing = Alert.model_validate(other["alert"])
                if firing.key != alert.key and other["resolved_at"] is None and \
                        source.matches(firing) and set(firing.ids) & set(alert.ids):
                    return True
        if any(m.matches(alert) for m in self.mutes) and alert.ids:
            catalog = default_catalog()
            return not any(catalog[i].calendar.is_open(alert.ts) for i in alert.ids
                           if i in catalog)
        return False

    def _group(self, alert: Alert) -> str:
        return "|".join(str(getattr(alert, f)) for f in self.config.group_by)

    def _queue(self, alert: Alert, now: int) -> None:
        group = self.groups.setdefault(self._group(alert), {"changes": [], "first": now,
                                                            "last_flush": None})
        if not group["changes"]:
            group["first"] = now
        group["changes"].append(_dump(alert) | {"notified_at": now})  # every change, in order

    def _flush(self, now: int) -> list[Notice]:
        cfg, notices = self.config, []
        for name, group in sorted(self.groups.items()):
            if not group["changes"]:
                continue
            due = group["first"] + cfg.group_wait_s * 1000 if group["last_flush"] is None \
                else group["last_flush"] + cfg.group_interval_s * 1000
            if now < due:
                continue
            alerts = tuple(Alert.model_validate({k: v for k, v in c.items()
                                                 if k != "notified_at"})
                           for c in group["changes"])
            marks = [f"{a.uid}@{c['notified_at']}" for a, c in zip(alerts, group["changes"],
                                                                   strict=True)]
            digest = hashlib.sha1("\n".join(marks).encode()).hexdigest()[:20]
            notices.append(Notice(id=digest, group=name, alerts=alerts, ts=now))
            group["changes"], group["last_flush"] = [], now
        return notices

    def flush_all(self, now: int) -> list[Notice]:
        """At the end of a tape: whatever is held back by waits or intervals, now."""
        notices = self.advance(now)
        for group in self.groups.values():
            group["first"], group["last_flush"] = -10**15, None
        return notices + self._flush(now)

    def snapshot(self) -> dict[str, Any]:
        return {"tracked": self.tracked, "groups": self.groups, "now": self.now}

    def restore(self, state: dict[str, Any]) -> None:
        self.tracked = dict(state.get("tracked", {}))
        self.groups = dict(state.get("groups", {}))
        self.now = int(state.get("now", 0))


def _dump(alert: Alert) -> dict[str, Any]:
    return alert.model_dump(mode="json")


def severities(alerts: Sequence[Alert]) -> Severity:
    """The highest severity of a notice's alerts."""
    order = [Severity.INFO, Severity.WARNING, Severity.CRITICAL]
    return max((a.severity for a in alerts), key=order.index, default=Severity.INFO)
