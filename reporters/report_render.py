"""The report as Markdown, self-contained HTML (inline CSS, SVG charts) and JSON."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import orjson

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


CSS = """body{font:15px/1.5 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;
max-width:980px;margin:2em auto;padding:0 1em;color:#111}h1{font-size:1.6em}
h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}table{border-collapse:collapse;
margin:.6em 0;width:100%}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f4f4f5}svg{width:100%;height:auto;margin:.4em 0}.t{font-weight:600;font-size:13px}
.a,.l{font-size:11px}.zero{stroke:#999;stroke-dasharray:3 3}.disclaimer{color:#555;font-size:13px}
"""


def html(report: Report, lang: Lang = "both") -> str:
    parts = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>Market Intelligence Report — {escape(report.date)}</title>",
             f"<style>{CSS}</style></head><body>",
             f"<h1>Market Intelligence Report — {escape(report.date)}</h1>"]
    tvl = report.crypto.tvl_categories
    figures = {  # by section number
        "2.": [charts.lines(f"{region.upper()} intraday (vs previous close)", data)
               for region, data in report.intraday.items()],
        "7.": [charts.bars("Changes behind the divergences (since previous close)", [
            (r.name, r.change) for i, r in report.markets.items()
            if r.change is not None and any(i in d.key for d in report.divergences)])],
        "3.": [charts.bars(f"TVL by category ({tvl[0].window if tvl else '24 h'})", [
            (CATEGORY.get(c.category, c.category), c.change) for c in tvl])],
    }
    for heading, blocks in sections(report, lang):
        parts.append(f"<h2>{escape(heading)}</h2>")
        for block in blocks:
            if isinstance(block, str):
                if block:
                    parts.append(f"<p>{escape(block)}</p>")
                continue
            header, rows = block
            parts.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header)
                         + "</tr>" + "".join("<tr>" + "".join(f"<td>{escape(c)}</td>"
                                                               for c in row) + "</tr>"
                                             for row in rows) + "</table>")
        parts += [svg for svg in figures.get(heading.split(" ", 1)[0], []) if svg]
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
