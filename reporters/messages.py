"""Notification texts, read on a phone as the seed report reads: a title with a severity marker
and the finding in words ("🟠 WARNING Risk #2: crypto leverage liquidation"), then what was
seen and what to watch or what it means ("ETH +5.11% in 24 h on stretched funding; watch:
funding rates"), the alert's other figures named in words with their units and windows, and
the time in UTC; in English, Chinese or both.

Every figure is one the alert holds (its title, notes or values), never computed again here.
Internal names (alert keys, notice ids) appear on the last line only: the command that
silences the alerts, and the notice's reference (a receiver drops a reference it has seen: a
notice may be sent twice after a crash).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from crosscurrent.catalog import default_catalog
from crosscurrent.events import Alert, AlertState, Severity
from crosscurrent.formatting import money, signed
from crosscurrent.notify_config import Lang
from detectors.common import yi
from detectors.flows import CATEGORY_EN, CATEGORY_ZH
from reporters.lifecycle import Notice, severities

MARK = {Severity.INFO: "🔵", Severity.WARNING: "🟠", Severity.CRITICAL: "🔴"}
RESOLVED = "✅"
WORD = {Severity.INFO: ("INFO", "提示"), Severity.WARNING: ("WARNING", "警告"),
        Severity.CRITICAL: ("CRITICAL", "严重")}
LEVEL_ZH = {"High": "高", "Medium": "中", "Low": "低"}  # a risk's probability and impact


# -- the whole message ----------------------------------------------------------------------
def title(notice: Notice, lang: Lang) -> str:
    """The severity marker and word, and the headline of the notice's most severe alert."""
    firing = [a for a in notice.alerts if a.state == AlertState.FIRING]
    lead = _lead(notice.alerts)
    more = len(notice.alerts) - 1
    text_en = headline(lead) + (f" (+{more} more)" if more else "")
    text_zh = headline(lead, zh=True) + (f"(另 {more} 条)" if more else "")
    if not firing:  # the headline says "resolved"
        return f"{RESOLVED} {text_zh if lang == 'zh' else text_en}"
    top = severities(firing)
    en, zh = WORD[top]
    if lang == "en":
        return f"{MARK[top]} {en} {text_en}"
    if lang == "zh":
        return f"{MARK[top]} {zh} {text_zh}"
    return f"{MARK[top]} {en}/{zh} {text_en}"


def body(notice: Notice, lang: Lang) -> str:
    """One alert: its details under the title. Several: a block each, headed by its marker and
    headline. Then the time, and the reference line."""
    times = {_when(a.ts) for a in notice.alerts}
    if len(notice.alerts) == 1:
        alert = notice.alerts[0]
        lines = details(alert) if lang != "zh" else []
        if lang == "both":  # the title is in English
            lines.append(headline(alert, zh=True))
        lines += details(alert, zh=True) if lang != "en" else []
        lines = _once([headline(alert, zh=lang == "zh")], lines)  # a line the same once
        text = "\n".join([*lines, _when(alert.ts)])
    else:
        blocks = [_block(alert, lang, timed=len(times) > 1) for alert in notice.alerts]
        text = "\n\n".join(blocks + ([times.pop()] if len(times) == 1 else []))
    return f"{text}\n\n{reference([notice], lang)}"


def summary(notices: list[Notice], lang: Lang) -> tuple[str, str]:
    """Several notices that waited for a receiver, as one message: a line per alert change."""
    alerts = [a for n in notices for a in n.alerts]
    top = severities(alerts)
    en, zh = WORD[top]
    head_en = f"{MARK[top]} {en} {len(alerts)} alerts while this channel was unreachable"
    head_zh = f"{MARK[top]} {zh} 通道不可用期间的 {len(alerts)} 条告警"
    head = head_en if lang == "en" else head_zh if lang == "zh" else f"{head_en} / {head_zh}"
    lines = [f"{_mark(a)} {_when(a.ts, clock=True)} {headline(a, zh=lang == 'zh')}"
             for a in alerts]
    return head, "\n".join(lines) + f"\n\n{reference(notices, lang)}"


