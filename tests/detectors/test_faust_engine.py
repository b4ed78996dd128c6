"""The Faust engine's two agents in Faust's in-memory `test_context()`: together they raise
exactly the embedded engine's alerts on a tape; a change seen twice and a malformed message
raise nothing."""

from __future__ import annotations

import asyncio
from functools import partial

from crosscurrent.app import build_detectors
from crosscurrent.config import load_config
from crosscurrent.events import Alert, encode
from detectors.faust_engine import Engine, create_engine
from detectors.stages import Changes, split
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


async def taken(engine: Engine, counter: str, n: int, timeout: float = 30) -> None:
    """Until the agents count `n` of `counter` (they take a batch at a time: `put` returns
    before its message is taken)."""
    async with asyncio.timeout(timeout):
        while engine.counts[counter] < n:
            await asyncio.sleep(0.01)


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
            await taken(engine, "instruments.consumed", len(events) + 1)  # a batch at a time
        async with engine.market.test_context() as agent:
            for data in forwarded:
                await agent.put(data, key=b"market")
            await agent.put(forwarded[-1], key=b"market")  # seen before: skipped
            await taken(engine, "market.consumed", len(forwarded) + 1)
        return expected, await alerts_in(redis_url, ours), dict(engine.counts)

    expected, got, counts = asyncio.run(main())
    assert len(expected) > 20
    assert transitions(got) == transitions(expected)
    messages = [Changes.from_bytes(data) for data in forwarded]
    assert counts["instruments.malformed"] == 1
    assert counts["market.repeated"] == len(messages[-1].changes) > 0  # each change once
    assert counts["instruments.consumed"] == len(tape.events) + 1
    assert counts["instruments.forwarded"] == counts["market.taken"] \
        == sum(len(m.changes) for m in messages) < len(tape.events)
    # an event no cross-market detector reads (the tape has some) is not forwarded, only the
    # progress past it; a forwarded change carries its tape event intact
    read = {i for d in split(build_detectors(config))[1] for i in d.ids()}
    sent = [event for m in messages for _, _, event, _ in m.changes]
    assert {e.id for e in sent} <= read and {e.id for e in events} - read
    assert messages[0].mark and messages[0].mark[0] >= events[0].ts
    assert all(event in events for event in sent)

