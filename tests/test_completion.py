"""`crosscurrent completion SHELL`: the script, loaded in a real bash, completes commands,
subcommands, options and their choices."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def completions(script: str, *words: str) -> list[str]:
    """What TAB offers after `crosscurrent WORDS...` (the last word being typed), in the
    checkout."""
    quoted = " ".join(f"'{w}'" for w in ("crosscurrent", *words))
    shell = (f"source /dev/stdin; COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; "
             "_shtab_crosscurrent; printf '%s\\n' \"${COMPREPLY[@]}\"")
    done = subprocess.run(["bash", "-c", shell], input=script, capture_output=True, text=True,
                          timeout=30, check=True, cwd=ROOT)
    return done.stdout.split()


def test_bash_completes_commands_options_and_choices() -> None:
    script = subprocess.run([sys.executable, "-m", "crosscurrent", "completion", "bash"],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert completions(script, "wat") == ["watch", "watchlist"]
    assert completions(script, "watchlist", "") == ["add", "remove", "list"]
    assert completions(script, "demo", "--la") == ["--lang"]
    assert completions(script, "demo", "--lang", "") == ["en", "zh", "both"]
    assert "backtest" in completions(script, "")
    # file and directory arguments complete as paths
    assert completions(script, "replay", "crosscurrent/data/seed-") == [
        "crosscurrent/data/seed-2026-04-08.jsonl"]
    assert completions(script, "demo", "--config", "pyproj") == ["pyproject.toml"]
    assert completions(script, "demo", "--data-dir", "scrip") == ["scripts"]


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_other_shells_get_a_script_too(shell: str) -> None:
    done = subprocess.run([sys.executable, "-m", "crosscurrent", "completion", shell],
                          capture_output=True, text=True, timeout=60, check=True)
    assert "watchlist" in done.stdout and "backtest" in done.stdout
