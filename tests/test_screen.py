"""Progress bars and plain output as a terminal and a pipe get them (a real pseudo-terminal
through util-linux's `script`)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED

on_a_terminal = pytest.mark.skipif(shutil.which("script") is None,
                                   reason="needs util-linux's script for a pseudo-terminal")
BAR = """
import time
from crosscurrent.screen import Bar
with Bar("work", 4) as bar:
    for done in range(1, 5):
        time.sleep(0.3)
        bar(done, f"step {done}")
print("done")
"""


def in_terminal(*command: str) -> str:
    """What a terminal gets of `command` (stdout and stderr), without escape codes."""
    done = subprocess.run(["script", "-qec", shlex.join(command), "/dev/null"],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COLUMNS="120", TERM="xterm"))
    assert done.returncode == 0, done.stdout
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", done.stdout)  # colours, cursor moves


@on_a_terminal
def test_a_bar_is_drawn_on_a_terminal_and_gone_when_done() -> None:
    shown = in_terminal(sys.executable, "-c", BAR)
    assert re.search(r"work ━+[╸╺]?━* 3/4", shown) and "step 3" in shown, shown
    assert shown.rstrip().endswith("done")


def test_piped_there_is_no_bar() -> None:
    done = subprocess.run([sys.executable, "-c", BAR], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout == "done\n" and done.stderr == ""


@on_a_terminal
def test_the_backtest_shows_its_progress_on_a_terminal(tmp_path: Path) -> None:
    shown = in_terminal(sys.executable, "-m", "crosscurrent", "backtest",
                        str(SHARED / "data" / "history"), "--from", "2013-01-01", "--to",
                        "2013-12-31", "--out", str(tmp_path))
    assert re.search(r"backtest ━+[╸╺]?━* +\d+/\d+", shown), shown[:2000]  # the bar
    assert "critical" in shown  # and then its table