def reference(notices: Sequence[Notice], lang: Lang) -> str:
    """The last line: how to silence the firing alerts (their keys), and the notices'
    references."""
    zh = lang == "zh"
    keys = list(dict.fromkeys(a.key for n in notices for a in n.alerts
                              if a.state == AlertState.FIRING))
    refs = " ".join(n.id.split(":", 1)[0] for n in notices)  # less the receiver's name
    parts = []
    if keys:
        command = f"crosscurrent silence add {_shell(_matcher(keys))}"
        parts.append(f"静音:{command}" if zh else f"Silence with: {command}")
    parts.append(f"{'编号' if zh else 'refs' if len(notices) > 1 else 'ref'} {refs}")
    return " · ".join(parts)


# -- one alert ------------------------------------------------------------------------------
def headline(alert: Alert, zh: bool = False) -> str:
    """The finding in words: its title, or a risk's rank and name."""
    if _is_risk(alert):
        rank, notes = f"{alert.values['rank']:.0f}", alert.notes
        if zh:
            return f"风险 #{rank}:{notes.get('risk_zh') or notes['risk']}"
        return f"Risk #{rank}: {_lower_first(notes['risk'])}"
    return (alert.title_zh or alert.title) if zh else alert.title


def details(alert: Alert, zh: bool = False) -> list[str]:
    """What was seen and what it means (the alert's notes), then its other figures in words."""
    lines = _reading(alert, zh)
    said = _figures(alert, zh)
    return lines + ([said] if said else [])


def _details(alert: Alert, lang: Lang) -> list[str]:
    """The details in each language, a line the same in both (no Chinese text) once."""
    return _once([], [line for zh in _languages(lang) for line in details(alert, zh)])


def _once(said: list[str], lines: list[str]) -> list[str]:
    """`lines` less those in `said` and repeats."""
    return [line for line in dict.fromkeys(lines) if line not in said]


def _block(alert: Alert, lang: Lang, timed: bool) -> str:
    lines = [_header(alert, zh) for zh in _languages(lang)
             if not (zh and lang == "both" and headline(alert, zh) == headline(alert))]
    lines += ["  " + line for line in _details(alert, lang)]
    if timed:
        lines.append("  " + _when(alert.ts))
    return "\n".join(lines)


def _header(alert: Alert, zh: bool) -> str:
    if alert.state == AlertState.RESOLVED:
        return f"{RESOLVED} {headline(alert, zh)}"
    return f"{MARK[alert.severity]} {WORD[alert.severity][zh]} {headline(alert, zh)}"


def _reading(alert: Alert, zh: bool) -> list[str]:
    def note(name: str) -> str:
        return (alert.notes.get(f"{name}_zh") if zh else None) or alert.notes.get(name, "")

    if _is_risk(alert):
        seen, watch = note("explanation"), note("watch") or note("trigger")
        probability, impact = alert.notes.get("probability", ""), alert.notes.get("impact", "")
        if zh:
            lines = [f"{seen};关注:{watch}" if seen else f"关注:{watch}"]
            if probability and impact:
                lines.append(f"概率{LEVEL_ZH.get(probability, probability)},"
                             f"影响{LEVEL_ZH.get(impact, impact)}。")
        else:
            lines = [f"{seen}; watch: {watch}" if seen else f"Watch: {watch}"]
            if probability and impact:
                lines.append(f"Probability {probability.lower()}, impact {impact.lower()}.")
        return lines
    lines = [text for name in ("explanation", "implication", "assessment")
             if (text := note(name))]
    if alert.notes.get("rule"):
        lines.append(f"规则:{alert.notes['rule']}" if zh else f"Rule: {alert.notes['rule']}")
    return lines


# -- an alert's figures in words, by the detector's key ---------------------------------------
Say = Callable[[Alert, bool], str]


def _figures(alert: Alert, zh: bool) -> str:
    if not alert.values:
        return ""
    for prefix, say in FIGURES:
        if alert.key.startswith(prefix):
            try:
                return say(alert, zh)
            except KeyError:  # not the values this detector writes: named one by one
                break
    return _named(alert, zh)


def _named(alert: Alert, zh: bool) -> str:
    """Values of an alert this module does not know: each under its name, in words."""
    catalog = default_catalog()
    parts = []
    for name, value in alert.values.items():
        instrument = catalog.get(name)
        label = (instrument.zh if zh else instrument.en) if instrument else \
            name.replace("_", " ")
        parts.append(f"{label} {_number(value)}")
    return ", ".join(parts)


def _dex(alert: Alert, zh: bool) -> str:
    v = alert.values
    if zh:
        return f"为参考24小时成交额 {money(v['reference'])} 的 {v['ratio']:.1f} 倍"
    return f"{v['ratio']:.1f}x its reference 24 h volume of {money(v['reference'])}"


