"""The `detectors:` section of the config: every detector's parameters."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from crosscurrent.sections import KnownId, Section

SeverityName = Literal["info", "warning", "critical"]


def _as_tuple(value: object) -> object:
    return (value,) if isinstance(value, str) else value


#: One id, or a group of ids whose average change stands for them ("crypto" = BTC + ETH).
IdGroup = Annotated[tuple[KnownId, ...], BeforeValidator(_as_tuple), Field(min_length=1)]


class Texts(Section):
    """What a finding means, in English and Chinese (shown with the numbers)."""

    explanation: str = ""
    explanation_zh: str = ""
    implication: str = ""
    implication_zh: str = ""


class DivergencePair(Texts):
    """Two ids or groups whose changes drift apart; the texts read for `a` above `b`.

    A gap (percentage points) of at least `info` is a finding; it is a warning when it is also
    at least `warn` and `z_warn` times the pair's usual daily gap (the standard deviation of
    the gaps of the last sessions, from history), critical at `critical` and `z_critical`.
    Without that history only findings are raised. It resolves below `resolve`."""

    a: IdGroup
    b: IdGroup
    label: str = ""
    label_zh: str = ""
    info: float | None = Field(None, gt=0)  # default: `warn`
    warn: float = Field(gt=0)
    critical: float = Field(gt=0)
    resolve: float = Field(ge=0)
    z_warn: float = Field(3.5, gt=0)  # scripts/calibrate.py on shared/data/history
    z_critical: float = Field(8.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> DivergencePair:
        if not self.resolve < self.finding <= self.warn <= self.critical:
            raise ValueError("thresholds must satisfy resolve < info <= warn <= critical")
        if self.z_warn > self.z_critical:
            raise ValueError("z_warn must not exceed z_critical")
        return self

    @property
    def finding(self) -> float:
        """The gap that is a finding (info)."""
        return self.warn if self.info is None else self.info


def _short_pair(value: object) -> object:
    """`[crypto:SOL, us:NVDA]`: a pair with the cross-market thresholds (3 / 5 pp)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return {"a": value[0], "b": value[1], "warn": 3.0, "critical": 5.0, "resolve": 2.0}
    return value


class DivergenceConfig(Section):
    pairs: tuple[Annotated[DivergencePair, BeforeValidator(_short_pair)], ...] = ()


class LevelRule(Section):
    """A level to watch: `below` or `above` it, confirmed by `volume_ratio` x average volume."""

    id: KnownId
    below: float | None = None
    above: float | None = None
    volume_ratio: float = Field(1.5, gt=0)
    severity: SeverityName = "warning"

    @model_validator(mode="after")
    def _one_side(self) -> LevelRule:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below / above")
        return self


class LevelBreakConfig(Section):
    levels: tuple[LevelRule, ...] = ()


class ChainNode(Section):
    name: str
    name_zh: str
    ids: IdGroup


class ChainConfig(Section):
    """US (previous session) -> HK -> A-share: a node's move is its ids' average change."""

    nodes: tuple[ChainNode, ...] = ()
    flat_pct: float = Field(0.25, ge=0)  # a smaller move, either way, is "flat"
    strong_pct: float = Field(0.5, ge=0)  # a lead move this big ...
    z_strong: float = Field(2.0, ge=0)  # ... and this many usual daily moves: a warning


class LargeMoveRule(Section):
    """A move beyond max(floor, sigma x usual daily volatility) fires (percent); one beyond
    `always_critical` is critical however usual it is for the id."""

    ids: IdGroup
    floor_warn: float = Field(gt=0)
    floor_critical: float = Field(gt=0)
    sigma_warn: float = Field(3.5, gt=0)  # scripts/calibrate.py on shared/data/history
    sigma_critical: float = Field(6.5, gt=0)
    always_critical: float | None = Field(None, gt=0)


class LargeMoveConfig(Section):
    rules: tuple[LargeMoveRule, ...] = ()


class FlowsConfig(Section):
    """TVL (per protocol and category), stablecoin issuance, DEX volume spikes (24 h)."""

    protocol_warn: float = Field(10.0, gt=0)  # |TVL change| in percent
    protocol_critical: float = Field(30.0, gt=0)
    category_warn: float = Field(5.0, gt=0)
    category_critical: float = Field(15.0, gt=0)
    inflow_usd: float = Field(300e6, gt=0)  # net stablecoin issuance worth a finding (info)
    outflow_warn_usd: float = Field(500e6, gt=0)  # net redemption
    outflow_critical_usd: float = Field(2e9, gt=0)
    dex_spike_warn: float = Field(2.0, gt=1)  # 24 h volume x its reference
    dex_spike_critical: float = Field(4.0, gt=1)


class BreadthConfig(Section):
    """A-share advance/decline ratio, and turnover against its recent average at this hour."""

    strong: float = Field(2.0, gt=0)  # advancers / decliners: broad advance (info)
    weak: float = Field(0.5, gt=0)  # broad decline (warning)
    very_weak: float = Field(0.25, gt=0)  # critical
    heavy_turnover: float = Field(1.5, gt=0)  # x the average pace (info)
    thin_turnover: float = Field(0.6, gt=0)  # warning


class FundingPair(Section):
    funding: KnownId
    price: KnownId


class LeverageConfig(Section):
    """Funding spikes, and fast moves with stretched funding (liquidation risk)."""

    pairs: tuple[FundingPair, ...] = ()
    stretched: float = Field(0.0003, gt=0)  # per 8 h funding: crowded positioning
    warn: float = Field(0.0005, gt=0)
    critical: float = Field(0.001, gt=0)
    move_pct: float = Field(5.0, gt=0)  # a fast move: 24 h change beyond this


class UserRule(Section):
    """A trigger in the rule language, e.g. `change("crypto:ETH") > 6 and funding("ETH") >
    0.0005`."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    when: str
    severity: SeverityName = "warning"
    title: str = ""
    title_zh: str = ""

    @model_validator(mode="after")
    def _compiles(self) -> UserRule:
        from detectors.rule_language import RuleError, compile_rule

        try:
            compile_rule(self.when)
        except RuleError as exc:
            raise ValueError(f"rule {self.name!r}, {exc}") from None
        return self


class MacroConfig(Section):
    """The macro context (percent unless said)."""

    vix_elevated: float = Field(20, gt=0)  # VIX level
    vix_stressed: float = Field(30, gt=0)
    vix_jump_elevated: float = Field(25, gt=0)  # VIX change in a day (stressed: only
    vix_jump_stressed: float = Field(40, gt=0)  # from an elevated level)
    vix_band: float = Field(2, ge=0)  # a regime is left this many points below its level
    yuan_move: float = Field(0.3, gt=0)  # USD/CNH up this much (yuan weaker) ...
    hk_move: float = Field(1.0, gt=0)  # ... while the HSI falls this much
    dxy_move: float = Field(0.8, gt=0)
    yield_bp: float = Field(12, gt=0)  # US 10-year, basis points
    gold_move: float = Field(0.8, gt=0)  # gold up this much with equities, crypto and VIX


class DetectorsConfig(Section):
    divergence: DivergenceConfig = DivergenceConfig()
    level_break: LevelBreakConfig = LevelBreakConfig()
    chain: ChainConfig = ChainConfig()
    large_move: LargeMoveConfig = LargeMoveConfig()
    flows: FlowsConfig = FlowsConfig()
    breadth: BreadthConfig = BreadthConfig()
    leverage: LeverageConfig = LeverageConfig()
    rules: tuple[UserRule, ...] = ()
    macro: MacroConfig = MacroConfig()
