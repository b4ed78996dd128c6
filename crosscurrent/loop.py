"""The event loop the commands run on: uvloop's where it is installed, else asyncio's."""

from __future__ import annotations

import asyncio
import importlib.util
from importlib.metadata import version
from typing import Literal

Choice = Literal["auto", "uvloop", "asyncio"]


class LoopUnavailableError(RuntimeError):
    """uvloop was asked for and is not installed; the message says what to do."""


def use_loop(choice: Choice) -> None:
    """Make `choice` the loop of every `asyncio.run` that follows in this process. `auto`:
    uvloop when it can be imported (the `fast` extra), else asyncio's own."""
    if choice == "asyncio" or (choice == "auto" and importlib.util.find_spec("uvloop") is None):
        asyncio.set_event_loop_policy(None)
        return
    try:
        import uvloop
    except ImportError:
        raise LoopUnavailableError(
            "loop: uvloop is not installed; install it (pip install 'crosscurrent[fast]', "
            "or .venv/bin/pip install uvloop) or set loop: asyncio") from None
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def loop_in_use() -> str:
    """The loop `asyncio.run` makes now: "uvloop 0.22.1" or "asyncio"."""
    module = type(asyncio.get_event_loop_policy()).__module__
    return f"uvloop {version('uvloop')}" if module.startswith("uvloop") else "asyncio"
