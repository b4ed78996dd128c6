"""Shared fixtures: one real redis-server for the session, a fresh namespace per test."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from redis import asyncio as aioredis

from crosscurrent.events import Alert, AnyEvent, MarketEvent, Tick, decode_entry
from streams.bus import FIELD
from streams.keys import Keys
from streams.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEED_TAPE = ROOT / "crosscurrent" / "data" / "seed-2026-04-08.jsonl"

#: How long the fault tests' outages last: seconds in the default suite, minutes with
#: CROSSCURRENT_LONG_FAULTS=1 (the long variants; see the README).
LONG_FAULTS = os.environ.get("CROSSCURRENT_LONG_FAULTS", "") not in ("", "0")
OUTAGE_S = 180.0 if LONG_FAULTS else 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


@pytest.fixture
def keys() -> Keys:
    return Keys("cctest", uuid.uuid4().hex[:12])


def shared(path: str) -> Path:
    """A file of ../shared (recorded data, specs): the suite expects it beside the checkout."""
    found = SHARED / path
    if not found.exists():
        pytest.fail(f"{found} is missing: the shared/ folder must sit beside the checkout")
    return found


async def stream_events(redis: aioredis.Redis, stream: str
                        ) -> list[AnyEvent]:
    """Every event of a stream, oldest first."""
    raw: Any = await redis.xrange(stream)
    return [event for _, fields in raw for event in decode_entry(fields[FIELD])[0]]


@pytest.fixture(autouse=True)
def _catalog_as_shipped() -> Iterator[None]:
    """A test that loads a config with the user's own symbols adds them to the process's
    catalog: gone again after it, so that no other test meets them."""
    from crosscurrent.catalog import default_catalog

    catalog = default_catalog()
    kept = dict(catalog._instruments)
    yield
    catalog._instruments = kept
    catalog.added = {}


def calm_history(ids: Sequence[str], before: str, sessions: int = 15) -> list[str]:
    """Tape bar lines of `sessions` weekdays before `before` (ISO date) for each id, moving
    +-0.5% a day in turn: a calm history, so that detectors judge against their baselines
    (a divergence pair's usual gap: ~0.5 pp)."""
    from datetime import date, timedelta

    days: list[date] = []
    day = date.fromisoformat(before)
    while len(days) < sessions:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    lines = []
    for ident in ids:
        for n, day in enumerate(sorted(days)):
            close = 100.0 * (1.005 if n % 2 else 1.0) if ident != ids[-1] else 100.0
            lines.append(f'{{"kind":"bar","date":"{day}","id":"{ident}","open":{close},'
                         f'"high":{close},"low":{close},"close":{close}}}')
    return lines


def ticks_only(events: Sequence[MarketEvent]) -> list[Tick]:
    out = [e for e in events if isinstance(e, Tick)]
    assert len(out) == len(events), "expected ticks only"
    return out


class QuietView:
    """A replay front end that shows nothing."""

    def alert(self, alert: Alert) -> None:
        pass

    def progress(self, tape_ts: int, done: int, total: int) -> None:
        pass
