"""The fixes to Faust's aiokafka driver and flow control: where a rebalance's seek sends
each partition, records fetched for a partition paused meanwhile are read again (on a real
broker), an emptied partition set fetches nothing, the worker's consumer gets the configured
wait, resuming a running flow keeps what the streams have queued, and a group error is
taken, whether handed to a waiting fetch (which crashed the worker) or only held (which kept
it out of its group).
The two-worker test (`test_faust_workers.py`) runs them all in Faust against a broker."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.consumer.fetcher import OffsetResetStrategy
from aiokafka.errors import InvalidRequestError, KafkaError
from faust.exceptions import ConsumerNotStarted
from faust.types import TP
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from crosscurrent.app import build_detectors
from crosscurrent.config import load_config
from detectors.faust_engine import create_engine
from detectors.faust_fixes import (
    getmany,
    put_back,
    seek_targets,
    verify_event_path,
    watch_group_errors,
)
from streams.simulators.kafka import mock_broker

EVENTS = [TP("cc.events", n) for n in range(4)]


def worker_thread(**env: str) -> Any:
    """The consumer thread of a worker's Faust app (not started)."""
    config = load_config(env={"CROSSCURRENT_KAFKA_BROKER": "kafka://127.0.0.1:1", **env})
    engine = create_engine(config, "redis://127.0.0.1:1", "t", partial(build_detectors, config))
    return engine.app.consumer._thread  # type: ignore[attr-defined]


async def assigned_consumer(broker: str, tp: TopicPartition, values: list[bytes]
                            ) -> AIOKafkaConsumer:
    """A started consumer assigned `tp`, once `values` are written there."""
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    for value in values:
        await producer.send_and_wait(tp.topic, value, partition=tp.partition)
    await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=broker, auto_offset_reset="earliest")
    await consumer.start()
    consumer.assign([tp])
    return consumer


def test_a_partition_is_sought_only_where_it_is_not_at_its_commit_or_start() -> None:
    at_commit, past_commit, past_start, no_position = EVENTS
    positions = {at_commit: 7, past_commit: 9, past_start: 88, no_position: None}
    committed = {at_commit: 7, past_commit: 5, past_start: None, no_position: None}
    assert seek_targets(positions, committed, {past_start: 0}) == {past_commit: 5,
                                                                  past_start: 0}


def test_a_partition_at_its_start_with_no_commit_stays() -> None:
    (tp, *_) = EVENTS
    assert seek_targets({tp: 0}, {tp: None}, {tp: 0}) == {}
    assert seek_targets({tp: 12}, {tp: None}, {tp: 12}) == {}  # the log starts later


def test_the_workers_consumer_waits_as_configured_and_an_empty_fetch_asks_nothing() -> None:
    thread = worker_thread(CROSSCURRENT_KAFKA_FETCH_WAIT_S="0.25")

    async def main() -> None:
        consumer = thread._create_worker_consumer(thread.app.transport)
        assert consumer._fetch_max_wait_ms == 250  # Faust's own: 1500
        assert await getmany(thread, set(), 1.0) == {}  # aiokafka would take it as all
        with pytest.raises(ConsumerNotStarted):  # a set with partitions goes to aiokafka
            await getmany(thread, {EVENTS[0]}, 1.0)

    asyncio.run(main())


def test_records_fetched_for_a_paused_partition_are_read_again() -> None:
    async def main(broker: str) -> tuple[list[int], list[int]]:
        tp = TopicPartition("put-back", 1)
        consumer = await assigned_consumer(broker, tp, [f"{n}".encode() for n in range(5)])
        try:
            async def read(n: int) -> list[Any]:
                got: list[Any] = []
                while len(got) < n:
                    got += (await consumer.getmany(tp, timeout_ms=5000)).get(tp, [])
                return got

            first = await asyncio.wait_for(read(5), 30)
            await put_back(consumer, {tp: first[2:]})  # as if the last three were not taken
            again = await asyncio.wait_for(read(3), 30)
            return [r.offset for r in first], [r.offset for r in again]
        finally:
            await consumer.stop()

    with mock_broker() as broker:
        first, again = asyncio.run(main(broker))
    assert first == [0, 1, 2, 3, 4]
    assert again == [2, 3, 4]


def test_resuming_a_running_flow_keeps_the_queued_events() -> None:
    async def main() -> tuple[int, int]:
        flow = FlowControlEvent()
        queue: FlowControlQueue[str] = FlowControlQueue(flow_control=flow,
                                                        clear_on_resume=True)
        flow.resume()
        queue.put_nowait("fetched after the flow resumed")
        flow.resume()  # Faust's second resume, after its seek
        kept = queue.qsize()
        flow.suspend()  # a rebalance: what was queued is stale when the flow resumes
        flow.resume()
        return kept, queue.qsize()

    assert asyncio.run(main()) == (1, 0)


