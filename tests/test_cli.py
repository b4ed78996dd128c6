"""The `crosscurrent` command end to end, as a user runs it (real processes, real servers)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from crosscurrent.events import Tick, encode
from streams.bus import FIELD
from streams.keys import Keys
from streams.redis_client import connect
from tests.conftest import SEED_TAPE, calm_history


def crosscurrent(*args: str, env: dict[str, str] | None = None, timeout: float = 120
                 ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crosscurrent", *args], capture_output=True, text=True,
        timeout=timeout, env=dict(os.environ, COLUMNS="200", **(env or {})),
    )


def alerts_of(out: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]


def test_seed_day_yields_the_crypto_vs_hong_kong_tech_divergence(redis_url: str, tmp_path: Path
                                                                 ) -> None:
    result = crosscurrent("replay", str(SEED_TAPE), "--speed", "max", "--out", str(tmp_path),
                          "--redis", redis_url)
    assert result.returncode == 0, result.stderr
    alerts = alerts_of(tmp_path)
    btc_hstech = [a for a in alerts if a["key"] == "divergence:crypto:BTC/hk:HSTECH"]
    assert btc_hstech, alerts
    last = btc_hstech[-1]
    # the gap is 4.8 times the pair's usual one in the tape's history: a warning
    assert last["state"] == "firing" and last["severity"] == "warning"
    values = last["values"]
    assert last["ids"] == ["crypto:BTC", "hk:HSTECH"]
    assert isinstance(values, dict) and values["z"] >= 3.5
    for field in ("ts", "detector", "key", "state", "severity", "ids", "title", "values"):
        assert field in last
    keys = {str(a["key"]) for a in alerts}
    # the seed report's findings
    assert keys >= {"divergence:crypto:ETH/crypto:BTC", "divergence:crypto:BTC/us:IXIC",
                    "chain:broken:HK", "flows:stablecoins", "flows:tvl:tvl:superstate",
                    "flows:category:rwa", "leverage:liquidation:crypto:ETH"}
    assert any(k.startswith("flows:dex:") for k in keys)
    assert any(k.startswith("synthesis:flow:") for k in keys)
    risks = {k for k in keys if k.startswith("synthesis:risk:")}
    assert risks >= {"synthesis:risk:HK/A-share correlation breakdown",
                     "synthesis:risk:RWA DeFi contagion",
                     "synthesis:risk:Crypto leverage liquidation"}
    assert all(a["title_zh"] for a in alerts)
    assert "FIRING" in result.stdout and "Hang Seng TECH" in result.stdout
    assert "0 malformed" in result.stdout


def test_replay_counts_bad_tape_lines_and_goes_on(redis_url: str, tmp_path: Path) -> None:
    tape = tmp_path / "tape.jsonl"
    history = calm_history(["crypto:BTC", "hk:HSTECH"], "2026-04-08")
    tape.write_text("\n".join([
        *history,
        '{"ts":"2026-04-08T01:30:00Z","id":"hk:HSTECH","value":5600,"prev_close":5610}',
        '{"ts":"2026-04-08T01:31:00Z","id":"crypto:BTC","value":71000,"prev_close":68000}',
        "{not json at all",
        '{"ts":"2026-04-08T01:32:00Z","id":"nope:X","value":1}',
        '{"ts":"2026-04-08T01:33:00Z","id":"hk:HSTECH","value":5500}',
        # a source forced by the tape that has no simulator: straight into the bus
        '{"ts":"2026-04-08T01:34:00Z","id":"cn:ADVANCERS","value":1584,"source":"manual"}',
    ]) + "\n")
    # paced (events 100 ms apart): at max speed the Yahoo ticks may overtake the Binance one
    result = crosscurrent("replay", str(tape), "--out", str(tmp_path / "out"),
                          "--redis", redis_url, "--speed", "600")
    assert result.returncode == 0, result.stderr
    assert "2 bad tape line(s) skipped" in result.stdout
    assert f"line {len(history) + 3} skipped: not JSON" in result.stderr
    assert f"line {len(history) + 4} skipped: unknown or missing id 'nope:X'" in result.stderr
    assert "4 events" in result.stdout and "1 straight into the bus" in result.stdout
    alerts = [a for a in alerts_of(tmp_path / "out") if a["detector"] == "divergence"]
    assert [(a["key"], a["severity"]) for a in alerts] == [
        ("divergence:crypto:BTC/hk:HSTECH", "warning"),   # BTC +4.41% vs HSTECH -0.18%
        ("divergence:crypto:BTC/hk:HSTECH", "critical"),  # BTC +4.41% vs HSTECH -1.96%
    ]


def test_demo_runs_on_its_own_embedded_redis(tmp_path: Path) -> None:
    result = crosscurrent("demo", "--speed", "max", "--data-dir", str(tmp_path / "redis"),
                          "--out", str(tmp_path / "out"), env={"CROSSCURRENT_REDIS_URL": ""})
    assert result.returncode == 0, result.stderr
    assert "demo 2026-04-08: 3295 events" in result.stdout
    # every id through its adapter (the summary wraps at the terminal's width)
    assert "0 straight into the bus" in " ".join(result.stdout.split())
    counts = re.findall(r"(\S+) (\d+) frames sent / (\d+) read", " ".join(result.stdout.split()))
    assert len(counts) == 7 and all(sent == read for _, sent, read in counts), counts
    assert any(a["key"] == "divergence:crypto:BTC/hk:HSTECH" for a in alerts_of(tmp_path / "out"))
    assert any((tmp_path / "redis").rglob("*.aof"))


@pytest.mark.parametrize(("args", "env", "message"), [
    (["replay", "missing.jsonl"], {}, "tape missing.jsonl: cannot open it"),
    (["demo", "--redis", "redis://127.0.0.1:1/0"], {}, "cannot reach Redis at redis://127.0.0.1:1/0"),
    (["demo"], {"CROSSCURRENT_AGENT_BATCH": "lots"},
     "environment variable CROSSCURRENT_AGENT_BATCH: key 'agent.batch'"),
])
def test_user_errors_are_one_line_without_traceback(args: list[str], env: dict[str, str],
                                                     message: str) -> None:
    result = crosscurrent(*args, env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_config_file_names_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "my.yaml"
    config.write_text("agent:\n  batch: 0\n")
    result = crosscurrent("demo", "--config", str(config))
    assert result.returncode == 2
    assert f"config {config}: key 'agent.batch': input should be greater than or equal to 1" \
        in result.stderr


def test_help_teaches_with_examples() -> None:
    result = crosscurrent("--help")
    assert result.returncode == 0
    assert "crosscurrent replay day.jsonl --speed max --out out/" in result.stdout
    assert "private redis-server" in result.stdout
    assert "tape seconds per second; 'max' (default)" in crosscurrent("replay", "--help").stdout


def test_every_command_s_help_ends_with_examples() -> None:
    """`COMMAND --help` shows, for each command and subcommand, at least one command line to
    copy (run in-process: the parser is the one the command uses)."""
    from crosscurrent.cli import build_parser

    def commands(parser: argparse.ArgumentParser, path: tuple[str, ...]
                 ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield (*path, name), child
                    yield from commands(child, (*path, name))

    found = list(commands(build_parser(), ()))
    assert len(found) >= 20
    for path, parser in found:
        text = parser.format_help()
        assert re.search(r"^examples?:$", text, re.M), f"{' '.join(path)} has no example"
        lines = re.findall(r"^  (?:crosscurrent|bash scripts/)\S* .*$", text, re.M)
        assert lines, f"{' '.join(path)}: no command line among its examples"


def test_config_command_prints_the_documented_default() -> None:
    result = crosscurrent("config")
    assert result.returncode == 0 and "CROSSCURRENT_" in result.stdout
    assert "divergence:" in result.stdout


def test_catalog_command_lists_ids_with_chinese_names() -> None:
    result = crosscurrent("catalog")
    assert "hk:HSTECH" in result.stdout and "恒生科技" in result.stdout


def test_a_faust_worker_without_a_shared_redis_says_what_to_give() -> None:
    done = crosscurrent("worker", "--engine", "faust", env={"CROSSCURRENT_REDIS_URL": ""})
    assert done.returncode != 0
    (line,) = done.stderr.strip().splitlines()
    assert "--redis URL" in line and "run --bus kafka" in line


def test_an_embedded_worker_runs_the_agents_until_sigterm(redis_url: str, keys: Keys) -> None:
    ours = Keys("cc", keys.namespace)
    process = subprocess.Popen(
        [sys.executable, "-m", "crosscurrent", "worker", "--engine", "embedded", "--redis",
         redis_url, "--namespace", ours.namespace], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)

    async def feed_and_wait() -> int:
        redis = await connect(redis_url)
        for n in range(50):
            tick = Tick(id="crypto:BTC", ts=1775635200000 + n, price=100.0 + n, prev_close=100.0)
            await redis.xadd(ours.events("crypto"), {FIELD: encode(tick)})
        deadline = time.monotonic() + 60
        consumed = 0
        while consumed < 50 and time.monotonic() < deadline:
            consumed = int(await redis.hget(ours.stats, "agent.detectors.consumed") or 0)
            await asyncio.sleep(0.1)
        await redis.aclose()
        return consumed

    try:
        assert asyncio.run(feed_and_wait()) == 50
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, out


def test_an_embedded_redis_that_cannot_start_is_one_line_naming_its_log(tmp_path: Path) -> None:
    data = tmp_path / "redis"
    (data / "appendonlydir").mkdir(parents=True)
    (data / "appendonlydir" / "appendonly.aof.manifest").write_text("not a manifest\n")
    result = crosscurrent("demo", "--data-dir", str(data), env={"CROSSCURRENT_REDIS_URL": ""})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "crosscurrent: error: redis-server exited at start" in result.stderr
    assert str(data / "redis.log") in " ".join(result.stderr.split())


def test_commands_start_without_loading_ccxt() -> None:
    """ccxt loads every exchange it has when any part of it is imported (about a second
    here): only a configured ccxt source should pay that, not every command."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, crosscurrent.app, crosscurrent.cli, "
         "crosscurrent.sources; print(sorted(m for m in sys.modules if m.startswith('ccxt')))"],
        capture_output=True, text=True, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_read_commands_follow_the_namespace_written_last(redis_url: str, tmp_path: Path
                                                         ) -> None:
    """After a replay, `alerts` and `report` read its namespace without being told, and say
    so on stderr (stdout stays the data); --namespace still chooses."""
    prefix = {"CROSSCURRENT_REDIS_PREFIX": f"cc{os.getpid()}x{tmp_path.name[-6:]}"}
    before = crosscurrent("alerts", "list", "--redis", redis_url, env=prefix)
    assert before.returncode == 0 and before.stdout == "", before.stderr
    assert "namespace live (nothing was written here yet" in before.stderr
    assert "no alerts in namespace live" in before.stderr
    tape = tmp_path / "tape.jsonl"
    tape.write_text(
        '{"ts":"2026-04-08T01:30:00Z","id":"hk:HSTECH","value":5500,"prev_close":5610}\n'
        '{"ts":"2026-04-08T01:31:00Z","id":"crypto:BTC","value":71000,"prev_close":68000}\n')
    assert crosscurrent("replay", str(tape), "--redis", redis_url, env=prefix).returncode == 0
    listed = crosscurrent("alerts", "list", "--redis", redis_url, env=prefix)
    assert listed.returncode == 0, listed.stderr
    assert "divergence:crypto:BTC/hk:HSTECH" in listed.stdout
    assert "namespace replay (written last, by pid" in listed.stderr
    assert "crosscurrent replay" in listed.stderr
    report = crosscurrent("report", "--redis", redis_url, "--out", str(tmp_path / "r"),
                          env=prefix)
    assert report.returncode == 0 and "namespace replay" in report.stderr, report.stderr
    assert '"crypto:BTC"' in (tmp_path / "r" / "report.json").read_text()
    told = crosscurrent("alerts", "list", "--redis", redis_url, "--namespace", "live", env=prefix)
    assert told.returncode == 0 and told.stdout == ""
    assert told.stderr == "no alerts in namespace live\n"  # not followed: nothing to say
    # piped, the tables are plain whole lines: `feeds | grep binance` finds the row entire
    feeds = crosscurrent("feeds", "--redis", redis_url, env=prefix)
    audit = crosscurrent("audit", "--redis", redis_url, env=prefix)
    for piped in (feeds, audit):
        assert piped.returncode == 0, piped.stderr
        assert "\x1b[" not in piped.stdout and "│" not in piped.stdout and "…" not in piped.stdout
    (row,) = [line for line in feeds.stdout.splitlines() if line.split()[:1] == ["binance"]]
    assert "crypto:BTC, crypto:ETH" in row and "connected" in row and len(row) > 200
    (row,) = [line for line in audit.stdout.splitlines() if line.split()[:2] == ["feed",
                                                                               "binance"]]
    assert "sent " in row and "received " in row and "parsed " in row


