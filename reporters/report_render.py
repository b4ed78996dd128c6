"""The report as Markdown, self-contained HTML (inline CSS, SVG charts) and JSON."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from typing import Any

import orjson

from crosscurrent.facts import SINCE_PREVIOUS_CLOSE
from crosscurrent.formatting import compact, pct
from crosscurrent.notify_config import Lang
from reporters import charts
from reporters.report_model import Report, Row

CATEGORY = {"rwa": "RWA / tokenized treasuries", "liquid-staking": "liquid staking",
            "bridge": "bridges", "dex": "DEX", "lending": "lending"}


def _num(value: float | None) -> str:
    return "n/a" if value is None else compact(value)


def _say(lang: Lang, en: str, zh: str) -> str:
    return en if lang == "en" else zh if lang == "zh" else f"{en} / {zh}" if zh and zh != en \
        else en


def _rows(items: list[Row], lang: Lang, first: str = "Instrument"
          ) -> tuple[list[str], list[list[str]]]:
    """Instruments with their last value and change; the change's window in its header when
    the rows share one, else in a column of its own."""
    windows = sorted({r.window for r in items if r.change is not None})
    own = len(windows) > 1
    header = [first, "Last", f"Change, {windows[0]}" if len(windows) == 1 else "Change"]
    body = [[r.name_zh if lang == "zh" else r.name, _num(r.last), r.change_note or pct(r.change)]
            + ([r.window] if own else []) for r in items]
    return header + (["Window"] if own else []), body


def sections(report: Report, lang: Lang) -> list[tuple[str, list[Any]]]:
    """The seed's sections in its order: (heading, blocks); a block is a paragraph (str) or a
    table (header row, rows)."""
    out: list[tuple[str, list[Any]]] = []

    def rows(items: list[Row]) -> tuple[list[str], list[list[str]]]:
        return _rows(items, lang)

    insight = report.key_insight
    note = ["(rewritten by a language model from the findings; its numbers were checked)"] \
        if insight.source == "llm" else []
    out.append(("1. Key Insight", [_say(lang, insight.en, insight.zh), *note]))
    chain = report.chain
    table = (["Market", f"Move, {chain.window}", "Direction"],
             [[_say(lang, n.name, n.name_zh), pct(n.move), n.direction or "n/a"]
              for n in chain.nodes])
    unknown = [n.name for n in chain.nodes if n.move is None]
    verdict = (f"The chain is broken at the {chain.broken_at} node." if chain.broken_at
               else f"Chain: {chain.pattern}." if chain.pattern else
               f"No transmission signal: no moves for {', '.join(unknown)} (see missing "
               "data)." if unknown else "No transmission signal (the first node was flat).")
    macro = report.macro
    regime = [_say(lang, f"Macro regime: {macro.regime} ({macro.numbers}) — {macro.reading}.",
                   f"宏观风险状态:{macro.regime_zh}({macro.numbers_zh})——"
                   f"{macro.reading_zh}。")] if macro else []
    out.append(("2. Global Risk Sentiment: Transmission Chain", [
        table, verdict, _say(lang, chain.assessment, chain.assessment_zh), *regime]))
    crypto = report.crypto
    blocks: list[Any] = [rows(crypto.assets + crypto.stablecoins)]
    if crypto.stablecoin_net is not None:
        net = crypto.stablecoin_net
        blocks.append(f"Stablecoin net {'issuance' if net >= 0 else 'redemption'}, "
                      f"{crypto.stablecoin_window}: {_num(abs(net))} USD"
                      f"{' (fresh inflow)' if net > 0 else ''}.")
    if crypto.tvl_categories:
        spans = {c.window for c in crypto.tvl_categories}
        blocks.append(([
            "TVL category", "Change" + (f", {next(iter(spans))}" if len(spans) == 1 else ""),
            "Flow (USD)"],
            [[CATEGORY.get(c.category, c.category), pct(c.change), _num(c.delta)]
             for c in crypto.tvl_categories]))
    if crypto.dex:
        blocks.append(_rows(crypto.dex, lang, "DEX 24 h volume"))
    if crypto.funding:
        blocks.append("Funding (per 8 h): " + ", ".join(
            f"{f.name} {f.last * 100:.4f}%" for f in crypto.funding))
    out.append(("3. Crypto & DeFi", blocks))
    us: list[Any] = [rows(report.us)] if report.us else ["No US data."]
    if macro:
        us.append((["Macro", "Level", "Move"], [[_say(lang, q.label, q.label_zh), q.level,
                                                 q.move] for q in macro.quotes]))
    heading = "4. US Market"
    if narrative := report.us_narrative:
        heading += ": " + _say(lang, narrative.headline, narrative.headline_zh)
        us.append(_say(lang, narrative.en, narrative.zh))
    out.append((heading, us))
    out.append(("5. Hong Kong Market", [rows(report.hk)] if report.hk else
                ["No Hong Kong data."]))
    a_share = report.a_share
    blocks = [rows(a_share.indices)]
    if a_share.breadth:
        blocks.append(f"Advancers : decliners {a_share.breadth.text}")
    if a_share.turnover is not None:
        blocks.append(f"Turnover {a_share.turnover / 1e12:.2f} trillion CNY "
                      f"({a_share.turnover / 1e12:.2f}万亿)")
    blocks.append("Northbound flow: " + (f"{_num(a_share.northbound)} CNY"
                  if a_share.northbound is not None else
                  "not available (not published in real time); see Missing data"))
    out.append(("6. A-Share Market", blocks))
    windows = sorted({d.window for d in report.divergences})
    out.append(("7. Cross-Market Divergences", [(
        ["Divergence", "Magnitude" + (f", {windows[0]}" if len(windows) == 1 else ""),
         "Explanation", "Implication"],
        [[_say(lang, d.label, d.label_zh),
          d.magnitude + (f" ({d.window})" if len(windows) > 1 else ""),
          _say(lang, d.explanation, d.explanation_zh),
          _say(lang, d.implication, d.implication_zh)] for d in report.divergences],
    )] if report.divergences else ["No divergence beyond its threshold today."]))
    out.append((f"8. Capital Flow Map (figures as of {report.as_of_text})", [(
        ["Source", "Destination", "Mechanism"],
        [[_say(lang, r.source, r.source_zh), _say(lang, r.destination, r.destination_zh),
          _say(lang, r.mechanism, r.mechanism_zh)] for r in report.flow_map],
    )] if report.flow_map else ["No co-moving flows today."]))
    out.append(("9. Risk Matrix", [(
        ["Rank", "Risk", "Probability", "Impact", "Trigger to Watch"],
        [[str(n), _say(lang, r.risk, r.risk_zh), r.probability, r.impact,
          _say(lang, r.trigger, r.trigger_zh)] for n, r in enumerate(report.risks, start=1)],
    )] if report.risks else ["No active risk."]))
    out.append(("10. Action Plan", [(
        ["Profile", "Recommendation", "Rationale"],
        [[_say(lang, p.profile, p.profile_zh), _say(lang, p.recommendation,
                                                     p.recommendation_zh),
          _say(lang, p.rationale, p.rationale_zh)] for p in report.action_plan])]))
    if report.missing:
        out.append(("Missing data", [(["Missing", "What it prevents concluding"],
                                      [[m.what, m.prevents] for m in report.missing])]))
    return out


def markdown(report: Report, lang: Lang = "both") -> str:
    lines = [f"# Market Intelligence Report — {report.date}", ""]
    for heading, blocks in sections(report, lang):
        lines += [f"## {heading}", ""]
        for block in blocks:
            if isinstance(block, str):
                if block:
                    lines += [block, ""]
                continue
            header, rows = block
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
                      for row in rows]
            lines.append("")
    lines += [report.disclaimer.en, "", report.disclaimer.zh, ""]
    return "\n".join(lines)


# Responsive: the page never scrolls sideways. Charts (SVG, charts.W units wide, their font
# sizes in those units) scale to the width, two a row where there is room; table cells wrap;
# on a narrow screen a table of four columns or more shows its rows as cards (`_table`), and
# any table still too wide scrolls in its own box.
CSS = """*,*::before,*::after{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","WenQuanYi Micro Hei",
sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#111}h1{font-size:1.6em}
h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}p,td,th{overflow-wrap:break-word}
.table{overflow-x:auto;margin:.6em 0}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f5}.charts{display:grid;gap:.6em 1.6em;margin:.8em 0;
grid-template-columns:repeat(auto-fill,minmax(min(100%,400px),1fr))}
svg.chart{display:block;width:100%;height:auto}.t{font-weight:600;font-size:15px;fill:#111}
.ax{font-size:12px;fill:#374151}.l{font-size:12px}.a{font-size:11px;fill:#4b5563}
.g{stroke:#e5e7eb}.axis,.tick{stroke:#6b7280}.zero{stroke:#6b7280;stroke-dasharray:3 3}
.disclaimer{color:#555;font-size:13px}
@media (max-width:600px){body{margin:1em auto;padding:0 .75em}table{font-size:13px}
th,td{padding:3px 5px}h1{font-size:1.4em}.cards,.cards tbody,.cards tr,.cards td{display:block}
.cards thead{display:none}.cards tr{border:1px solid #ddd;margin:.5em 0}
.cards td{border:0;border-top:1px solid #eee}.cards td:first-child{border:0;font-weight:600}
.cards td::before{content:attr(data-label);display:block;font-size:11px;font-weight:400;
color:#6b7280}}
"""


REGION = {"us": ("US", "美股"), "hk": ("HK", "港股"), "cn": ("A-share", "A股"),
          "crypto": ("Crypto", "加密货币")}
HOURS_TO = re.compile(r"(?P<hours>[\d.]+) h to (?P<utc>\d\d:\d\dZ) \((?P<hkt>\d\d:\d\d) HKT\)")


def window_zh(window: str) -> str:
    """A change's window in Chinese: "since previous close" or "24 h to 08:00Z (16:00 HKT)"."""
    if window == SINCE_PREVIOUS_CLOSE:
        return "较前收盘"
    if found := HOURS_TO.fullmatch(window):
        return f"截至 {found['utc']}(香港时间 {found['hkt']})的 {found['hours']} 小时"
    return window


def _change_label(lang: Lang, windows: set[str], what: str = "", what_zh: str = "") -> str:
    """A percentage axis: "% change, since previous close / 涨跌幅(%),较前收盘"."""
    window = next(iter(windows)) if len(windows) == 1 else ""
    en = f"% change{' of ' + what if what else ''}" + (f", {window}" if window else "")
    zh = f"{what_zh}涨跌幅(%)" + (f",{window_zh(window)}" if window else "")
    return _say(lang, en, zh)


def figures(report: Report, lang: Lang) -> dict[str, list[str]]:
    """The charts of the sections, by section number: every axis labelled with its unit and
    the change's window, in the report's language."""
    time_label = _say(lang, "time (UTC)", "时间(UTC)")
    intraday = []
    for region, data in report.intraday.items():
        en, zh = REGION.get(region, (region.upper(), region.upper()))
        windows = {row.window for short in data
                   if (row := report.markets.get(f"{region}:{short}")) and row.window}
        intraday.append(charts.lines(_say(lang, f"{en} intraday", f"{zh}日内走势"), data,
                                     y_label=_change_label(lang, windows), x_label=time_label))
    moved = [r for i, r in report.markets.items()
             if r.change is not None and any(i in d.key for d in report.divergences)]
    windows = {r.window for r in moved}
    notes = [] if len(windows) < 2 else [  # which window is whose
        _say(lang, f"{window}: " + ", ".join(r.name for r in moved if r.window == window),
             f"{window_zh(window)}:" + "、".join(r.name_zh for r in moved if r.window == window))
        for window in sorted(windows)]
    tvl = report.crypto.tvl_categories
    return {
        "2.": intraday,
        "3.": [charts.bars(
            _say(lang, "TVL by category", "各类别 TVL"),
            [(CATEGORY.get(c.category, c.category), c.change) for c in tvl],
            x_label=_change_label(lang, {c.window for c in tvl}, "TVL", "TVL "),
            y_label=_say(lang, "TVL category", "TVL 类别"))],
        "7.": [charts.bars(
            _say(lang, "Changes behind the divergences", "背离所涉品种的涨跌幅"),
            [(r.name_zh if lang == "zh" else r.name, r.change) for r in moved
             if r.change is not None],
            x_label=_change_label(lang, windows), y_label=_say(lang, "instrument", "品种"),
            notes=notes)],
    }


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A table in a box of its own; one of four columns or more (`cards`) shows each row as
    a card of labelled cells on a narrow screen, where its columns would not fit."""
    cards = ' class="cards"' if len(header) >= 4 else ""
    return (f'<div class="table"><table{cards}><thead><tr>'
            + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f'<td data-label="{escape(h)}">{escape(c)}</td>'
                                       for h, c in zip(header, row, strict=False)) + "</tr>"
                      for row in rows) + "</tbody></table></div>")


def html(report: Report, lang: Lang = "both") -> str:
    parts = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
             f"<title>Market Intelligence Report — {escape(report.date)}</title>",
             f"<style>{CSS}</style></head><body>",
             f"<h1>Market Intelligence Report — {escape(report.date)}</h1>"]
    charted = figures(report, lang)
    for heading, blocks in sections(report, lang):
        parts.append(f"<h2>{escape(heading)}</h2>")
        for block in blocks:
            if isinstance(block, str):
                if block:
                    parts.append(f"<p>{escape(block)}</p>")
                continue
            header, rows = block
            parts.append(_table(header, rows))
        if drawn := [svg for svg in charted.get(heading.split(" ", 1)[0], []) if svg]:
            parts.append('<div class="charts">' + "".join(drawn) + "</div>")
    parts.append(f"<p class=\"disclaimer\">{escape(report.disclaimer.en)}<br>"
                 f"{escape(report.disclaimer.zh)}</p></body></html>")
    return "".join(parts)


def write(report: Report, out: Path, lang: Lang = "both") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"report.md": markdown(report, lang).encode(), "report.html": html(report, lang)
             .encode(), "report.json": orjson.dumps(report.model_dump(mode="json"),
                                                    option=orjson.OPT_INDENT_2)}
    paths = []
    for name, data in files.items():
        (out / name).write_bytes(data)
        paths.append(out / name)
    return paths