def _stablecoins(alert: Alert, zh: bool) -> str:
    v = alert.values
    parts = [f"{name[6:]} {_signed_money(value)}" for name, value in v.items()
             if name.startswith("delta_")]
    span = _span(v)
    if zh:
        return (f"{span} " if span else "") + ",".join(parts)
    return ", ".join(parts) + (f" in {span}" if span else "")


def _tvl(alert: Alert, zh: bool) -> str:
    v = alert.values
    span = _span(v)
    if zh:
        return (f"{span} " if span else "") + f"锁仓量变化 {_signed_money(v['delta'])}"
    return f"TVL {_signed_money(v['delta'])}" + (f" in {span}" if span else "")


def _rotation(alert: Alert, zh: bool) -> str:
    v, notes = alert.values, alert.notes
    names = CATEGORY_ZH if zh else CATEGORY_EN
    gains = [f"{names.get(name[7:], name[7:])} {signed(value)}" for name, value in v.items()
             if name.startswith("change_")]
    if zh:
        return f"{notes.get('source_zh', '')}锁仓量 {_signed_money(v['delta'])};" + \
            ",".join(gains)
    return f"{notes.get('source', '')} TVL {_signed_money(v['delta'])}; " + ", ".join(gains)


def _divergence(alert: Alert, zh: bool) -> str:
    v = alert.values
    if zh:
        parts = [_changes(alert, zh)]
        if "usual_gap" in v:
            parts.append(f"通常相差 {v['usual_gap']:.2f} 个百分点(现为 {v['z']:g} 倍)")
        parts.append(f"警告阈值 {v['warn']:.2f} 个百分点,严重阈值 {v['critical']:.2f} 个百分点")
        return " · ".join(parts)
    parts = [_changes(alert, zh)]
    if "usual_gap" in v:
        parts.append(f"usual gap {v['usual_gap']:.2f} pp (now {v['z']:g}x)")
    parts.append(f"warning from {v['warn']:.2f} pp, critical from {v['critical']:.2f} pp")
    return " · ".join(parts)


def _chain(alert: Alert, zh: bool) -> str:
    said = "各市场自前收盘以来的涨跌" if zh else "Each market's change since its previous close"
    missing = alert.notes.get("missing")
    if not missing:
        return said
    catalog = default_catalog()
    gaps = []
    for part in missing.split("; "):  # "HK: hk:HSTECH; A-share: no data"
        node, _, ids = part.partition(": ")
        if ids == "no data":
            gaps.append(f"{node}暂无数据" if zh else f"{node} has no data yet")
        else:
            names = [(i.zh if zh else i.en) if (i := catalog.get(x)) else x
                     for x in ids.split(", ")]
            gaps.append(f"{node}未计入{'、'.join(names)}" if zh else
                        f"{node} counted without {', '.join(names)}")
    return f"{said};{','.join(gaps)}" if zh else f"{said}; {', '.join(gaps)}"


def _turnover(alert: Alert, zh: bool) -> str:
    v = alert.values
    if zh:
        return f"交易时段已过 {v['elapsed'] * 100:.0f}%;平常全天 {yi(v['average'])}"
    return f"{v['elapsed'] * 100:.0f}% of the session gone; a usual full day " \
           f"{yi(v['average'])} CNY"


def _funding(alert: Alert, zh: bool) -> str:
    v = alert.values
    warn, critical = f"{v['warn'] * 100:g}%", f"{v['critical'] * 100:g}%"
    if zh:
        return f"警告阈值每8小时 {warn},严重阈值每8小时 {critical}"
    return f"Warning from {warn} per 8 h, critical from {critical} per 8 h"


def _liquidation(alert: Alert, zh: bool) -> str:
    v = alert.values
    move, stretched = f"{v['move_pct']:g}%", f"{v['stretched'] * 100:g}%"
    if zh:
        return f"触发条件:24小时涨跌超过 {move},且同向资金费率不低于每8小时 {stretched}"
    return f"Fires on a 24 h move beyond {move} with funding of {stretched} per 8 h or " \
           "more the same way"


def _large_move(alert: Alert, zh: bool) -> str:
    v = alert.values
    window, window_zh = _window(alert)
    if zh:
        return f"{window_zh}涨跌;现价 {v['price']:,.2f};严重阈值 {v['critical']:.2f}%"
    return f"Change {window}; now {v['price']:,.2f}; critical beyond {v['critical']:.2f}%"


