"""`crosscurrent init`: a commented config that every command then reads, whose receiver
gets a real notification and whose comments survive `watchlist add`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from crosscurrent.config import load_config
from tests.reporters.receiver import receiver


def crosscurrent(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_CONFIG_HOME=str(home), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "crosscurrent", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_init_writes_the_user_s_config_that_the_other_commands_read(tmp_path: Path) -> None:
    with receiver() as heard:
        made = crosscurrent("init", "--watch", "SOL/USDT", "--notify",
                            f"{heard.url}?x=1&y=2", home=tmp_path)
        assert made.returncode == 0, made.stderr
        path = tmp_path / "crosscurrent" / "config.yaml"
        assert f"wrote {path}" in made.stdout
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a receiver URL may hold a token
        text = path.read_text()
        assert text.count("\n#") >= 5  # explained
        config = load_config(path)
        assert "crypto:SOL" in config.watchlist and "us:SPX" in config.watchlist
        (phone,) = config.notify.receivers
        assert phone.name == "phone" and phone.urls == (f"{heard.url}?x=1&y=2",)
        assert config.notify.routes[0].receivers == ("phone",)
        # every command reads it without --config: the receiver it names gets the test
        sent = crosscurrent("notify", "test", "phone", home=tmp_path)
        assert sent.returncode == 0, sent.stderr
        assert len(heard.received) == 1
    listed = crosscurrent("watchlist", "list", home=tmp_path)
    assert "SOL/USDT" in listed.stdout and "crypto:SOL" in listed.stdout
    added = crosscurrent("watchlist", "add", "--offline", "NVDA", home=tmp_path)
    assert added.returncode == 0, added.stderr
    again = path.read_text()
    assert "# What to follow" in again and "NVDA" in again  # comments kept


def test_init_keeps_an_existing_file_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("watchlist: [us:SPX]\n")
    kept = crosscurrent("init", "--config", str(path), home=tmp_path)
    assert kept.returncode == 2
    assert kept.stderr.count("\n") == 1 and "--force" in kept.stderr
    assert path.read_text() == "watchlist: [us:SPX]\n"
    forced = crosscurrent("init", "--config", str(path), "--force", home=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert load_config(path).notify.receivers == ()


def test_a_symbol_that_cannot_be_followed_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    refused = crosscurrent("init", "--config", str(path), "--watch", "NOT A SYMBOL",
                           home=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert not path.exists() and not list(tmp_path.glob(".mine.yaml*"))