def test_a_partition_being_reset_is_not_checked_for_flowing_events() -> None:
    thread = worker_thread()
    thread.time_started = time.monotonic() - 3600  # long enough for every check to apply

    async def main(broker: str) -> None:
        tp = TopicPartition("reset", 0)
        consumer = await assigned_consumer(broker, tp, [b"one"])
        try:
            while not await consumer.getmany(tp, timeout_ms=1000):  # a fetch came back
                pass
            thread._consumer = consumer
            state = consumer._subscription.subscription.assignment.state_value(tp)
            assert state.has_valid_position
            verify_event_path(thread, time.monotonic(), tp)  # checked, and fine
            state.await_reset(OffsetResetStrategy.EARLIEST)  # as on a fetch out of range
            assert not state.has_valid_position
            verify_event_path(thread, time.monotonic(), tp)  # Faust's own: AssertionError
        finally:
            thread._consumer = None
            await consumer.stop()

    with mock_broker() as broker:
        asyncio.run(main(broker))


async def group_consumer(broker: str, topic: str) -> AIOKafkaConsumer:
    """A started consumer of `topic` in a group, once the group has given it the topic."""
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    await producer.partitions_for(topic)  # the mock makes the topic now
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, group_id=f"{topic}-group",
                                auto_offset_reset="earliest")
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=200)
    return consumer


def thread_on_this_loop() -> Any:
    """A worker's consumer thread whose calls run on the caller's loop (not started)."""
    thread = worker_thread()

    async def call_here(fun: Any, *args: Any, **kwargs: Any) -> Any:
        return await fun(*args, **kwargs)

    thread.call_thread = call_here
    return thread


def test_a_group_error_handed_to_a_waiting_fetch_is_taken_and_the_fetch_gives_nothing() -> None:
    thread = thread_on_this_loop()

    async def main(broker: str) -> tuple[dict[Any, Any], bool, bool]:
        tp = TopicPartition("group-error", 0)
        consumer = await group_consumer(broker, tp.topic)
        try:
            thread._consumer = consumer
            fetch = asyncio.create_task(getmany(thread, {TP(tp.topic, 0)}, 30.0))
            await asyncio.sleep(0.5)  # the fetch waits for records that do not come
            coordinator = consumer._coordinator
            # What aiokafka's coordinator does with an error a broker answers (a SyncGroup's
            # InvalidRequestError, from the mock): the waiting fetch raises it, and the
            # coordinator holds it, and waits, until a poll takes it.
            rejoin = asyncio.ensure_future(coordinator._push_error_to_user(InvalidRequestError()))
            got = await asyncio.wait_for(fetch, 10)  # Faust's own: InvalidRequestError
            held = coordinator._pending_exception is not None
            went_on, _ = await asyncio.wait({rejoin}, timeout=10)  # the coordinator goes on
            return got, held, bool(went_on)
        finally:
            thread._consumer = None
            await consumer.stop()

    with mock_broker() as broker:
        got, held, went_on = asyncio.run(main(broker))
    assert got == {}
    assert not held
    assert went_on


def test_a_group_error_held_for_a_poll_that_does_not_come_is_taken_by_the_watcher() -> None:
    async def main(broker: str) -> tuple[bool, bool]:
        consumer = await group_consumer(broker, "held-error")
        watcher = asyncio.create_task(watch_group_errors(consumer, every=0.1))
        try:
            coordinator = consumer._coordinator
            # No fetch waits (Faust starting up, or rebalancing): the error is only held.
            rejoin = asyncio.ensure_future(coordinator._push_error_to_user(InvalidRequestError()))
            went_on, _ = await asyncio.wait({rejoin}, timeout=10)  # without it: never
            return bool(went_on), coordinator._pending_exception is None
        finally:
            watcher.cancel()
            await consumer.stop()

    with mock_broker() as broker:
        went_on, taken = asyncio.run(main(broker))
    assert went_on
    assert taken


def test_an_error_the_coordinator_does_not_hold_still_reaches_faust() -> None:
    thread = thread_on_this_loop()

    async def main(broker: str) -> None:
        consumer = await group_consumer(broker, "fatal-error")
        try:
            thread._consumer = consumer
            fetch = asyncio.create_task(getmany(thread, {TP("fatal-error", 0)}, 30.0))
            await asyncio.sleep(0.5)  # the fetch waits for records that do not come
            # What aiokafka does when its coordination routine dies: the waiters get the
            # error, and none is held for a poll to take.
            consumer._subscription.abort_waiters(KafkaError("coordination died"))
            with pytest.raises(KafkaError, match="coordination died"):
                await asyncio.wait_for(fetch, 10)
        finally:
            thread._consumer = None
            await consumer.stop()

    with mock_broker() as broker:
        asyncio.run(main(broker))
