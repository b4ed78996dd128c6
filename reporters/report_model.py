"""The end-of-day report as a typed model: what `report_data.build` returns and every renderer
(text, Markdown, HTML, JSON, the model rewrite, charts) reads by attribute. report.json is
`model_dump(mode="json")`. Every change carries its window ("since previous close", "24 h to
08:00Z (16:00 HKT)"), computed once (`crosscurrent.facts`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Row(Model):
    """One instrument: its last value and its change over `window`."""

    id: str
    name: str
    name_zh: str
    last: float
    change: float | None  # percent, two decimals
    high: float
    low: float
    open: float
    prev_close: float | None = None
    volume: float | None = None
    currency: str = ""
    change_note: str = ""  # why there is no change, when there is none
    window: str = ""  # what the change is over
    delta: float | None = None  # metrics: the change in units over the window
    as_of: int = 0  # epoch ms of `last`


class Bilingual(Model):
    en: str = ""
    zh: str = ""


class Insight(Bilingual):
    source: Literal["template", "llm"] = "template"


class ChainNode(Model):
    name: str
    name_zh: str
    ids: list[str]
    move: float | None  # the members' average change since their previous close
    direction: str | None = None


class Chain(Model):
    nodes: list[ChainNode] = Field(default_factory=list)
    pattern: str | None = None
    broken_at: str | None = None
    assessment: str = ""
    assessment_zh: str = ""
    window: str = "since previous close"


class Category(Model):
    category: str
    change: float
    delta: float
    protocols: list[Row]
    window: str = ""


class Crypto(Model):
    assets: list[Row] = Field(default_factory=list)
    stablecoins: list[Row] = Field(default_factory=list)
    stablecoin_net: float | None = None  # USD, over `stablecoin_window`
    stablecoin_window: str = ""
    tvl_categories: list[Category] = Field(default_factory=list)
    dex: list[Row] = Field(default_factory=list)
    funding: list[Row] = Field(default_factory=list)


class Breadth(Model):
    advancers: float
    decliners: float
    ratio: float | None  # `crosscurrent.facts.advance_decline`
    text: str = ""  # "1584:713 (2.2:1)"


class AShare(Model):
    indices: list[Row] = Field(default_factory=list)
    breadth: Breadth | None = None
    turnover: float | None = None
    northbound: float | None = None


class Divergence(Model):
    key: str
    label: str
    label_zh: str
    severity: str
    magnitude: str
    gap: float
    explanation: str = ""
    explanation_zh: str = ""
    implication: str = ""
    implication_zh: str = ""
    window: str = "since previous close"


class FlowRow(Model):
    source: str
    source_zh: str
    destination: str
    destination_zh: str
    mechanism: str
    mechanism_zh: str
    ids: list[str] = Field(default_factory=list)


class Risk(Model):
    risk: str
    risk_zh: str
    probability: str
    impact: str
    trigger: str
    trigger_zh: str
    ids: list[str] = Field(default_factory=list)


class AlertCounts(Model):
    firing: int = 0
    critical: int = 0


class Missing(Model):
    what: str
    prevents: str


class MacroQuote(Model):
    id: str
    label: str
    label_zh: str
    level: str
    move: str


class Macro(Model):
    regime: str
    regime_zh: str
    quotes: list[MacroQuote]
    numbers: str
    numbers_zh: str
    conditions: str
    yuan_weak: bool
    reading: str
    reading_zh: str
    us10y_bp: float | None = None


class UsNarrative(Model):
    headline: str
    headline_zh: str
    en: str
    zh: str


class Plan(Model):
    profile: str
    profile_zh: str
    recommendation: str
    recommendation_zh: str
    rationale: str
    rationale_zh: str


class Report(Model):
    date: str = ""
    as_of: int = 0  # epoch ms: the latest value the report holds
    as_of_text: str = ""  # "08:00Z (16:00 HKT)"
    markets: dict[str, Row] = Field(default_factory=dict)
    chain: Chain = Field(default_factory=Chain)
    crypto: Crypto = Field(default_factory=Crypto)
    us: list[Row] = Field(default_factory=list)
    hk: list[Row] = Field(default_factory=list)
    a_share: AShare = Field(default_factory=AShare)
    divergences: list[Divergence] = Field(default_factory=list)
    flow_map: list[FlowRow] = Field(default_factory=list)  # with the report's own figures
    risks: list[Risk] = Field(default_factory=list)
    alerts: AlertCounts = Field(default_factory=AlertCounts)
    missing: list[Missing] = Field(default_factory=list)
    intraday: dict[str, dict[str, list[tuple[int, float]]]] = Field(default_factory=dict)
    macro: Macro | None = None
    key_insight: Insight = Field(default_factory=Insight)
    us_narrative: UsNarrative | None = None
    action_plan: list[Plan] = Field(default_factory=list)
    disclaimer: Bilingual = Field(default_factory=Bilingual)

    def change(self, ident: str) -> float | None:
        """An instrument's change, None when it has none or is not in the report."""
        row = self.markets.get(ident)
        return None if row is None else row.change
