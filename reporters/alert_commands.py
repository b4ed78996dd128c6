"""What `crosscurrent alerts`, `notify test` and `silence` do (the CLI only parses)."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime

import orjson

from crosscurrent.events import Alert, AlertState, Severity
from crosscurrent.notify_config import Receiver
from reporters.alert_log import alert_record, read_alerts, tail_alerts
from reporters.lifecycle import Notice
from reporters.messages import body, title
from reporters.notifier import apprise_sender
from reporters.silences import (
    expire_silence,
    load_silences,
    new_silence,
    parse_duration,
    save_silence,
)
from streams.keys import Keys
from streams.redis_client import connect

ORDER = [Severity.INFO, Severity.WARNING, Severity.CRITICAL]


def plain_line(alert: Alert, as_json: bool) -> str:
    """One alert as a plain line (no colour, no wrapping), or as JSON."""
    if as_json:
        return orjson.dumps(alert_record(alert)).decode()
    when = datetime.fromtimestamp(alert.ts / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"{when} {alert.state.value.upper():<8} {alert.severity.value:<8} "
            f"{alert.detector:<11} {alert.key} {alert.title}")


def _wanted(alert: Alert, severity: str | None) -> bool:
    return severity is None or ORDER.index(alert.severity) >= ORDER.index(Severity(severity))


async def tail_plain(url: str, keys: Keys, severity: str | None, as_json: bool) -> None:
    redis = await connect(url)

    def show(alert: Alert) -> None:
        if _wanted(alert, severity):
            sys.stdout.write(plain_line(alert, as_json) + "\n")
            sys.stdout.flush()

    try:
        await tail_alerts(redis, keys, show, start="$")
    finally:
        await redis.aclose()


async def list_alerts(url: str, keys: Keys, since_s: float | None, severity: str | None,
                      as_json: bool) -> None:
    redis = await connect(url)
    try:
        alerts = await read_alerts(redis, keys)
    finally:
        await redis.aclose()
    if not alerts:
        print(f"no alerts in namespace {keys.namespace}", file=sys.stderr)
    if since_s is not None and alerts:
        horizon = max(a.ts for a in alerts) - since_s * 1000
        alerts = [a for a in alerts if a.ts >= horizon]
    for alert in alerts:
        if _wanted(alert, severity):
            sys.stdout.write(plain_line(alert, as_json) + "\n")


async def send_test(receiver: Receiver) -> bool:
    """One test notice through the receiver's URLs; True when it was accepted."""
    now = time.time_ns() // 1_000_000
    alert = Alert(ts=now, detector="test", key="test", state=AlertState.FIRING,
                  severity=Severity.INFO, ids=(), title="crosscurrent test notification",
                  title_zh="crosscurrent 测试通知", values={})
    notice = Notice(id=f"test-{now}", group="test", alerts=(alert,), ts=now)
    send = apprise_sender(receiver)
    return await asyncio.to_thread(send, title(notice, receiver.lang),
                                   body(notice, receiver.lang), Severity.INFO)


async def silence_command(url: str, keys: Keys, action: str, target: str | None,
                          duration: str, comment: str) -> list[str]:
    """The lines to print; ValueError for a bad matcher or duration."""
    now = time.time_ns() // 1_000_000
    redis = await connect(url)
    try:
        if action == "add":
            assert target is not None
            silence = new_silence(target, now, parse_duration(duration), comment)
            await save_silence(redis, keys, silence)
            until = datetime.fromtimestamp(silence.ends / 1000, tz=UTC)
            return [f"silence {silence.id} added: {silence.matchers} until "
                    f"{until:%Y-%m-%d %H:%M UTC}"]
        if action == "expire":
            assert target is not None
            if not await expire_silence(redis, keys, target, now):
                raise ValueError(f"no silence {target!r} (see `crosscurrent silence list`)")
            return [f"silence {target} expired"]
        lines = []
        for silence in await load_silences(redis, keys):
            state = "active" if silence.active(now) else "expired" if silence.ends <= now \
                else "pending"
            until = datetime.fromtimestamp(silence.ends / 1000, tz=UTC)
            lines.append(f"{silence.id}  {state:<7}  until {until:%Y-%m-%d %H:%M UTC}  "
                         f"{silence.matchers}  {silence.comment}".rstrip())
        return lines or ["no silences"]
    finally:
        await redis.aclose()
