"""On-chain flows: TVL by protocol and by category, stablecoin net issuance, DEX volume spikes.

Every change is over the trailing 24 h to the event, against the value in force 24 h before
(or the oldest one seen, and the window says so): `crosscurrent.facts.trailing_change`, the
very function the end-of-day report uses, so an alert and the report as of the same moment
say the same number. Findings:
  flows:tvl:<id>            a protocol's TVL moving beyond protocol_warn / _critical percent
  flows:category:<cat>      a category's TVL (rwa, liquid-staking, bridge, dex, lending, ...)
  flows:rotation:<from>     a category losing TVL while others gain: source -> destinations
  flows:stablecoins         net issuance: fresh inflow (info) or redemption (warning/critical)
  flows:dex:<id>            a DEX's 24 h volume at dex_spike_warn / _critical x its trailing
                            average from history, else x its value 24 h before
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from crosscurrent.baselines import Baseline
from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.detector_config import FlowsConfig
from crosscurrent.events import Alert, Metric, Severity, Tick
from crosscurrent.facts import Sum, hours, summed
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
        """The DEX averages only: a change is over the trailing 24 h, never since a previous
        close from history (another window, which the report could not restate)."""
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
        found = self.series.trailing(event.id)
        change = None if found is None else found.pct
        if found is None or change is None:
            return []
        span = hours(found.span_ms)
        key, cfg = f"{NAME}:tvl:{event.id}", self.config
        level = sticky_level(abs(change), cfg.protocol_warn, cfg.protocol_critical,
                             self.latch.active.get(key))
        instrument = self.catalog[event.id]
        way, way_zh = ("outflow", "流出") if change < 0 else ("inflow", "流入")
        return self.latch.alerts(
            NAME, key, level, event, (event.id,),
            f"{instrument.en} {signed(change)} in {span} ({way}, now {money(event.value)})",
            f"{instrument.zh} {span} {signed(change)}({way_zh},现 {money(event.value)})",
            {"change": round(change, 4), "value": event.value, "delta": round(found.delta, 2)}
            | window(found))

    def category_change(self, category: str, as_of: int) -> Sum | None:
        """A category's TVL over the trailing 24 h: its members' changes summed
        (`facts.summed`), over the members with one."""
        found = summed(self.series.trailing(i, as_of)
                       for i in self.categories.get(category, []))
        return None if found is None or found.base <= 0 else found

    def _category(self, event: Metric, category: str) -> list[Alert]:
        found = self.category_change(category, event.ts)
        if found is None or found.pct is None:
            return []
        change, delta, span = found.pct, found.delta, hours(found.span_ms)
        key, cfg = f"{NAME}:category:{category}", self.config
        level = sticky_level(abs(change), cfg.category_warn, cfg.category_critical,
                             self.latch.active.get(key))
        en, zh = CATEGORY_EN.get(category, category), CATEGORY_ZH.get(category, category)
        members = tuple(self.categories[category])
        way, way_zh = ("outflow", "流出") if change < 0 else ("inflow", "流入")
        return self.latch.alerts(
            NAME, key, level, event, members,
            f"{en} TVL {signed(change)} in {span} ({money(delta)} {way})",
            f"{zh}锁仓量 {span} {signed(change)}({money(delta)} {way_zh})",
            {"change": round(change, 4), "delta": round(delta, 2)} | window(found))

    def _rotation(self, event: Metric) -> list[Alert]:
        """A category in outflow beyond category_warn while others gain: the flow map's row."""
        changes = {c: (found.pct, found.delta) for c in self.categories
                   if (found := self.category_change(c, event.ts)) is not None
                   and found.pct is not None}
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
        found = {i: c for i in stables if (c := self.series.trailing(i, event.ts)) is not None}
        total = summed(found.values())
        if total is None:
            return []
        deltas = {i: c.delta for i, c in found.items()}
        net, cfg, key = total.delta, self.config, f"{NAME}:stablecoins"
        current = self.latch.active.get(key)
        if net <= -cfg.outflow_critical_usd:
            level: Severity | None = Severity.CRITICAL
        elif net <= -cfg.outflow_warn_usd:
            level = Severity.WARNING
        elif net >= cfg.inflow_usd or (current == Severity.INFO and net >= cfg.inflow_usd * 0.8):
            level = Severity.INFO
        else:
            level = None
        parts = ", ".join(f"{self.catalog[i].short} {signed(found[i].pct or 0.0)}"
                          for i in sorted(deltas))
        span = hours(total.span_ms)
        if net >= 0:
            title = f"Stablecoin net issuance {money(net)} in {span} ({parts}): fresh inflow"
            title_zh = f"稳定币{span}净发行 {money(net)}({parts}):新增资金流入"
        else:
            title = f"Stablecoin net redemption {money(-net)} in {span} ({parts})"
            title_zh = f"稳定币{span}净赎回 {money(-net)}({parts})"
        values = {"net": round(net, 2)} | {f"delta_{self.catalog[i].short}": round(d, 2)
                                           for i, d in deltas.items()} | window(total)
        return self.latch.alerts(NAME, key, level, event, tuple(sorted(deltas)), title,
                                 title_zh, values)

    def _dex(self, event: Metric) -> list[Alert]:
        found = self.series.trailing(event.id)
        change = None if found is None else found.pct
        average = self.average.get(event.id)
        base = average or (found.base if found is not None else None)
        if not base or base <= 0:
            return []
        ratio = event.value / base
        key, cfg = f"{NAME}:dex:{event.id}", self.config
        level = sticky_level(ratio, cfg.dex_spike_warn, cfg.dex_spike_critical,
                             self.latch.active.get(key))
        instrument = self.catalog[event.id]
        name = instrument.en.removesuffix(" 24h volume")
        zh = instrument.zh.removesuffix("成交量")
        moved = moved_zh = ""
        if found is not None and change is not None:
            span = hours(found.span_ms)
            moved, moved_zh = f" {signed(change, 0)} in {span}", f" {span} {signed(change, 0)}"
        if average:
            title = (f"{name} DEX volume {ratio:.1f}x its daily average ({money(event.value)} "
                     f"in 24 h{';' + moved if moved else ''})")
            title_zh = (f"{zh} DEX成交量为日均的 {ratio:.1f} 倍(24小时 {money(event.value)}"
                        f"{';' + moved_zh if moved_zh else ''})")
        else:
            title = f"{name} DEX volume{moved} ({money(event.value)} in 24 h)"
            title_zh = f"{zh} DEX成交量{moved_zh}(24小时 {money(event.value)})"
        values = {"ratio": round(ratio, 4), "value": event.value, "reference": round(base, 2)}
        if found is not None and change is not None:
            values |= {"change": round(change, 4)} | window(found)
        return self.latch.alerts(
            NAME, key, level, event, (event.id,), title, title_zh, values,
            {"explanation": "Capital actively deploying on-chain, not passive holding",
             "explanation_zh": "资金在链上积极部署,而非被动持有"})

    def snapshot(self) -> dict[str, Any]:
        return {"series": self.series.snapshot(), "average": self.average,
                "active": self.latch.active}

    def restore(self, state: dict[str, Any]) -> None:
        self.series.restore(state.get("series", {}))
        self.average = dict(state.get("average", {}))
        self.latch.active = dict(state.get("active", {}))


def window(found: Sum) -> dict[str, float]:
    """An alert's window in its values: the hours its change covers, to the alert's time."""
    return {"window_h": round(found.span_ms / 3_600_000, 2)}