def _level_break(alert: Alert, zh: bool) -> str:
    return f"现价 {alert.values['price']:,.2f}" if zh else \
        f"Now {alert.values['price']:,.2f}"


def _macro(alert: Alert, zh: bool) -> str:
    return _changes(alert, zh)


def _nothing(alert: Alert, zh: bool) -> str:
    return ""  # its title says it all


FIGURES: tuple[tuple[str, Say], ...] = (
    ("flows:dex:", _dex), ("flows:stablecoins", _stablecoins), ("flows:tvl:", _tvl),
    ("flows:category:", _nothing), ("flows:rotation:", _rotation),
    ("divergence:", _divergence), ("chain:", _chain), ("breadth:turnover", _turnover),
    ("breadth:", _nothing), ("leverage:funding:", _funding),
    ("leverage:liquidation:", _liquidation), ("large_move:", _large_move),
    ("level_break:", _level_break), ("macro:", _macro), ("synthesis:", _nothing),
)


# -- small pieces ---------------------------------------------------------------------------
def _is_risk(alert: Alert) -> bool:
    return alert.detector == "synthesis" and "rank" in alert.values and "risk" in alert.notes


def _lead(alerts: Sequence[Alert]) -> Alert:
    """The alert a notice's title names: the first of the highest severity still firing."""
    firing = [a for a in alerts if a.state == AlertState.FIRING]
    if not firing:
        return alerts[0]
    top = severities(firing)
    return next(a for a in firing if a.severity == top)


def _mark(alert: Alert) -> str:
    return RESOLVED if alert.state == AlertState.RESOLVED else MARK[alert.severity]


def _languages(lang: Lang) -> tuple[bool, ...]:
    """Which texts, as `zh` flags: English, Chinese or both."""
    return (False,) if lang == "en" else (True,) if lang == "zh" else (False, True)


def _lower_first(text: str) -> str:
    """"Crypto leverage liquidation" -> "crypto leverage liquidation"; "HK/A-share ..." and
    "RWA ..." stay."""
    word = text.split(" ", 1)[0]
    return text[0].lower() + text[1:] if word[1:].islower() and word[0].isupper() else text


def _when(ts: int, clock: bool = False) -> str:
    at = datetime.fromtimestamp(ts / 1000, tz=UTC)
    return f"{at:%H:%M} UTC" if clock else f"{at:%Y-%m-%d %H:%M} UTC"


def _window(alert: Alert) -> tuple[str, str]:
    """A price change's window: 24 h for crypto, else since the previous close."""
    found = default_catalog().get(alert.ids[0]) if alert.ids else None
    if found is not None and found.region == "crypto":
        return "in 24 h", "24小时"
    return "since previous close", "自前收盘以来"


def _changes(alert: Alert, zh: bool) -> str:
    """The window of an alert's price changes: since the previous close, which for crypto
    is the price 24 h before."""
    catalog = default_catalog()
    crypto = [i.region == "crypto" if (i := catalog.get(x)) else False for x in alert.ids]
    if crypto and all(crypto):
        return "24小时涨跌" if zh else "Changes in 24 h"
    if any(crypto):
        return "自前收盘以来的涨跌(加密货币为24小时)" if zh else \
            "Changes since previous close (24 h for crypto)"
    return "自前收盘以来的涨跌" if zh else "Changes since previous close"


def _span(values: dict[str, float]) -> str:
    """The window a flows alert measured over ("13 h"), as its title says it."""
    return f"{round(values['window_h'], 1):g} h" if "window_h" in values else ""


def _signed_money(value: float) -> str:
    return ("+" if value > 0 else "") + money(value)


def _number(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value:,.0f}"
    return f"{value:,.6g}"


def _matcher(keys: Sequence[str]) -> str:
    """The matcher of these alert keys, its values quoted as in a shell when they have
    spaces: `key='synthesis:risk:Crypto leverage liquidation'`."""
    return f"key={shlex.quote(','.join(keys))}"


def _shell(term: str) -> str:
    """A matcher as one shell word: as it is when it needs no quoting, else in double quotes
    (it keeps the matcher's own single quotes), else quoted by shlex."""
    if shlex.quote(term) == term:
        return term
    if not any(c in term for c in '"$`\\!'):
        return f'"{term}"'
    return shlex.quote(term)
