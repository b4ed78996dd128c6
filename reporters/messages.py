"""Notification texts: a title with a severity marker, then one block per alert with what
changed, the numbers and the notes, in English, Chinese or both."""

from __future__ import annotations

from datetime import UTC, datetime

from crosscurrent.events import Alert, AlertState, Severity
from crosscurrent.notify_config import Lang
from reporters.lifecycle import Notice, severities

MARK = {Severity.INFO: "🔵", Severity.WARNING: "🟠", Severity.CRITICAL: "🔴"}
WORD = {Severity.INFO: ("INFO", "提示"), Severity.WARNING: ("WARNING", "警告"),
        Severity.CRITICAL: ("CRITICAL", "严重")}


def _number(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value:,.0f}"
    return f"{value:.6g}"


def title(notice: Notice, lang: Lang) -> str:
    top = severities(notice.alerts)
    en, zh = WORD[top]
    count = len(notice.alerts)
    first = notice.alerts[0]
    text_en = first.title if count == 1 else f"{count} alerts: {first.title}"
    text_zh = (first.title_zh or first.title) if count == 1 else \
        f"{count} 条告警:{first.title_zh or first.title}"
    if lang == "en":
        return f"{MARK[top]} {en} {text_en}"
    if lang == "zh":
        return f"{MARK[top]} {zh} {text_zh}"
    return f"{MARK[top]} {en}/{zh} {text_en}"


def block(alert: Alert, lang: Lang) -> list[str]:
    when = datetime.fromtimestamp(alert.ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    en, zh = WORD[alert.severity]
    resolved = alert.state == AlertState.RESOLVED
    state_en, state_zh = ("resolved", "已解除") if resolved else ("firing", "触发")
    lines = []
    if lang in ("en", "both"):
        lines.append(f"{MARK[alert.severity]} [{en}, {state_en}] {alert.title}")
    if lang in ("zh", "both"):
        lines.append(f"{MARK[alert.severity]} [{zh},{state_zh}] {alert.title_zh or alert.title}")
    for name in ("explanation", "implication", "assessment", "rule"):
        for suffix in (("",) if lang == "en" else ("_zh",) if lang == "zh" else ("", "_zh")):
            text = alert.notes.get(name + suffix)
            if text:
                lines.append(f"  {text}")
    if alert.values:
        lines.append("  " + ", ".join(f"{k} {_number(v)}" for k, v in alert.values.items()))
    lines.append(f"  {alert.key} · {when}")
    return lines


def body(notice: Notice, lang: Lang) -> str:
    blocks = ["\n".join(block(alert, lang)) for alert in notice.alerts]
    return "\n\n".join(blocks) + f"\n\n(crosscurrent notice {notice.id})"
