"""What the Faust engine's tests share: a tape's events, its history in Redis, and the
alerts the embedded engine raises on them (the reference)."""

from __future__ import annotations

import asyncio

from crosscurrent.app import build_agents
from crosscurrent.bars import DailyBar
from crosscurrent.config import Config
from crosscurrent.events import Alert, Metric, Tick
from streams.bus import StreamWriter
from streams.history import HistoryStore
from streams.keys import Keys
from streams.redis_client import connect
from streams.replay import direct_event
from streams.tape import Tape
from tests.conftest import stream_events


def transitions(alerts: list[Alert]) -> dict[str, list[tuple[str, str]]]:
    """Each alert key's transitions (state, severity), in the order they were written.
    Engines that take events of different markets in a different order (the embedded one
    a batch of each stream at a time, Faust a partition at a time) raise the same
    transitions, but one may be raised by another event than in the other engine: their
    timestamps are not compared. (One detector writes a key's alerts, in order, in both.)"""
    found: dict[str, list[tuple[str, str]]] = {}
    for alert in alerts:
        found.setdefault(alert.key, []).append((alert.state, alert.severity))
    return dict(sorted(found.items()))


def events_of(tape: Tape) -> list[Tick | Metric]:
    return [direct_event(e) for e in tape.events]


async def put_history(url: str, keys: Keys, tape: Tape, config: Config) -> None:
    redis = await connect(url)
    await HistoryStore(redis, keys, config.history.sessions).put(
        (bar.id, DailyBar(date=bar.date, open=bar.open, high=bar.high, low=bar.low,
                          close=bar.close, volume=bar.volume)) for bar in tape.bars)
    await redis.aclose()


async def alerts_in(url: str, keys: Keys) -> list[Alert]:
    redis = await connect(url)
    found = [a for a in await stream_events(redis, keys.alerts) if isinstance(a, Alert)]
    await redis.aclose()
    return found


async def embedded_alerts(url: str, keys: Keys, tape: Tape, config: Config) -> list[Alert]:
    """The tape's events through the Redis bus and the embedded engine's agent."""
    await put_history(url, keys, tape, config)
    redis = await connect(url)
    writer = StreamWriter(redis, keys)
    writing = asyncio.create_task(writer.run())
    for event in events_of(tape):
        await writer.put(event)
    await writer.flush()
    writing.cancel()
    (agent,) = build_agents(config, redis, keys)
    await agent.start()
    while await agent.step():
        pass
    await redis.aclose()
    return await alerts_in(url, keys)
