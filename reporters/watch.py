"""The dashboard's I/O: the board fed from a pipeline's streams (read-only: plain XREAD, no
consumer group, so any number of viewers can attach) and redrawn at a fixed rate in a rich
`Live`, whatever the event rate. Keys: q quits (the terminal is restored), p pauses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
import tty
from collections.abc import Iterator
from typing import Any

from redis import asyncio as aioredis
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from crosscurrent.catalog import default_catalog, family
from crosscurrent.events import Alert, Quote, decode_entry
from crosscurrent.notify_config import Lang
from reporters.board import Board
from reporters.dashboard import render
from streams.bus import FIELD, entries_of
from streams.keys import Keys
from streams.redis_client import Link, xread_through_outages

FPS = 4
BACKFILL = 5000  # entries per stream read at attach time, so the board starts full


def _streams(keys: Keys) -> list[str]:
    families = sorted({family(i.id) for i in default_catalog()})
    return [keys.events(f) for f in families] + [keys.status, keys.alerts]


async def follow(board: Board, redis: aioredis.Redis, keys: Keys, history: bool = True) -> None:
    """Feed `board` with what the pipeline writes (from a little history on, or from now),
    until cancelled."""
    cursors: dict[Any, Any] = {}
    for stream in _streams(keys):
        recent: Any = await redis.xrevrange(stream, count=BACKFILL if history else 1)
        if history:
            for _, fields in reversed(recent):
                _take(board, fields.get(FIELD, b""))
        cursors[stream] = recent[0][0] if recent else "0-0"
    link = Link(redis)
    try:
        while True:
            for entry in entries_of(await xread_through_outages(link, cursors, 2000, 250,
                                                                "dashboard")):
                _take(board, entry.payload)
                cursors[entry.stream] = entry.id
    finally:
        await link.release()


def _take(board: Board, payload: bytes) -> None:
    for event in decode_entry(payload)[0]:
        if not isinstance(event, Quote):
            board.take(event)


@contextlib.contextmanager
def _keys_mode() -> Iterator[bool]:
    """Single keys without Enter while the dashboard runs; the terminal restored after."""
    if not sys.stdin.isatty():
        yield False
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class Screen:
    """Draws a board on a terminal until `q` (or cancellation)."""

    def __init__(self, board: Board, console: Console, lang: Lang = "both") -> None:
        self.board = board
        self.console = console
        self.lang = lang
        self.paused = False
        self.status = ""  # a line over the board: finished, ...
        self.quit = asyncio.Event()
        self._frozen: Any = None

    def _frame(self) -> Any:
        size = self.console.size
        note = "paused: p resumes, q quits" if self.paused else self.status
        if self.paused and self._frozen is not None:
            board = self._frozen
        else:
            board = self._frozen = render(self.board, size.width,
                                          size.height - (1 if note else 0), self.lang)
        return Group(Text(note, style="bold yellow"), board) if note else board

    def _key(self) -> None:
        key = os.read(sys.stdin.fileno(), 1).decode(errors="ignore").lower()
        if key == "q":
            self.quit.set()
        elif key == "p":
            self.paused = not self.paused  # the last frame stays while paused

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        with _keys_mode() as keys, Live(self._frame(), console=self.console, screen=True,
                                        auto_refresh=False) as live:
            if keys:
                loop.add_reader(sys.stdin.fileno(), self._key)
            try:
                while not self.quit.is_set():
                    live.update(self._frame(), refresh=True)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.quit.wait(), 1 / FPS)
            finally:
                if keys:
                    loop.remove_reader(sys.stdin.fileno())


class DashboardView:
    """The foreground dashboard of `demo`, `replay` and `run` (a View): attached to the
    pipeline's Redis like `watch`; alerts are on the board, so nothing is printed meanwhile."""

    def __init__(self, board: Board, console: Console, lang: Lang = "both") -> None:
        self.board = board
        self.screen = Screen(board, console, lang)
        self.alerts = 0

    def alert(self, alert: Alert) -> None:
        self.alerts += 1

    def progress(self, tape_ts: int, done: int, total: int) -> None:
        pass

    async def attach(self, redis: aioredis.Redis, keys: Keys, history: bool = True) -> None:
        """Follow and draw until q (or cancellation)."""
        follower = asyncio.create_task(follow(self.board, redis, keys, history))
        try:
            await self.screen.run()
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)


    async def attach_url(self, url: str, keys: Keys, history: bool = True) -> None:
        from streams.redis_client import connect

        redis = await connect(url)
        try:
            await self.attach(redis, keys, history)
        finally:
            await redis.aclose()
