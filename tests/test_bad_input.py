"""Bad input through the real `crosscurrent` command: each case is one line on stderr that
names the problem, a non-zero exit (2: the user's to fix) and no traceback; a bad tape line
is counted and skipped and the replay goes on."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crosscurrent.config import MAX_CONFIG_BYTES, ConfigError, load_config
from streams.tape import MAX_LINE_BYTES
from tests.test_cli import crosscurrent

#: the detectors' compiled build may be out of date in a working tree: its one warning
#: would be a second line on stderr
QUIET = {"CROSSCURRENT_COMPILED": "0"}
TICK = '{"ts":"2026-04-08T01:30:00Z","id":"hk:HSTECH","value":5600,"prev_close":5610}\n'
TICK2 = '{"ts":"2026-04-08T01:31:00Z","id":"crypto:BTC","value":71000,"prev_close":68000}\n'


@dataclass(frozen=True)
class Case:
    """Files to write into the test's directory, then the command and what it must say."""

    args: tuple[str, ...]
    word: str  # a distinctive part of the one line
    files: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    redis: bool = True  # pass --redis with the test server


def rule(when: str) -> Callable[[], bytes]:
    return lambda: f"detectors:\n  rules:\n    - name: r\n      when: '{when}'\n".encode()


def alias_bomb() -> bytes:
    lines, previous = ["a: &a [x, x, x, x, x, x, x, x, x]"], "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
        previous = name
    return ("\n".join(lines) + "\n").encode()


