"""The split of the detectors for a partitioned engine, as plain code: per-instrument state
forwards only what can move the cross-market detectors, and the market stage takes changes
from several partitions in event-time order, once each."""

from __future__ import annotations

import orjson
import pytest

from crosscurrent.config import load_config
from crosscurrent.events import Tick
from detectors.divergence import DivergenceDetector
from detectors.large_move import LargeMoveDetector
from detectors.stages import (
    Change,
    Changes,
    Instrument,
    Market,
    forwarded,
    pack_changes,
    split,
    trusted,
)


def tick(ident: str, ts: int, price: float) -> Tick:
    return Tick(id=ident, ts=ts, price=price, prev_close=100.0)


def market(partitions: int = 0) -> Market:
    return Market([DivergenceDetector(load_config(env={}).detectors.divergence.pairs)],
                  idle_ms=1000, partitions=partitions)


def test_split_keeps_per_instrument_detectors_apart() -> None:
    config = load_config(env={})
    mover = LargeMoveDetector(config.detectors.large_move.rules)
    pairs = DivergenceDetector(config.detectors.divergence.pairs)
    assert split([pairs, mover]) == ([mover], [pairs])


@pytest.mark.parametrize("own", [False, True], ids=["alone", "with-large-move"])
def test_an_instrument_forwards_only_what_moves_the_market_stage(own: bool) -> None:
    """With a per-instrument detector reading the id, the quote view is the one it shares."""
    mover = LargeMoveDetector(load_config(env={}).detectors.large_move.rules)
    instrument = Instrument([mover] if own else [], crossing=True)
    assert instrument.on_event(tick("crypto:BTC", 1, 101.0)) == ([], True)
    assert instrument.on_event(tick("crypto:BTC", 2, 101.0)) == ([], False)  # same price
    assert instrument.on_event(tick("crypto:BTC", 0, 99.0)) == ([], False)  # late
    assert instrument.on_event(tick("crypto:BTC", 3, 102.0)) == ([], True)
    assert Instrument([], crossing=False).on_event(tick("crypto:BTC", 1, 101.0)) == ([], False)


def test_the_market_stage_takes_partitions_in_event_time_order_once() -> None:
    stage = market()
    assert stage.take(Change(None, (), 0, 0, 500), now=0) == []  # partition 0 is at 500
    eth = Change.of(tick("crypto:ETH", 2000, 106.0), (), 1, 0)  # partition 1 runs ahead
    assert stage.take(eth, now=0) == []
    assert stage.held and stage.take(eth, now=0) is None  # the same offset: once
    btc = Change.of(tick("crypto:BTC", 1000, 100.0), (), 0, 1)
    assert stage.take(btc, now=10) == []  # BTC at 1000 first; ETH at 2000 still held
    assert [h[0] for h in stage.held] == [2000]
    fired = stage.take(Change(None, (), 0, 2, 2500), now=20)  # partition 0 passed 2000
    assert [(a.key, a.state) for a in fired or []] == [
        ("divergence:crypto:ETH/crypto:BTC", "firing")]
    assert not stage.held


def test_events_of_one_time_are_taken_in_the_order_they_were_received() -> None:
    stage = market()
    stage.take(Change(None, (), 0, 0, 1000, recv_ns=1), now=0)  # partition 0 is at 1000
    eth = Change.of(tick("crypto:ETH", 1000, 106.0).model_copy(update={"recv_ns": 3}), (), 1, 0)
    assert stage.take(eth, now=0) == []
    assert [h[:2] for h in stage.held] == [(1000, 3)]  # received after what partition 0 has
    btc = Change.of(tick("crypto:BTC", 1000, 100.0).model_copy(update={"recv_ns": 2}), (), 0, 1)
    assert stage.take(btc, now=0) == []  # BTC, received first, is taken first
    assert [h[:2] for h in stage.held] == [(1000, 3)]
    fired = stage.take(Change(None, (), 0, 2, 1000, recv_ns=4), now=0)
    assert [(a.key, a.ts) for a in fired or []] == [("divergence:crypto:ETH/crypto:BTC", 1000)]
    assert not stage.held


def test_a_partition_not_heard_from_yet_holds_the_others_back_until_idle() -> None:
    stage = market(partitions=2)
    assert stage.take(Change.of(tick("crypto:BTC", 1000, 100.0), (), 0, 0), now=0) == []
    assert stage.take(Change.of(tick("crypto:ETH", 2000, 106.0), (), 0, 1), now=0) == []
    assert len(stage.held) == 2  # partition 1 may still send events of before 1000
    assert [a.state for a in stage.release(now=1001)] == ["firing"]  # it never did


def test_an_idle_partition_stops_holding_back_and_state_survives_a_restore() -> None:
    stage = market()
    stage.take(Change.of(tick("crypto:BTC", 1000, 100.0), (), 0, 0), now=0)
    stage.take(Change.of(tick("crypto:ETH", 2000, 106.0), (), 1, 0), now=0)
    again = market()
    again.restore(stage.snapshot())
    assert [h[0] for h in again.held] == [2000] and again.taken == {0: (0, 0), 1: (0, 0)}
    assert again.release(now=500) == []  # partition 0 heard from lately: still held
    assert [a.state for a in again.release(now=500 + 1001)] == ["firing"]


