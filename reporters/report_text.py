"""The report's narrative: deterministic templates over the findings, in English and Chinese.
Every number in the text comes from the report data; nothing is made up."""

from __future__ import annotations

from crosscurrent.catalog import default_catalog
from crosscurrent.formatting import pct
from reporters.report_model import Insight, Plan, Report, UsNarrative

DISCLAIMER_EN = ("This report is generated automatically from market data and detector "
                 "findings, for information only; it is not investment advice. Markets carry "
                 "risk.")
DISCLAIMER_ZH = ("本报告由程序根据市场数据与检测结果自动生成,仅供参考,不构成投资建议。"
                 "市场有风险,投资需谨慎。")


def disclaimer() -> dict[str, str]:
    return {"en": DISCLAIMER_EN, "zh": DISCLAIMER_ZH}


def key_insight(report: Report) -> Insight:
    nodes = {n.name: n for n in report.chain.nodes}
    us = nodes["US"].move if "US" in nodes else None
    hstech, btc, eth = (report.change(i) for i in ("hk:HSTECH", "crypto:BTC", "crypto:ETH"))
    broken = report.chain.broken_at
    if btc is not None and hstech is not None and btc > 0 > hstech:
        en = (f"Crypto is decoupling from Asia's risk tone: US equities closed {pct(us)} on "
              f"average, Hong Kong tech fell {pct(hstech)}, while BTC rose {pct(btc)} and ETH "
              f"{pct(eth)}. ")
        zh = (f"加密货币与亚洲风险情绪脱钩:美股平均收涨 {pct(us)},港股科技下跌 {pct(hstech)},"
              f"而 BTC 上涨 {pct(btc)}、ETH 上涨 {pct(eth)}。")
        if broken:
            broken_zh = nodes[broken].name_zh if broken in nodes else broken
            en += (f"The transmission chain broke at the {broken} node: the divergence suggests "
                   "capital rotating into crypto, not a synchronized risk-on move.")
            zh += (f"传导链在{broken_zh}节点断裂:这种背离显示资金轮动至加密货币,"
                   "而非同步的风险偏好上升。")
        return Insight(en=en, zh=zh)
    pattern = report.chain.pattern
    if pattern == "intact:risk-off":
        moves = ", ".join(f"{n.name} {pct(n.move)}" for n in report.chain.nodes)
        return Insight(en=f"A synchronized risk-off day: {moves}; crypto BTC {pct(btc)}.",
                       zh=f"全球同步避险:{moves};加密货币 BTC {pct(btc)}。")
    movers = sorted((r for r in report.markets.values() if r.change is not None
                     and not r.id.startswith(("cn:ADV", "cn:DEC", "cn:TURN", "funding:"))),
                    key=lambda r: -abs(r.change or 0.0))[:3]
    listed = ", ".join(f"{r.name} {pct(r.change)}" for r in movers)
    listed_zh = ",".join(f"{r.name_zh} {pct(r.change)}" for r in movers)
    return Insight(en=f"No dominant cross-market theme; the largest moves: {listed}.",
                   zh=f"今日无明显跨市场主线;波动最大:{listed_zh}。")


