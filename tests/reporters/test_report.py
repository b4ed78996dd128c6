"""The end-of-day report of the seed tape, end to end: it must tell the seed report's story
with the tape's own numbers, in Markdown, HTML (checked in headless Chromium) and JSON."""

from __future__ import annotations

import asyncio
import math
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest

from crosscurrent.app import replay
from crosscurrent.config import Config, load_config
from crosscurrent.detector_config import DivergencePair
from streams.redis_server import EmbeddedRedis
from streams.tape import read_tape
from tests.conftest import SEED_TAPE, QuietView

SECTIONS = ["1. Key Insight", "2. Global Risk Sentiment", "3. Crypto & DeFi", "4. US Market",
            "5. Hong Kong Market", "6. A-Share Market", "7. Cross-Market Divergences",
            "8. Capital Flow Map", "9. Risk Matrix", "10. Action Plan", "Missing data"]


def seed_report(redis_url: str, out: Path, config: Config | None = None) -> dict[str, Any]:
    asyncio.run(replay(read_tape(SEED_TAPE), config or load_config(env={}), redis_url,
                       speed=math.inf, out=out, view=QuietView(), namespace="report-test"))
    return dict(orjson.loads((out / "report.json").read_bytes()))


@pytest.fixture(scope="module")
def report_dir(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    seed_report(redis_server.url, out)
    return out


def test_the_seed_days_findings_match_the_seed_report(report_dir: Path) -> None:
    report = orjson.loads((report_dir / "report.json").read_bytes())
    markets = report["markets"]
    assert (markets["crypto:BTC"]["change"], markets["crypto:ETH"]["change"]) == (4.35, 6.05)
    assert markets["hk:HSTECH"]["change"] == -1.63 and markets["us:IXIC"]["change"] == 0.44
    assert report["chain"]["broken_at"] == "HK"
    assert "did not transmit to HK" in report["chain"]["assessment"]
    magnitudes = {d["label"]: d["magnitude"] for d in report["divergences"]}
    assert magnitudes["Crypto vs HK tech"] == "Bitcoin +4.35% vs Hang Seng TECH -1.63%"
    assert magnitudes["ETH vs BTC"] == "Ether +6.05% vs Bitcoin +4.35%"
    assert magnitudes["US tech vs crypto"] == "Bitcoin +4.35% vs Nasdaq Composite +0.44%"
    assert magnitudes["RWA TVL outflow"].startswith("Superstate -2")
    flows = {(r["source"], r["destination"]) for r in report["flow_map"]}
    assert ("Hang Seng TECH selloff", "Bitcoin") in flows
    assert ("RWA / tokenized treasuries", "bridges / liquid staking") in flows
    assert any(s.startswith("Stablecoin minting") and d.startswith("DEX volumes")
               for s, d in flows)
    risks = {r["risk"]: r for r in report["risks"]}
    assert set(risks) == {"HK/A-share correlation breakdown", "RWA DeFi contagion",
                          "Crypto leverage liquidation"}
    assert "HSI breaks 25,000 on volume" in risks["HK/A-share correlation breakdown"]["trigger"]
    a_share = report["a_share"]
    assert a_share["breadth"] == {"advancers": 1584.0, "decliners": 713.0, "ratio": 2.22,
                                  "text": "1584:713 (2.2:1)"}
    assert a_share["turnover"] == 1.32e12 and a_share["northbound"] is None
    assert any(m["what"].startswith("northbound") for m in report["missing"])
    assert report["crypto"]["stablecoin_net"] > 600e6  # the seed's "+$600M+ combined"


def test_markdown_has_every_section_in_the_seeds_order(report_dir: Path) -> None:
    text = (report_dir / "report.md").read_text()
    positions = [text.index(f"## {heading}") for heading in SECTIONS]
    assert positions == sorted(positions)
    assert "1584:713 (2.2:1)" in text and "1.32万亿" in text
    assert "不构成投资建议" in text and "not investment advice" in text


def test_the_us_section_reads_the_day_through_the_macro_ids(report_dir: Path) -> None:
    text = (report_dir / "report.md").read_text()
    us = text[text.index("## 4. US Market"):text.index("## 5. Hong Kong")]
    assert us.startswith("## 4. US Market: Steady Gains, Calm Volatility")
    for row in ("| VIX | 17.27 | -2.98% |", "| US 10-year / 美债十年期 | 4.33% | +2 bp |",
                "| USD/CNH / 美元/离岸人民币 | 7.2480 | -0.08% |"):
        assert row in us, row
    assert "US equities closed up (+0.56% on average; Dow Jones" in us
    assert "no pressure from rates or the dollar" in us
    # the chain detector's average of the raw changes (-0.70% and -1.63% unrounded), not of
    # the rounded ones (-1.17%)
    assert "HK did not follow (-1.16%)" in us and "the break is local" in us
    sentiment = text[text.index("## 2. Global"):text.index("## 3. Crypto")]
    assert "Macro regime: calm (VIX 17.27 (-2.98%), US 10-year 4.33% (+2 bp)" in sentiment


class Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_with_charts_and_escapes_every_string(
        redis_url: str, tmp_path: Path) -> None:
    config = load_config(env={})
    hostile = DivergencePair(a=("crypto:BTC",), b=("hk:HSTECH",), warn=3, critical=5, resolve=2,
                             label="<script>alert('x')</script>", explanation="a & b < c")
    config = config.model_copy(update={"detectors": config.detectors.model_copy(update={
        "divergence": config.detectors.divergence.model_copy(update={"pairs": (hostile,)})})})
    seed_report(redis_url, tmp_path, config)
    page = (tmp_path / "report.html").read_text()
    parsed = Parsed()
    parsed.feed(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags  # nothing external
    assert parsed.tags.count("svg") >= 5  # four intraday regions, divergences, TVL
    assert "<script>alert('x')</script>" in "".join(parsed.text)  # shown as text
    assert "&lt;script&gt;" in page and "a &amp; b &lt; c" in page


def test_report_command_writes_the_days_report_from_redis(report_dir: Path,
                                                          redis_server: EmbeddedRedis,
                                                          tmp_path: Path) -> None:
    from tests.test_cli import crosscurrent

    result = crosscurrent("report", "--redis", redis_server.url, "--namespace", "report-test",
                          "--date", "2026-04-08", "--lang", "zh", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "report.md").read_text()
    assert "加密货币与亚洲风险情绪脱钩" in text and "Crypto is decoupling" not in text
    empty = crosscurrent("report", "--redis", redis_server.url, "--namespace", "report-test",
                         "--date", "2026-01-01", "--out", str(tmp_path / "empty"))
    assert empty.returncode == 2 and not (tmp_path / "empty" / "report.md").exists()
    assert "namespace report-test holds no events or alerts of 2026-01-01" in empty.stderr


def test_a_day_without_prices_says_what_is_missing_not_that_markets_were_flat(
        tmp_path: Path) -> None:
    from crosscurrent.events import Metric
    from crosscurrent.intraday import gather
    from reporters.report_data import build
    from reporters.report_render import write

    hour = 3_600_000
    events = [Metric(id="dexvol:curve-dex", ts=t * hour, value=v)
              for t, v in ((0, 100e6), (24, 433e6))]
    write(build(gather(events), [], {}, load_config(env={})), tmp_path, "en")
    text = (tmp_path / "report.md").read_text()
    assert "No transmission signal: no moves for US, HK, A-share (see missing data)." in text
    assert "the first node was flat" not in text and "largest divergences" not in text
    assert "DEX volumes more than doubled" in text
