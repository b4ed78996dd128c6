"""Playing a tape: each event goes to the simulator of its source, on the tape's clock."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping

from crosscurrent.catalog import Catalog, default_catalog
from crosscurrent.events import Metric, Tick
from streams.simulators import Simulator
from streams.tape import Tape, TapeEvent

DirectSink = Callable[[Tick | Metric], Awaitable[None]]
Progress = Callable[[int, int, int], None]  # tape ts, events done, events total
#: Called once a tape time's events are published, with the sources they went to ("" for
#: straight into the bus): returns when those events went all the way through.
Settle = Callable[[frozenset[str]], Awaitable[None]]


def direct_event(event: TapeEvent, catalog: Catalog | None = None) -> Tick | Metric:
    """A tape event as a bus event, for ids whose source has no simulator yet."""
    catalog = catalog or default_catalog()
    source = event.source or "tape"
    if catalog[event.id].kind == "metric":
        return Metric(id=event.id, ts=event.ts, value=event.value, source=source,
                      recv_ns=time.time_ns())
    return Tick(id=event.id, ts=event.ts, price=event.value, prev_close=event.prev_close,
                volume=event.volume, source=source, recv_ns=time.time_ns())


class Player:
    """Replays `tape` at `speed` tape-seconds per second (`math.inf`: as fast as it is taken)."""

    def __init__(
        self,
        tape: Tape,
        simulators: Mapping[str, Simulator],
        direct: DirectSink,
        speed: float,
        catalog: Catalog | None = None,
    ) -> None:
        self.tape = tape
        self.simulators = simulators
        self.direct = direct
        self.speed = speed
        self.catalog = catalog or default_catalog()
        self.sent_direct = 0
        self.sent_simulated = 0
        self._now = tape.events[0].ts

    def tape_now(self) -> int:
        """The tape time of the event played last (the first one's before playing)."""
        return self._now

    def route(self, event: TapeEvent) -> Simulator | None:
        home = self.catalog[event.id].source
        if event.source is not None and event.source != home:
            return None  # a source forced by the tape that has no simulator: straight in
        return self.simulators.get(home)

    async def play(self, progress: Progress | None = None, settle: Settle | None = None
                   ) -> None:
        """Publish the tape's events in tape order. With `settle`, in step: each tape time's
        events go all the way through before the next time's are published, so the sources
        never race each other and the result is a function of the tape."""
        events = self.tape.events
        loop = asyncio.get_running_loop()
        wall0, tape0 = loop.time(), events[0].ts
        touched: set[str] = set()
        for done, event in enumerate(events, start=1):
            if touched and event.ts != self._now:
                assert settle is not None
                await settle(frozenset(touched))
                touched.clear()
            self._now = event.ts
            if self.speed != math.inf:
                delay = wall0 + (event.ts - tape0) / 1000 / self.speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif settle is None and done % 64 == 0:
                await asyncio.sleep(0)  # let the adapters read while we write
            simulator = self.route(event)
            if simulator is None:
                await self.direct(direct_event(event, self.catalog))
                self.sent_direct += 1
            else:
                await simulator.publish(event)
                self.sent_simulated += 1
            if settle is not None:
                touched.add("" if simulator is None else simulator.source)
            if progress is not None:
                progress(event.ts, done, len(events))
        if touched:
            assert settle is not None
            await settle(frozenset(touched))
