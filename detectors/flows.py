"""On-chain flows: TVL by protocol and by category, stablecoin net issuance, DEX volume spikes.

Every change is over 24 h: against yesterday's close from history when there is one, else the
oldest value of the trailing day. Findings:
  flows:tvl:<id>            a protocol's TVL moving beyond protocol_warn / _critical percent
  flows:category:<cat>      a category's TVL (rwa, liquid-staking, bridge, dex, lending, ...)
  flows:rotation:<from>     a category losing TVL while others gain: source -> destinations
  flows:stablecoins         net issuance: fresh inflow (info) or redemption (warning/critical)
  flows:dex:<id>            a DEX's 24 h volume at dex_spike_warn / _critical x its reference
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from crosscurrent.baselines import Baseline
from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.detector_config import FlowsConfig
from crosscurrent.events import Alert, Metric, Severity, Tick
from crosscurrent.formatting import money, signed
from detectors.common import Latch, Series, sticky_level

NAME: Final = "flows"
CATEGORY_ZH = {"rwa": "RWA/代币化国债", "liquid-staking": "流动性质押", "bridge": "跨链桥",
               "dex": "DEX", "lending": "借贷", "other": "其他"}
CATEGORY_EN = {"rwa": "RWA / tokenized treasuries", "liquid-staking": "liquid staking",
               "bridge": "bridges", "dex": "DEX", "lending": "lending", "other": "other"}
GAIN_PCT = 1.0  # a category gaining at least this much is a rotation destination


class FlowsDetector:
    name = NAME

    def __init__(self, config: FlowsConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog or default_catalog()
        self.kinds = {i.id: i.asset for i in self.catalog
                      if i.asset in ("tvl", "stablecoin", "dex_volume")}
        self.categories: dict[str, list[str]] = {}
        for ident, kind in self.kinds.items():
            if kind == "tvl":
                self.categories.setdefault(self.catalog[ident].category or "other",
                                           []).append(ident)
        self.series = Series()
        self.average: dict[str, float] = {}  # DEX id -> trailing average daily volume
        self.latch = Latch()

    def ids(self) -> frozenset[str]:
        return frozenset(self.kinds)

    def set_baselines(self, baselines: Mapping[str, Baseline]) -> None:
        self.series.set_baselines(baselines)
        for ident, found in baselines.items():
            if found.average_close and self.kinds.get(ident) == "dex_volume":
                self.average[ident] = found.average_close

    def on_event(self, event: Tick | Metric) -> list[Alert]:
        kind = self.kinds.get(event.id)
        if kind is None or not isinstance(event, Metric) or not self.series.update(event):
            return []
        if kind == "tvl":
            alerts = self._protocol(event)
            category = self.catalog[event.id].category or "other"
            alerts += self._category(event, category)
            return alerts + self._rotation(event)
        if kind == "stablecoin":
            return self._stablecoins(event)
        return self._dex(event)

    def _protocol(self, event: Metric) -> list[Alert]:
        change = self.series.change(event.id)
        if change is None:
            return []
        key, cfg = f"{NAME}:tvl:{event.id}", self.config
        level = sticky_level(abs(change), cfg.protocol_warn, cfg.protocol_critical,
                             self.latch.active.get(key))
        instrument = self.catalog[event.id]
        way, way_zh = ("outflow", "流出") if change < 0 else ("inflow", "流入")
        return self.latch.alerts(
            NAME, key, level, event, (event.id,),
            f"{instrument.en} {signed(change)} in 24 h ({way}, now {money(event.value)})",
            f"{instrument.zh} 24小时 {signed(change)}({way_zh},现 {money(event.value)})",
            {"change": round(change, 4), "value": event.value,
             "delta": round(self.series.delta(event.id) or 0.0, 2)})

    def category_change(self, category: str) -> tuple[float, float] | None:
        """A category's TVL change (percent) and USD delta, over members with a reference."""
        now = base = 0.0
        for ident in self.categories.get(category, []):
            latest, ref = self.series.latest(ident), self.series.base(ident)
            if latest is not None and ref is not None:
                now, base = now + latest, base + ref
        if base <= 0:
            return None
        return (now / base - 1) * 100, now - base

    def _category(self, event: Metric, category: str) -> list[Alert]:
        found = self.category_change(category)
        if found is None:
            return []
        change, delta = found
        key, cfg = f"{NAME}:category:{category}", self.config
        level = sticky_level(abs(change), cfg.category_warn, cfg.category_critical,
                             self.latch.active.get(key))
        en, zh = CATEGORY_EN.get(category, category), CATEGORY_ZH.get(category, category)
        members = tuple(self.categories[category])
        way, way_zh = ("outflow", "流出") if change < 0 else ("inflow", "流入")
        return self.latch.alerts(
            NAME, key, level, event, members,
            f"{en} TVL {signed(change)} in 24 h ({money(delta)} {way})",
            f"{zh}锁仓量 24小时 {signed(change)}({money(delta)} {way_zh})",
            {"change": round(change, 4), "delta": round(delta, 2)})

    def _rotation(self, event: Metric) -> list[Alert]:
        """A category in outflow beyond category_warn while others gain: the flow map's row."""
        changes = {c: found for c in self.categories
                   if (found := self.category_change(c)) is not None}
        alerts: list[Alert] = []
        for source, (change, delta) in changes.items():
            key = f"{NAME}:rotation:{source}"
            gainers = sorted(c for c, (chg, _) in changes.items() if chg >= GAIN_PCT)
            active = change <= -self.config.category_warn and bool(gainers)
            if not active and key not in self.latch.active:
                continue
            targets = " / ".join(CATEGORY_EN.get(c, c) for c in gainers) or "elsewhere"
            targets_zh = " / ".join(CATEGORY_ZH.get(c, c) for c in gainers) or "其他"
            values = {"change": round(change, 4), "delta": round(delta, 2)}
            values |= {f"change_{c}": round(changes[c][0], 4) for c in gainers}
            src_en, src_zh = CATEGORY_EN.get(source, source), CATEGORY_ZH.get(source, source)
            alerts += self.latch.alerts(
                NAME, key, Severity.WARNING if active else None, event,
                tuple(i for c in (source, *gainers) for i in self.categories[c]),
                f"Rotation: {src_en} ({signed(change)}) → {targets}",
                f"资金轮动:{src_zh}({signed(change)})→ {targets_zh}",
                values,
                {"source": src_en, "source_zh": src_zh, "destination": targets,
                 "destination_zh": targets_zh,
                 "mechanism": "yield repricing: capital leaves one on-chain yield for another",
                 "mechanism_zh": "收益率重新定价:资金从一种链上收益转向另一种"})
        return alerts

    def _stablecoins(self, event: Metric) -> list[Alert]:
        stables = [i for i, k in self.kinds.items() if k == "stablecoin"]
        deltas = {i: d for i in stables if (d := self.series.delta(i)) is not None}
        if not deltas:
            return []
        net, cfg, key = sum(deltas.values()), self.config, f"{NAME}:stablecoins"
        current = self.latch.active.get(key)
        if net <= -cfg.outflow_critical_usd:
            level: Severity | None = Severity.CRITICAL
        elif net <= -cfg.outflow_warn_usd:
            level = Severity.WARNING
        elif net >= cfg.inflow_usd or (current == Severity.INFO and net >= cfg.inflow_usd * 0.8):
            level = Severity.INFO
        else:
            level = None
        parts = ", ".join(f"{self.catalog[i].short} {signed(self.series.change(i) or 0.0)}"
                          for i in sorted(deltas))
        if net >= 0:
            title = f"Stablecoin net issuance {money(net)} in 24 h ({parts}): fresh inflow"
            title_zh = f"稳定币24小时净发行 {money(net)}({parts}):新增资金流入"
        else:
            title = f"Stablecoin net redemption {money(-net)} in 24 h ({parts})"
            title_zh = f"稳定币24小时净赎回 {money(-net)}({parts})"
        values = {"net": round(net, 2)} | {f"delta_{self.catalog[i].short}": round(d, 2)
                                           for i, d in deltas.items()}
        return self.latch.alerts(NAME, key, level, event, tuple(sorted(deltas)), title,
                                 title_zh, values)

    def _dex(self, event: Metric) -> list[Alert]:
        base = self.average.get(event.id) or self.series.base(event.id)
        if not base or base <= 0:
            return []
        ratio = event.value / base
        key, cfg = f"{NAME}:dex:{event.id}", self.config
        level = sticky_level(ratio, cfg.dex_spike_warn, cfg.dex_spike_critical,
                             self.latch.active.get(key))
        instrument = self.catalog[event.id]
        name = instrument.en.removesuffix(" 24h volume")
        zh = instrument.zh.removesuffix("成交量")
        return self.latch.alerts(
            NAME, key, level, event, (event.id,),
            f"{name} DEX volume {signed((ratio - 1) * 100, 0)} ({money(event.value)} in 24 h)",
            f"{zh} DEX成交量 {signed((ratio - 1) * 100, 0)}(24小时 {money(event.value)})",
            {"ratio": round(ratio, 4), "value": event.value, "reference": round(base, 2)},
            {"explanation": "Capital actively deploying on-chain, not passive holding",
             "explanation_zh": "资金在链上积极部署,而非被动持有"})

    def snapshot(self) -> dict[str, Any]:
        return {"series": self.series.snapshot(), "average": self.average,
                "active": self.latch.active}

    def restore(self, state: dict[str, Any]) -> None:
        self.series.restore(state.get("series", {}))
        self.average = dict(state.get("average", {}))
        self.latch.active = dict(state.get("active", {}))


