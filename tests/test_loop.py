"""The event loop the commands run on (`loop` in the config)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version

import pytest
import uvloop

from crosscurrent.loop import Choice, LoopUnavailableError, loop_in_use, use_loop


@pytest.fixture(autouse=True)
def default_policy() -> Iterator[None]:
    yield
    asyncio.set_event_loop_policy(None)


async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


@pytest.mark.parametrize("choice", ["auto", "uvloop"])
def test_uvloop_where_it_is_installed(choice: Choice) -> None:
    use_loop(choice)
    assert isinstance(asyncio.run(running_loop()), uvloop.Loop)
    assert loop_in_use() == f"uvloop {version('uvloop')}"


def test_asyncio_when_asked_for() -> None:
    use_loop("uvloop")
    use_loop("asyncio")
    assert not isinstance(asyncio.run(running_loop()), uvloop.Loop)
    assert loop_in_use() == "asyncio"


def test_without_uvloop_auto_is_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if not installed: import fails
    use_loop("auto")
    assert loop_in_use() == "asyncio"


def test_without_uvloop_asking_for_it_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    with pytest.raises(LoopUnavailableError, match="uvloop is not installed; install it"):
        use_loop("uvloop")


@pytest.mark.parametrize(("code", "message"), [
    ("", "environment variable CROSSCURRENT_LOOP: key 'loop'"),
    ("sys.modules['uvloop'] = None; ", "loop: uvloop is not installed"),
])
def test_a_loop_that_cannot_be_had_is_one_line(code: str, message: str) -> None:
    env = dict(os.environ, CROSSCURRENT_LOOP="uvlop" if not code else "uvloop")
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; {code}from crosscurrent.cli import main; "
         "sys.exit(main(['audit', '--redis', 'redis://127.0.0.1:1/0']))"],
        capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
