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


def summary(notices: list[Notice], lang: Lang) -> tuple[str, str]:
    """Several notices that waited for a receiver, as one message: a line per alert change."""
    alerts = [a for n in notices for a in n.alerts]
    top = severities(alerts)
    en, zh = WORD[top]
    head_en = f"{MARK[top]} {en} {len(alerts)} alerts while this channel was unreachable"
    head_zh = f"{MARK[top]} {zh} 通道不可用期间的 {len(alerts)} 条告警"
    head = head_en if lang == "en" else head_zh if lang == "zh" else f"{head_en} / {head_zh}"
    lines = []
    for alert in alerts:
        when = datetime.fromtimestamp(alert.ts / 1000, tz=UTC).strftime("%H:%M")
        state = "resolved" if alert.state == AlertState.RESOLVED else "firing"
        text = alert.title_zh or alert.title if lang == "zh" else alert.title
        lines.append(f"{MARK[alert.severity]} {when} {state} {text} · {alert.key}")
    ids = " ".join(n.id for n in notices)
    return head, "\n".join(lines) + f"\n\n(crosscurrent notices {ids})"