def test_a_snapshot_of_before_receive_order_is_restored() -> None:
    stage = market()
    stage.take(Change.of(tick("crypto:BTC", 1000, 100.0), (), 0, 0), now=0)
    stage.take(Change.of(tick("crypto:ETH", 2000, 106.0), (), 1, 0), now=0)
    state = orjson.loads(stage.snapshot())
    state["marks"] = {p: ts for p, (ts, _) in state["marks"].items()}  # bare times
    state["taken"] = {p: o for p, (o, _) in state["taken"].items()}  # offsets alone
    state["held"] = [[ts, p, o, Change.of(trusted(values), (), p, o).to_bytes().decode()]
                     for ts, _, p, o, _, values, _ in state["held"]]  # changes as text
    again = market()
    again.restore(orjson.dumps(state))
    assert [h[:4] for h in again.held] == [(2000, 0, 1, 0)]
    assert again.marks == {0: (1000, 0), 1: (2000, 0)}
    assert again.take(Change.of(tick("crypto:ETH", 2000, 106.0), (), 1, 0), now=0) is None
    assert again.release(now=500) == []  # partition 0 heard from lately: still held
    assert [a.state for a in again.release(now=500 + 1001)] == ["firing"]


def test_an_instrument_s_snapshot_of_before_its_quotes_were_shared_is_restored() -> None:
    instrument = Instrument([], crossing=True)
    instrument.restore(orjson.dumps({"detectors": {}, "seen": {"crypto:BTC": [101.0, 100.0, 1]}}))
    assert instrument.on_event(tick("crypto:BTC", 2, 101.0)) == ([], False)  # known already
    assert orjson.loads(instrument.snapshot())["quotes"]["crypto:BTC"] == [101.0, 100.0, 2]


def test_a_batch_s_changes_travel_in_a_message_and_a_replayed_one_is_taken_once() -> None:
    btc, eth = tick("crypto:BTC", 1000, 100.0), tick("crypto:ETH", 1000, 106.0)
    (data,) = pack_changes(0, (1500, 0), [forwarded(7, 0, btc, []), forwarded(7, 1, eth, [])])
    message = Changes.from_bytes(data)
    assert message.partition == 0 and message.mark == (1500, 0)
    assert [(o, i, e) for o, i, e, _ in message.changes] == [(7, 0, btc), (7, 1, eth)]
    stage = market()
    fired, repeated = stage.take_all(message, now=0)
    assert [(a.key, a.state) for a in fired] == [("divergence:crypto:ETH/crypto:BTC", "firing")]
    assert repeated == 0
    assert stage.take_all(message, now=0) == ([], 2)  # replayed: each change counted once
    assert stage.taken == {0: (7, 1)} and stage.marks[0] == (1500, 0)


def test_a_batch_too_big_for_one_message_goes_in_several(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setattr("detectors.stages.LIMIT", 2000)
    changes = [forwarded(1, i, tick("crypto:BTC", 1000 + i, 100.0 + i), []) for i in range(40)]
    messages = [Changes.from_bytes(d) for d in pack_changes(3, (2000, 0), changes)]
    assert len(messages) > 2 and all(len(d) <= 2000 for d in pack_changes(3, None, changes))
    assert [i for m in messages for _, i, _, _ in m.changes] == list(range(40))
    assert [m.mark for m in messages] == [None] * (len(messages) - 1) + [(2000, 0)]


def test_held_changes_are_saved_in_chunks_of_their_own_and_restored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """However many changes the market stage holds, its state stays small: they are stored
    apart, a batch's once; when some are released their chunk is written anew, and the
    keys the state no longer names are dropped after it."""
    monkeypatch.setattr("detectors.stages.LIMIT", 4000)
    table: dict[bytes, bytes] = {}

    def save(stage: Market) -> bytes:
        writes, state, drop = stage.save()
        table.update(writes)
        for key in drop:
            del table[key]
        return state

    stage = market(partitions=2)
    stage.take(Change(None, (), 0, 0, 999), now=0)  # partition 0 is at 999
    for n in range(30):  # partition 1 runs ahead: all held
        stage.take(Change.of(tick("crypto:BTC" if n % 2 else "crypto:ETH", 1000 + n,
                                  100.0 + n), (), 1, n), now=0)
    state = save(stage)
    assert len(stage.held) == 30 and len(table) > 1 and b"crypto:BTC" not in state
    again = market(partitions=2)
    again.restore(state, table.get)
    assert sorted(again.held) == sorted(stage.held) and again.taken == stage.taken
    stage.take(Change(None, (), 0, 1, 1010), now=0)  # releases the first 11
    assert len(stage.held) == 19
    before = dict(table)
    state = save(stage)
    assert set(table) - set(before) and set(before) - set(table)  # a new generation
    again = market(partitions=2)
    again.restore(state, table.get)
    assert sorted(h[:5] for h in again.held) == sorted(h[:5] for h in stage.held)
    assert again.take(Change.of(tick("crypto:BTC", 1005, 1.0), (), 1, 5), now=0) is None
    # both release the rest alike
    assert again.release(now=10_000) == stage.release(now=10_000)
    save(stage)
    assert not table  # nothing held: nothing stored
