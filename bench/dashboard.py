"""The dashboard's CPU cost at a given event rate: events decoded from their stream bytes and
taken by the board, and the screen redrawn at its fixed rate (160x48), for a few seconds."""

from __future__ import annotations

import io
import time

from rich.console import Console

from bench.targets import DASHBOARD_SHARE, Verdict
from crosscurrent.config import Config
from crosscurrent.events import Tick, decode, encode
from reporters.board import Board
from reporters.dashboard import render
from reporters.watch import FPS


def run_dashboard(config: Config, console: Console, rate: int = 10_000, seconds: float = 5
                  ) -> list[str | Verdict]:
    ids = ["crypto:BTC", "crypto:ETH", "hk:HSI", "hk:HSTECH", "us:SPX", "cn:SSE"]
    frames = [encode(Tick(id=ids[n % len(ids)], ts=1775635200000 + n * 10, price=100 + n % 7,
                          prev_close=100.0)) for n in range(rate)]
    board = Board(config.detectors.chain.nodes)
    screen = Console(file=io.StringIO(), width=160, height=48, force_terminal=True)
    first = decode(frames[0])
    assert isinstance(first, Tick)
    board.take(first)
    screen.print(render(board, 160, 48))  # warm up: the market calendars load once
    cpu0, wall0 = time.process_time(), time.monotonic()
    for second in range(int(seconds)):
        for tick in range(FPS):
            for frame in frames[tick * rate // FPS:(tick + 1) * rate // FPS]:
                event = decode(frame)
                if isinstance(event, Tick):
                    board.take(event)
            screen.print(render(board, 160, 48))
            screen.file = io.StringIO()
            pause = wall0 + second + (tick + 1) / FPS - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    share = 100 * cpu / wall
    console.print(f"dashboard: {rate:,} events/s decoded and taken, {FPS} redraws/s at 160x48, "
                  f"{seconds:.0f} s: {cpu:.2f} CPU s in {wall:.2f} s", highlight=False)
    return [Verdict(f"dashboard at {rate:,} events/s", share, DASHBOARD_SHARE,
                    "% of one core", ceiling=True)]