def action_plan(report: Report) -> list[Plan]:
    risks = {r.risk for r in report.risks}
    labels = {d.label for d in report.divergences}
    btc, eth, hstech = (report.change(i) for i in ("crypto:BTC", "crypto:ETH", "hk:HSTECH"))
    crypto_up = btc is not None and btc > 0
    plan = []
    conservative = ["Hold positions; no finding calls for a change"]
    conservative_zh = ["维持仓位;无需调整"]
    if "HK/A-share correlation breakdown" in risks:
        conservative = [f"Reduce Hong Kong tech exposure (HSTECH {pct(hstech)})"]
        conservative_zh = [f"降低港股科技敞口(恒生科技 {pct(hstech)})"]
    if "RWA DeFi contagion" in risks:
        conservative.append("hold plain stablecoins rather than tokenized treasuries until RWA "
                            "outflows stop")
        conservative_zh.append("RWA 流出停止前持有普通稳定币而非代币化国债")
    plan.append(Plan(profile="Conservative", profile_zh="保守",
                     recommendation="; ".join(conservative),
                     recommendation_zh=";".join(conservative_zh),
                     rationale=", ".join(sorted(risks)) or "no active risk",
                     rationale_zh="依据风险矩阵" if risks else "无活跃风险"))
    if crypto_up:
        moderate = f"Add BTC/ETH on dips (BTC {pct(btc)}, ETH {pct(eth)})"
        moderate_zh = f"回调时增持 BTC/ETH(BTC {pct(btc)},ETH {pct(eth)})"
        if "Crypto leverage liquidation" in risks:
            moderate += ", sized for a leverage flush"
            moderate_zh += ",仓位需考虑去杠杆风险"
    else:
        moderate, moderate_zh = "Stay balanced; wait for direction", "保持均衡,等待方向"
    inflow = crypto_up and (report.crypto.stablecoin_net or 0) > 0
    plan.append(Plan(profile="Moderate", profile_zh="稳健", recommendation=moderate,
                     recommendation_zh=moderate_zh,
                     rationale="crypto momentum with fresh stablecoin inflow" if inflow
                     else "no clear momentum",
                     rationale_zh="加密货币动能叠加稳定币净流入" if inflow else "动能不明"))
    aggressive, aggressive_zh = [], []
    if "ETH vs BTC" in labels and eth is not None and btc is not None and eth > btc:
        aggressive.append("long ETH/BTC")
        aggressive_zh.append("做多 ETH/BTC")
    if "Crypto vs HK tech" in labels and crypto_up and hstech is not None and hstech < 0:
        aggressive.append("long crypto against short HSTECH")
        aggressive_zh.append("做多加密货币、做空恒生科技")
    dex = [d for d in report.crypto.dex if (d.change or 0) > 100]
    diverging = bool(aggressive)
    if dex:
        aggressive.append("deploy to the busiest DEXs (" + ", ".join(
            d.name.removesuffix(" 24h volume") for d in dex) + ")")
        aggressive_zh.append("部署至最活跃的 DEX")
    why = [w for w, on in (("the day's largest divergences", diverging),
                           ("DEX volumes more than doubled", bool(dex))) if on]
    why_zh = [w for w, on in (("当日最大的背离", diverging),
                              ("DEX 成交量翻倍以上", bool(dex))) if on]
    plan.append(Plan(profile="Aggressive", profile_zh="激进",
                     recommendation="; ".join(aggressive) or "no high-conviction trade today",
                     recommendation_zh=";".join(aggressive_zh) or "今日无高确定性交易",
                     rationale="; ".join(why), rationale_zh=";".join(why_zh)))
    return plan


FLAT = 0.2  # percent: an average index move smaller than this is a flat day
HEADLINES = {  # (equities up / down / flat, regime) -> headline
    ("up", "calm"): ("Steady Gains, Calm Volatility", "稳步上涨,波动平静"),
    ("up", "elevated"): ("Gains on Nervous Ground", "上涨但波动升温"),
    ("up", "stressed"): ("A Relief Rally Under Stress", "紧张中的反弹"),
    ("down", "calm"): ("A Quiet Pullback", "温和回调"),
    ("down", "elevated"): ("Risk-Off, Volatility Rising", "避险,波动升温"),
    ("down", "stressed"): ("Risk-Off, Volatility Stressed", "避险,市场紧张"),
    ("flat", "calm"): ("A Flat, Quiet Session", "窄幅震荡,波动平静"),
    ("flat", "elevated"): ("Flat Equities, Volatility Rising", "股指持平,波动升温"),
    ("flat", "stressed"): ("Flat Equities, Volatility Spiking", "股指持平,波动急升"),
}
RATES_AND_DOLLAR = ("macro:VIX", "macro:US10Y", "macro:DXY")
CONDITIONS = {
    "tighter": ("tighter financial conditions, a headwind for Hong Kong and emerging-market "
                "flows", "金融条件收紧,不利于港股与新兴市场资金"),
    "easier": ("easier financial conditions, a tailwind for Asian risk",
               "金融条件放松,利好亚洲风险资产"),
    "steady": ("no pressure from rates or the dollar", "利率与美元未形成压力"),
}