def test_a_report_of_an_empty_namespace_says_so(redis_url: str, tmp_path: Path) -> None:
    result = crosscurrent("report", "--redis", redis_url, "--namespace", "nothing-here",
                          "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and not (tmp_path / "r" / "report.md").exists()
    assert "namespace nothing-here holds no events or alerts: nothing to report" \
        in result.stderr and len(result.stderr.splitlines()) == 1


def test_piped_output_is_whole_lines_without_colour() -> None:
    """`crosscurrent catalog | grep TOTAL_MCAP` finds the whole line (not one cut at 80)."""
    result = subprocess.run([sys.executable, "-m", "crosscurrent", "catalog"],
                            env=dict(os.environ, COLUMNS="80"),
                            capture_output=True, text=True, timeout=60, check=True)
    (line,) = [row for row in result.stdout.splitlines() if "TOTAL_MCAP" in row]
    assert "crypto:TOTAL_MCAP" in line and "Total crypto market cap" in line
    assert "coingecko" in line and "global.total_market_cap.usd" in line
    assert "\x1b[" not in result.stdout and "│" not in result.stdout


def test_without_the_cn_extra_a_replay_runs_and_says_which_extra(redis_url: str,
                                                                 tmp_path: Path) -> None:
    """A base install (no akshare, no trustme) replays the seed day: the A-share ids go
    straight into the bus, with one line naming the extra that would adapt them."""
    code = ("import sys; sys.modules['akshare'] = None; sys.modules['trustme'] = None; "
            "from crosscurrent.cli import main; sys.exit(main(sys.argv[1:]))")
    result = subprocess.run(
        [sys.executable, "-c", code, "replay", str(SEED_TAPE), "--speed", "max", "--plain",
         "--redis", redis_url, "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=180, env=dict(os.environ, COLUMNS="200"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "cn:ADVANCERS, cn:DECLINERS, cn:TURNOVER replayed straight into the bus: its " \
           "adapter needs akshare (pip install 'crosscurrent[cn]')" in result.stderr
    assert len(alerts_of(tmp_path)) >= 15


def test_a_fresh_data_dir_is_made_private_without_a_warning(tmp_path: Path) -> None:
    """The embedded Redis's data dir and the user's data folder above it are made 0700 (not
    made 0755, then narrowed with a warning)."""
    result = crosscurrent("feeds", env={"XDG_DATA_HOME": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr
    assert "open to other users" not in result.stderr
    for folder in (tmp_path / "data" / "crosscurrent", tmp_path / "data" / "crosscurrent" /
                   "redis"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