def truncated_gzip() -> bytes:
    whole = gzip.compress((TICK + TICK2).encode() * 200)
    return whole[:len(whole) // 2]


def receiver(url: str) -> Callable[[], bytes]:
    return lambda: f"notify:\n  receivers:\n    - {{name: ops, urls: ['{url}']}}\n".encode()


def two_rules() -> bytes:
    return (b"detectors:\n  rules:\n    - {name: same, when: 'price(\"hk:HSI\") > 1'}\n"
            b"    - {name: same, when: 'price(\"hk:HSI\") < 1'}\n")


CONFIG = ("--config", "c.yaml")
CASES = {
    # 1. the rule language
    "rule with in": Case(("feeds", *CONFIG), "operator 'in' is not allowed",
                         {"c.yaml": rule('price("hk:HSI") in 1')}),
    "rule with is": Case(("feeds", *CONFIG), "operator 'is' is not allowed",
                         {"c.yaml": rule('price("hk:HSI") is 1')}),
    "rule with is not": Case(("feeds", *CONFIG), "operator 'is not' is not allowed",
                             {"c.yaml": rule('1 < price("hk:HSI") is not 1')}),
    "rule with a huge integer": Case(("feeds", *CONFIG), "digits is too long",
                                     {"c.yaml": rule("1" + "0" * 100_000 + " > 1")}),
    "rule nested in parentheses": Case(("feeds", *CONFIG), "nested more than 50 levels",
                                       {"c.yaml": rule("(" * 5000 + "1" + ")" * 5000)}),
    "rule nested in operators": Case(("feeds", *CONFIG), "nested more than 50 levels",
                                     {"c.yaml": rule("-" * 1900 + "1 > 0")}),
    "rule too long": Case(("feeds", *CONFIG), "characters long (at most 2000)",
                          {"c.yaml": rule(" and ".join(["1 > 0"] * 500))}),
    # 2. Redis URLs
    "--redis without a scheme": Case(("feeds", "--redis", "localhost:6379"), "has no scheme",
                                     redis=False),
    "environment URL without a scheme": Case(("feeds",), "has no scheme", redis=False,
                                             env={"CROSSCURRENT_REDIS_URL": "localhost:6379"}),
    "--redis broken IPv6": Case(("feeds", "--redis", "redis://:x@[::1"), "Invalid IPv6 URL",
                                redis=False),
    "--redis http": Case(("feeds", "--redis", "http://x"), "scheme 'http'", redis=False),
    "--redis empty": Case(("feeds", "--redis", ""), "--redis is empty", redis=False),
    # 3. config files
    "config not UTF-8": Case(("feeds", *CONFIG), "not UTF-8 text (byte 0xe9 on line 2)",
                             {"c.yaml": lambda: "agent:\n  # café\n".encode("latin-1")}),
    "config alias bomb": Case(("feeds", *CONFIG), "aliases (*name) expand it",
                              {"c.yaml": alias_bomb}),
    "config over the size limit": Case(("feeds", *CONFIG), f"{MAX_CONFIG_BYTES:,} bytes",
                                       {"c.yaml": lambda: b"#" * (MAX_CONFIG_BYTES + 1)}),
    "config nested too deeply": Case(("feeds", *CONFIG), "nested too deeply",
                                     {"c.yaml": lambda: b"a: " + b"[" * 5000 + b"]" * 5000}),
    # 4. tapes
    "truncated gzip tape": Case(("replay", "t.jsonl.gz"), "truncated, its gzip data ends",
                                {"t.jsonl.gz": truncated_gzip}),
    "tape named .gz, not gzip": Case(("replay", "t.jsonl.gz"), "not gzip data",
                                     {"t.jsonl.gz": lambda: TICK.encode()}),
    # 5. where the output goes
    "--out under /proc": Case(("replay", "t.jsonl", "--out", "/proc/crosscurrent-x"),
                              "--out /proc/crosscurrent-x: cannot write there",
                              {"t.jsonl": lambda: TICK.encode()}),
    "--out under a file": Case(("replay", "t.jsonl", "--out", "t.jsonl/out"),
                               "Not a directory", {"t.jsonl": lambda: TICK.encode()}),
    "report --out under /proc": Case(("report", "--out", "/proc/crosscurrent-x"),
                                     "cannot write there"),
    "--data-dir under /proc": Case(("feeds", "--data-dir", "/proc/crosscurrent-x"),
                                   "--data-dir /proc/crosscurrent-x: cannot write there",
                                   env={"CROSSCURRENT_REDIS_URL": ""}, redis=False),
    # 6. notification URLs
    "--notify not a URL": Case(("replay", "t.jsonl", "--notify", "notaurl"),
                               "--notify URL #1 is not an apprise URL",
                               {"t.jsonl": lambda: TICK.encode()}),
    "receiver without a scheme": Case(("feeds", *CONFIG), "receiver ops: URL #1 is not an "
                                      "apprise URL", {"c.yaml": receiver("notaurl")}),
    "receiver apprise cannot read": Case(("replay", "t.jsonl", *CONFIG),
                                         "apprise cannot read URL #1",
                                         {"c.yaml": receiver("nosuchservice://x"),
                                          "t.jsonl": lambda: TICK.encode()}),
    # 7. silent misconfiguration
    "environment variable typo": Case(("feeds",), "did you mean CROSSCURRENT_REDIS_URL?",
                                      env={"CROSSCURRENT_REDIS_ULR": "redis://x:1/0"}),
    "config key typo": Case(("feeds", *CONFIG), "did you mean 'redis.batch_size'?",
                            {"c.yaml": lambda: b"redis:\n  bach_size: 3\n"}),
    "two rules of one name": Case(("feeds", *CONFIG), "two rules are named 'same'",
                                  {"c.yaml": two_rules}),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_bad_input_is_one_line(case: Case, tmp_path: Path, redis_url: str,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name, content in case.files.items():
        (tmp_path / name).write_bytes(content())
    monkeypatch.chdir(tmp_path)
    args = [*case.args, *(["--redis", redis_url] if case.redis else [])]
    result = crosscurrent(*args, env={**QUIET, **case.env}, timeout=60)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("crosscurrent: error: ") and case.word in lines[0], lines[0]


def test_an_enormous_tape_line_is_counted_skipped_and_the_replay_goes_on(
        tmp_path: Path, redis_url: str) -> None:
    tape = tmp_path / "t.jsonl"
    with tape.open("wb") as out:  # one write: 50 MB of a single line between two good ones
        out.write(b"".join([TICK.encode(), b'{"x":"', b"a" * 50_000_000, b'"}\n',
                            TICK2.encode()]))
    result = crosscurrent("replay", str(tape), "--redis", redis_url, env=QUIET, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "line 2 skipped: 50,000,009 bytes long" in line
    assert f"over the limit of {MAX_LINE_BYTES:,} bytes" in line
    assert "1 bad tape line(s) skipped" in result.stdout
    assert "2 events" in result.stdout


def test_what_is_not_a_typo_still_loads(tmp_path: Path) -> None:
    """The project's own variables, the secrets the config names (env:NAME) and the
    SECRET_ prefix are no typos; anchors and merge keys within the limit load."""
    path = tmp_path / "c.yaml"
    path.write_text("agent: {batch: 7}\nnotify:\n  receivers:\n"
                    "    - {name: ops, urls: ['env:CROSSCURRENT_OPS_URL']}\n")
    config = load_config(path, env={"CROSSCURRENT_LONG_FAULTS": "1",
                                    "CROSSCURRENT_COMPILED": "0",
                                    "CROSSCURRENT_SECRET_TOKEN": "x",
                                    "CROSSCURRENT_OPS_URL": "json://127.0.0.1:1/hook",
                                    "CROSSCURRENT_AGENT_BATCH": "9"})
    assert config.agent.batch == 9 and config.notify.receivers[0].name == "ops"
    path.write_text("detectors:\n  rules:\n    - &r {name: a, when: 'price(\"hk:HSI\") > 1'}\n"
                    "    - {<<: *r, name: b}\n")
    assert [r.name for r in load_config(path, env={}).detectors.rules] == ["a", "b"]
    with pytest.raises(ConfigError, match="did you mean CROSSCURRENT_KAFKA_BROKER"):
        load_config(env={"CROSSCURRENT_KAFKA_BROKR": "kafka://x:1"})
