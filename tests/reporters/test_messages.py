"""Notifications read as the seed report reads (issue 41): the seed day replayed through the
real pipeline, its notifications sent by apprise to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from crosscurrent.events import Alert, AlertState
from crosscurrent.formatting import signed
from crosscurrent.notify_config import Lang
from reporters.matchers import Matcher
from streams.keys import Keys
from streams.redis_server import EmbeddedRedis
from tests.conftest import SEED_TAPE
from tests.reporters.receiver import receiver, reference
from tests.reporters.test_notifier import pipeline, publish

RISK_KEY = "synthesis:risk:Crypto leverage liquidation"
LIQUIDATION_KEY = "leverage:liquidation:crypto:ETH"
# a detector's or the pipeline's own name as keys show it ("synthesis:risk"), the old state
# marker ("[WARNING, firing]"), a snake_case name, a notice's id, the receiver's name
INTERNAL = [re.compile(p) for p in (
    r"\b(large_move|level_break|divergence|chain|flows|breadth|leverage|macro|rules|"
    r"synthesis|notifier):\S", r"\[(firing|resolved|\w+,)", r"\bsynthesis\b",
    r"\b[a-z]+_[a-z_]+\b", r"\b[0-9a-f]{20}\b", r":cli\b", r"\bcrosscurrent notice\b")]
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@dataclass
class Day:
    alerts: list[Alert]
    messages: list[dict[str, str]]

    def alert(self, key: str) -> Alert:
        return next(a for a in self.alerts if a.key == key)

    def message(self, title: str) -> dict[str, str]:
        (found,) = [m for m in self.messages if title in m["title"]]
        return found


def _alert(record: dict[str, Any]) -> Alert:
    """An alert of alerts.jsonl, as the notifier had it."""
    record = {k: v for k, v in record.items() if k != "uid"}
    record["ts"] = int(datetime.fromisoformat(record["ts"]).timestamp() * 1000)
    return Alert.model_validate(record)


@pytest.fixture(scope="module")
def seed_day(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Day]:
    """The seed tape replayed with the default lifecycle, notifying a real receiver (the
    `--notify` receiver's language: both)."""
    out = tmp_path_factory.mktemp("seed-notify")
    with receiver() as sink:
        result = subprocess.run(
            [sys.executable, "-m", "crosscurrent", "replay", str(SEED_TAPE), "--out", str(out),
             "--redis", redis_server.url, "--notify", sink.url],
            capture_output=True, text=True, timeout=180, env=dict(os.environ, COLUMNS="200"))
        assert result.returncode == 0, result.stderr
        alerts = [_alert(orjson.loads(line))
                  for line in (out / "alerts.jsonl").read_text().splitlines()]
        yield Day(alerts, list(sink.received))


def test_the_eth_leverage_risk_reads_as_the_seed_report(seed_day: Day) -> None:
    message = seed_day.message("Risk #2: crypto leverage liquidation")
    lines = message["message"].splitlines()
    # a warning (probability medium x impact high), in both languages: the title in English
    assert message["title"] == "🟠 WARNING/警告 Risk #2: crypto leverage liquidation"
    assert lines[:2] == ["ETH +5.11% in 24 h on stretched funding; watch: funding rates",
                         "Probability medium, impact high."]
    assert lines[2:5] == ["风险 #2:加密货币杠杆清算",
                          "ETH 24小时 +5.11%,资金费率偏高;关注:资金费率", "概率中,影响高。"]
    assert lines[5] == "2026-04-08 07:18 UTC"
    # one number per fact: the move the leverage detector raised its alert on
    move = seed_day.alert(LIQUIDATION_KEY).values["change"]
    assert f"ETH {signed(move)} in 24 h" in lines[0]
    # the key only on the last line, as a command that silences this very alert
    keys, (ref,) = reference(message)
    assert keys == [RISK_KEY] and re.fullmatch(r"[0-9a-f]{20}", ref)
    command = lines[-1].split(" · ")[0].removeprefix("Silence with: ")
    target = shlex.split(command)[3]
    assert Matcher.parse(target).matches(seed_day.alert(RISK_KEY))


def test_no_seed_day_notification_shows_an_internal_name(seed_day: Day) -> None:
    firing = [a for a in seed_day.alerts if a.state == AlertState.FIRING]
    assert len(seed_day.messages) >= 20
    keys = {a.key for a in seed_day.alerts}
    for message in seed_day.messages:
        *text, last = [message["title"], *message["message"].splitlines()]
        for line in text:
            assert not [p.pattern for p in INTERNAL if p.search(line)], line
            assert not [k for k in keys if k in line], line
            assert not [a.uid for a in seed_day.alerts if a.uid in line], line
        assert last.startswith("Silence with: crosscurrent silence add ") and " · ref " in last
    # every firing alert is in some notification, under its key's silence command
    said = {k for m in seed_day.messages for k in reference(m)[0]}
    assert said == {a.key for a in firing}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_english_and_chinese_receivers_read_their_language(
        seed_day: Day, redis_url: str, lang: Lang) -> None:
    """The risk and the liquidation it was read off, through the notifier and a deliverer in
    one language, to a real receiver."""
    keys = Keys("cc", f"notify-seed-{lang}")
    sent = [seed_day.alert(LIQUIDATION_KEY), seed_day.alert(RISK_KEY)]
    with receiver() as sink:
        asyncio.run(publish(redis_url, keys, sent))
        asyncio.run(pipeline(redis_url, keys, sink.url, 2, sink, lang=lang))
        liquidation, risk = sink.received
    if lang == "en":
        assert risk["title"] == "🟠 WARNING Risk #2: crypto leverage liquidation"
        assert risk["message"].splitlines()[:2] == [
            "ETH +5.11% in 24 h on stretched funding; watch: funding rates",
            "Probability medium, impact high."]
        assert liquidation["title"] == ("🔴 CRITICAL Liquidation risk: Ether +5.11% in 24 h on "
                                        "stretched funding (0.0307% per 8 h)")
        assert "Fires on a 24 h move beyond 5% with funding of 0.03% per 8 h or more the " \
               "same way" in liquidation["message"]
        assert not any(CJK.search(m["title"] + m["message"]) for m in sink.received)
    else:
        assert risk["title"] == "🟠 警告 风险 #2:加密货币杠杆清算"
        assert risk["message"].splitlines()[:2] == [
            "ETH 24小时 +5.11%,资金费率偏高;关注:资金费率", "概率中,影响高。"]
        assert liquidation["title"] == \
            "🔴 严重 爆仓风险:以太坊 24小时 +5.11%,资金费率偏高(每8小时 0.0307%)"
        last = risk["message"].splitlines()[-1]
        assert last.startswith("静音:crosscurrent silence add ") and " · 编号 " in last
    for message in sink.received:
        assert "2026-04-08 07:18 UTC" in message["message"]
        body = message["message"].splitlines()[:-1]
        assert not [line for line in body for p in INTERNAL if p.search(line)]


def test_the_command_s_lang_reaches_its_notify_receiver(redis_server: EmbeddedRedis,
                                                         tmp_path: Path) -> None:
    """`replay --lang en --notify URL`: the URL's messages are in English only."""
    with receiver() as sink:
        result = subprocess.run(
            [sys.executable, "-m", "crosscurrent", "replay", str(SEED_TAPE), "--plain",
             "--lang", "en", "--redis", redis_server.url, "--notify", sink.url],
            capture_output=True, text=True, timeout=180,
            env=dict(os.environ, COLUMNS="200", CROSSCURRENT_REDIS_PREFIX="cc-lang-en"))
        assert result.returncode == 0, result.stderr
        messages = list(sink.received)
    assert len(messages) >= 10
    assert not [m for m in messages if CJK.search(m["title"] + m["message"])]
