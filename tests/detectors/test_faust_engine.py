"""The Faust engine's two agents in Faust's in-memory `test_context()`: together they raise
exactly the embedded engine's alerts on a tape; a change seen twice and a malformed message
raise nothing."""

from __future__ import annotations

import asyncio
from functools import partial

from crosscurrent.app import build_detectors
from crosscurrent.config import load_config
from crosscurrent.events import Alert, encode
from detectors.faust_engine import create_engine
from detectors.stages import Change
from streams.keys import Keys
from streams.tape import read_tape
from tests.conftest import SEED_TAPE
from tests.detectors.faust_helpers import (
    alerts_in,
    embedded_alerts,
    events_of,
    put_history,
    transitions,
)


def test_the_two_agents_raise_the_embedded_engines_alerts(redis_url: str, keys: Keys) -> None:
    config = load_config(env={"CROSSCURRENT_KAFKA_PARTITIONS": "1"})  # as test_context gives
    tape = read_tape(SEED_TAPE)
    events = events_of(tape)
    reference, ours = Keys("cc", f"{keys.namespace}-e"), Keys("cc", f"{keys.namespace}-f")
    forwarded: list[bytes] = []

    async def forward(data: bytes) -> None:
        forwarded.append(data)

    async def main() -> tuple[list[Alert], list[Alert], dict[str, int]]:
        expected = await embedded_alerts(redis_url, reference, tape, config)
        await put_history(redis_url, ours, tape, config)
        engine = create_engine(config, redis_url, ours.namespace,
                               partial(build_detectors, config), forward)
        async with engine.instruments.test_context() as agent:
            for event in events:
                await agent.put(encode(event), key=event.id.encode())
            await agent.put(b"{not json", key=b"crypto:BTC")
        async with engine.market.test_context() as agent:
            for data in forwarded:
                await agent.put(data, key=b"market")
            await agent.put(forwarded[-1], key=b"market")  # seen before: skipped
        return expected, await alerts_in(redis_url, ours), dict(engine.counts)

    expected, got, counts = asyncio.run(main())
    assert len(expected) > 20
    assert transitions(got) == transitions(expected)
    assert counts["instruments.malformed"] == 1 and counts["market.repeated"] == 1
    assert counts["instruments.consumed"] == len(tape.events) + 1
    changes = [Change.from_bytes(data) for data in forwarded]
    assert counts["instruments.forwarded"] == sum(c.event is not None for c in changes) \
        < len(tape.events)
    # the tape opens on metrics no cross-market detector reads: only progress is sent for
    # them; a forwarded change carries its tape event intact
    assert changes[0].event is None and changes[0].ts == events[0].ts
    first = next(c.event for c in changes if c.event is not None)
    assert first in events

