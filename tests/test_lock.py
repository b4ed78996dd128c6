"""Two `crosscurrent replay` processes on one data directory: one replays, one is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from crosscurrent.catalog import default_catalog
from tests.conftest import ROOT

ENV = dict(os.environ, CROSSCURRENT_REDIS_URL="", CROSSCURRENT_REDIS_PREFIX="cc")


def tape(path: Path) -> Path:
    """crash-day without its DefiLlama series: polled every 5 ms while the tape races at
    --speed max, which hourly values they catch depends on the machine's load, and so do the
    flows alerts; the rest gives the same alerts run after run."""
    catalog = default_catalog()
    kept = []
    for line in (ROOT / "tests" / "data" / "crash-day.jsonl").read_text().splitlines():
        found = json.loads(line) if line.startswith("{") else {}
        if "ts" not in found or catalog[found["id"]].source != "defillama":
            kept.append(line)
    path.write_text("\n".join(kept) + "\n")
    return path


def replay(tape: Path, data_dir: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crosscurrent", "replay", str(tape), "--speed", "max", "--plain",
         "--data-dir", str(data_dir), "--out", str(out)],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def uids(out: Path) -> list[str]:
    return [json.loads(line)["uid"] for line in (out / "alerts.jsonl").read_text().splitlines()]


def held(data_dir: Path) -> bool:
    """Whether a replay holds namespace `replay` in the embedded Redis of `data_dir`."""
    try:
        url = json.loads((data_dir / "server.json").read_text())["url"]
        probe = redis.Redis.from_url(url, socket_timeout=2)
        try:
            return bool(probe.exists("cc:owner:replay"))
        finally:
            probe.close()
    except (OSError, ValueError, KeyError, redis.RedisError):
        return False


@pytest.mark.timeout(240)
def test_a_second_replay_on_one_data_dir_is_refused_and_the_first_is_untouched(
        tmp_path: Path) -> None:
    day = tape(tmp_path / "day.jsonl")
    solo = replay(day, tmp_path / "solo", tmp_path / "solo-out")  # alone on its own data dir
    first = replay(day, tmp_path / "shared", tmp_path / "first-out")
    try:
        deadline = time.monotonic() + 60
        while not held(tmp_path / "shared"):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        second = replay(day, tmp_path / "shared", tmp_path / "second-out")
        out, err = second.communicate(timeout=60)
        assert first.poll() is None, "the first replay ended before the second was refused"
        first_said = first.communicate(timeout=120)
        solo_said = solo.communicate(timeout=120)
    finally:
        first.kill()
        solo.kill()
    assert first.returncode == 0, first_said
    assert solo.returncode == 0, solo_said
    alone = uids(tmp_path / "solo-out")
    assert alone and len(set(alone)) == len(alone)
    assert second.returncode == 2, out + err
    errors = [line for line in err.splitlines() if line.startswith("crosscurrent: error:")]
    assert len(errors) == 1 and "Traceback" not in out + err, err
    assert "namespace `replay` on unix://:***@" in errors[0]
    assert f"in use by pid {first.pid} (crosscurrent replay {day} --speed max" in errors[0]
    assert "if that process is gone, the lock expires within" in errors[0]
    assert not list(tmp_path.glob("second-out/*"))  # refused before it wrote anything
    together = uids(tmp_path / "first-out")
    assert len(together) == len(alone) and len(set(together)) == len(together), \
        (len(alone), len(together), sorted(set(alone) ^ set(together)))
    assert set(together) == set(alone)  # the solo run's alerts, nothing from the second
