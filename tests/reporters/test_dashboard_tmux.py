"""End to end in real terminals (tmux): `crosscurrent demo` shows the dashboard live in
160x48 and quits on q; `crosscurrent watch` shows the same from another terminal."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SEED_TAPE

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux"),
              pytest.mark.timeout(420)]  # a loaded machine's screens take their time
ROOT = Path(__file__).resolve().parents[2]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def start(command: str) -> str:
    session = f"cc-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "48",
         f"cd {shlex.quote(str(ROOT))} && unset COLUMNS LINES && {command}; sleep 60")
    return session


def screen_until(session: str, ready: Callable[[str], bool], timeout: float = 180) -> str:
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        text = tmux("capture-pane", "-p", "-t", session)
        if ready(text):
            return text
        time.sleep(0.5)
    raise AssertionError(f"the screen never got there:\n{text}")


def crosscurrent() -> str:
    return shlex.quote(sys.executable) + " -m crosscurrent"


def test_demo_shows_the_live_dashboard_and_quits_on_q(tmp_path: Path) -> None:
    session = start(f"{crosscurrent()} demo --speed max --data-dir {tmp_path / 'redis'} "
                    f"--out {tmp_path / 'out'}")
    try:
        text = screen_until(session, lambda t: "finished: q quits" in t)
        for needle in ("transmission chain", "broken at HK", "HSTECH 恒生科技", "BTC 比特币",
                       "Crypto vs HK tech", "alerts (newest first)", "macro  calm", "A-shares",
                       "DeFi & stablecoins", "feeds"):
            assert needle in text, needle
        tmux("send-keys", "-t", session, "q")
        text = screen_until(session, lambda t: "wrote" in t and "report.html" in t)
        written = (tmp_path / "out" / "alerts.jsonl").read_text().count("\n")
        assert written > 20 and f"{written} alerts" in " ".join(text.split())
    finally:
        tmux("kill-session", "-t", session)


def test_watch_follows_a_running_pipeline_from_another_terminal(redis_url: str) -> None:
    session = start(f"{crosscurrent()} watch --redis {shlex.quote(redis_url)} "
                    "--namespace replay --lang both")
    try:
        screen_until(session, lambda t: "crosscurrent" in t and "alerts" in t, timeout=20)
        pipeline = subprocess.Popen(  # the pipeline starts after the viewer attached
            [sys.executable, "-m", "crosscurrent", "replay", str(SEED_TAPE), "--speed", "max",
             "--redis", redis_url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=dict(os.environ))
        text = screen_until(session, lambda t: "broken at HK" in t and "BTC 比特币" in t)
        assert "HSTECH 恒生科技" in text
        assert pipeline.wait(120) == 0
        screen_until(session, lambda t: "Crypto vs HK tech" in t)
        tmux("send-keys", "-t", session, "p")
        screen_until(session, lambda t: "paused: p resumes, q quits" in t, timeout=10)
        tmux("send-keys", "-t", session, "q")
        screen_until(session, lambda t: "transmission chain" not in t, timeout=10)
    finally:
        tmux("kill-session", "-t", session)
