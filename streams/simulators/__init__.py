"""Local servers that speak each source's real wire protocol, driven by tape events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from streams.tape import TapeEvent


class Simulator(Protocol):
    """What replay needs of a simulator, websocket or HTTP."""

    source: str
    frames_sent: int

    @property
    def url(self) -> str: ...

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None: ...

    async def stop(self) -> None: ...

    async def wait_subscribed(self, ids: Iterable[str], timeout: float = 15.0) -> None: ...

    async def publish(self, event: TapeEvent) -> int: ...