def us_narrative(report: Report) -> UsNarrative | None:
    """The US section's headline and paragraph: the indices (not the user's own stocks), VIX,
    the 10-year yield and the dollar, and what they say about the transmission chain; None
    without US indices."""
    catalog = default_catalog()  # the indices: a user's own stocks are not "US equities"
    changes = [(r, r.change) for r in report.us
               if r.change is not None and catalog[r.id].asset == "index"]
    if not changes:
        return None
    average = sum(c for _, c in changes) / len(changes)
    lead = max(changes, key=lambda rc: rc[1])[0]
    lag = min(changes, key=lambda rc: rc[1])[0]
    up = average > 0
    trend = "flat" if abs(average) < FLAT else "up" if up else "down"
    said, said_zh = {"up": ("up", "上涨"), "down": ("down", "下跌"),
                     "flat": ("flat", "持平")}[trend]
    spread = spread_zh = ""
    if len(changes) > 1:
        spread = (f"; {lead.name} {pct(lead.change)} the strongest, {lag.name} "
                  f"{pct(lag.change)} the weakest")
        spread_zh = (f";{lead.name_zh} {pct(lead.change)} 最强,{lag.name_zh} "
                     f"{pct(lag.change)} 最弱")
    en = f"US equities closed {said} ({pct(average)} on average{spread}). "
    zh = f"美股收盘{said_zh}(平均 {pct(average)}{spread_zh})。"
    macro = report.macro
    headline, headline_zh = {"up": ("Gains", "上涨"), "down": ("Losses", "下跌"),
                             "flat": ("A Flat Session", "窄幅震荡")}[trend]
    if macro:
        headline, headline_zh = HEADLINES[(trend, macro.regime)]
        conditions, conditions_zh = CONDITIONS[macro.conditions]
        quotes = [q for q in macro.quotes if q.id in RATES_AND_DOLLAR]
        en += (f"Volatility is {macro.regime}; "
               + ", ".join(f"{q.label} {q.level} ({q.move})" for q in quotes)
               + f": {conditions}. ")
        zh += (f"波动{macro.regime_zh};"
               + ",".join(f"{q.label_zh} {q.level}({q.move})" for q in quotes)
               + f":{conditions_zh}。")
    nodes = report.chain.nodes
    broken = report.chain.broken_at
    follow = [n for n in nodes[1:] if n.move is not None]
    if broken and follow:
        at = next((n for n in nodes if n.name == broken), None)
        local = macro is not None and macro.regime == "calm" and \
            macro.conditions != "tighter" and not macro.yuan_weak
        en += (f"The US handed Asia a risk-{'on' if up else 'off'} lead that {broken} did not "
               f"follow ({pct(at.move if at else None)})")
        zh += (f"美股给出风险{'偏好' if up else '规避'}信号,但{at.name_zh if at else broken}"
               f"未跟随({pct(at.move if at else None)})")
        en += (": with calm volatility and no pressure from rates, the dollar or the yuan, "
               "the break is local, not imported from the US." if local else ".")
        zh += (":在波动平静、利率、美元与人民币均无压力的情况下,断裂源自本地,而非美国输入。"
               if local else "。")
    elif follow and (report.chain.pattern or "").startswith("intact"):
        moves = ", ".join(f"{n.name} {pct(n.move)}" for n in follow)
        moves_zh = ",".join(f"{n.name_zh} {pct(n.move)}" for n in follow)
        en += f"Asia followed the US lead: {moves}."
        zh += f"亚洲跟随美股:{moves_zh}。"
    return UsNarrative(headline=headline, headline_zh=headline_zh, en=en, zh=zh)
