"""A polling loop's rounds, which a replay can also ask for: in step with the tape."""

from __future__ import annotations

import asyncio
import contextlib


class Rounds:
    """Counts a polling loop's rounds. Between rounds the loop `pause`s; `ask` cuts the pause
    short and waits for the end of a round that started after it was called (a round under
    way may have asked its server before the caller's change)."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.closed = False  # the loop has stopped: nothing to ask for
        self._wake = asyncio.Event()
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []

    def begin(self) -> None:
        self.started += 1
        self._wake.clear()

    def end(self) -> None:
        self.finished += 1
        still: list[tuple[int, asyncio.Future[None]]] = []
        for wanted, waiter in self._waiting:
            if wanted <= self.finished:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                still.append((wanted, waiter))
        self._waiting = still

    def close(self) -> None:
        """The loop stopped (for good, or failed): whoever waits on it waits no more."""
        self.closed = True
        for _, waiter in self._waiting:
            if not waiter.done():
                waiter.set_result(None)
        self._waiting = []

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if a round is asked for."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def ask(self) -> None:
        """One more round, starting now (or right after the one under way), and its end; at
        once if the loop has stopped."""
        if self.closed:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((self.started + 1, waiter))
        self._wake.set()
        await waiter
