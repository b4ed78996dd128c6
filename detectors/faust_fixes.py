"""What Faust 0.15.3 on aiokafka 0.14 gets wrong for the scale-out engine, put right.

Importing this module replaces five methods of Faust's aiokafka driver
(`AIOKafkaConsumerThread`); each says below what went wrong without it, as seen in the
two-worker test (`tests/detectors/test_faust_workers.py`) or the scale bench:

- `on_start`: aiokafka keeps a group error (a SyncGroup answered 'invalid request', say) for
  the consumer's next poll, and its coordinator waits until it is taken; Faust does not
  poll while it starts or rebalances, so the worker stayed out of its group for good (a
  timer of the app's took it once the worker had started, but not during its first join:
  the joining worker of the two-worker test, with the mock's leader elected the other way).
  The consumer's thread now starts a watcher with the consumer, which takes an error still
  held at its second look (a second apart), and the worker rejoins.
- `getmany`: Faust hands the consumer's thread its live set of the partitions to fetch. A
  rebalance can empty that set while the fetch is on its way, and aiokafka takes an empty set
  for *every* partition: records of partitions Faust held paused came back, Faust threw them
  away, and aiokafka's position had moved past them (a joining worker never read the first
  88 and 90 events of its two partitions). The set is copied when the fetch is asked for,
  and what Faust would throw away (records of a partition paused, or of a flow stopped,
  while the fetch was on its way) is put back: the partition's position moves back to it.
  And a group error aiokafka hands to a fetch waiting at the time (a SyncGroup answered
  'invalid request' mid-rebalance) crashed the worker (the two-worker test's first worker,
  in CI and beside busy loops): the error is taken, the coordinator rejoins, and the fetch
  gives nothing.
- `seek_to_committed`: after a rebalance Faust seeks back to the committed offsets, but
  aiokafka seeks only partitions with a commit; here the others go back to their start. A
  partition is sought only where its position is elsewhere, and one seek runs at a time: a
  needless seek, made while records fetched from the old position were still being handed
  out, had Faust drop the re-read ones as already seen, for good.
- `verify_event_path`: Faust's check that each partition's events flow reads aiokafka's
  position, which aiokafka 0.14 asserts is known; while a partition's offset is being reset
  (a fetch out of range, as when the broker deleted old records) it is not, and the
  AssertionError crashed the worker (one of the scale bench's, mid-backlog). A partition
  being reset is not checked until it has a position again.
- `_create_worker_consumer`: Faust fixes aiokafka's `fetch_max_wait_ms` at 1500. aiokafka
  keeps one fetch in flight, for the partitions it holds nothing of; with a broker that does
  not answer early (librdkafka's mock), a fetch for a quiet partition held the busy ones back
  1.5 s each time, and one worker took about 600 events/s. `wait_fetches` sets the wait.

One method of Faust's `Worker`:

- `_setup_spinner_handler`: for its start-up spinner, the worker set the root logger to
  DEBUG (its handler still printing from WARNING on), and left it there: every debug line of
  aiokafka and Faust, several for each message sent, was made and thrown away, 6% of a busy
  worker's time. There is no spinner handler now; the log level is the one asked for.

And one method of mode's `FlowControlEvent` (the app's `flow_control`):

- `resume` emptied every stream's queue, even when the flow was running already. After a
  rebalance Faust resumes the flow for the changelogs, then the stream partitions, seeks,
  and resumes the flow once more: events fetched and queued in between were thrown away, past
  their offsets (six events of a worker's first partitions, never taken, its commits stuck
  behind them). Now only a flow that was stopped is emptied as it resumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

from aiokafka.errors import KafkaError
from faust import Worker
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP, AppT
from mode.utils.queues import FlowControlEvent

log = logging.getLogger(__name__)

GROUP_CHECK_S = 1.0  # how often a held group error is looked for
_fetch_waits: WeakKeyDictionary[AppT, int] = WeakKeyDictionary()
_seek_locks: WeakKeyDictionary[AIOKafkaConsumerThread, asyncio.Lock] = WeakKeyDictionary()


def wait_fetches(app: AppT, ms: int) -> None:
    """The longest a fetch of `app`'s consumer waits at the broker for records to come."""
    _fetch_waits[app] = ms


def seek_targets(positions: Mapping[TP, int | None], committed: Mapping[TP, int | None],
                 starts: Mapping[TP, int]) -> dict[TP, int]:
    """Where each partition must be sought: to its commit, or to its start (`starts`) if
    none; not where it is there already, nor where aiokafka has no position yet (it is
    fetching the commit, or resetting to the start, itself)."""
    targets = {}
    for tp, position in positions.items():
        offset = committed.get(tp)
        target = offset if offset is not None else starts.get(tp)
        if position is not None and target is not None and position != target:
            targets[tp] = target
    return targets


def _assignment(consumer: Any) -> Any:
    """aiokafka's current assignment (partition states), None between assignments."""
    subscription = consumer._subscription.subscription
    return subscription.assignment if subscription is not None else None


_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer
_getmany = AIOKafkaConsumerThread.getmany
_verify_event_path = AIOKafkaConsumerThread.verify_event_path


def create_worker_consumer(self: AIOKafkaConsumerThread, transport: Any) -> Any:
    consumer = _create_worker_consumer(self, transport)
    wait = _fetch_waits.get(self.app)
    if wait is not None:
        consumer._fetch_max_wait_ms = wait  # read when the consumer starts its fetcher
    return consumer


def verify_event_path(self: AIOKafkaConsumerThread, now: float, tp: TP) -> None:
    assignment = _assignment(self._ensure_consumer())
    if assignment is not None and tp in assignment.tps \
            and not assignment.state_value(tp).has_valid_position:
        return None  # being reset: no position to check against
    return _verify_event_path(self, now, tp)


async def getmany(self: AIOKafkaConsumerThread, active_partitions: set[TP] | None,
                  timeout: float) -> Any:
    if active_partitions is None:  # a client-only app: everything
        return await _getmany(self, None, timeout)
    asked = set(active_partitions)
    if not asked:  # aiokafka would fetch them all
        return {}
    try:
        records = await _getmany(self, asked, timeout)
    except KafkaError:
        error = await self.call_thread(take_held_error, self._ensure_consumer())
        if error is None:  # not the group's: Faust's to handle
            raise
        log.warning("Kafka group error %s handed to a fetch: taken, rejoining", error)
        return {}
    # What Faust will throw away: all if its flow stopped while the fetch was on its way (a
    # rebalance), else the records of partitions it paused meanwhile.
    taken = (active_partitions | self.consumer._buffered_partitions
             if self.consumer.flow_active else set())
    left = {tp: batch for tp, batch in records.items() if tp not in taken and batch}
    if left:  # read again later
        await self.call_thread(put_back, self._ensure_consumer(), left)
    return {tp: batch for tp, batch in records.items() if tp not in left}


async def take_held_error(consumer: Any) -> str | None:
    """Takes the group error aiokafka's coordinator holds for the next poll, which lets the
    coordinator go on (rejoin); its text, or None if it holds none."""
    coordinator = consumer._coordinator
    if getattr(coordinator, "_pending_exception", None) is None:
        return None
    try:
        coordinator.check_errors()  # raises the error, and lets the coordinator go on
    except Exception as exc:  # whatever it held is what we report
        return repr(exc)
    return None


async def put_back(consumer: Any, left: Mapping[TP, list[Any]]) -> None:
    """Moves each partition's position back to the first of the records it was not given
    (in the consumer's thread)."""
    assignment = _assignment(consumer)
    for tp, batch in left.items():
        if assignment is None or tp not in assignment.tps:
            continue  # no longer ours: its next owner starts from the commit
        state, first = assignment.state_value(tp), batch[0].offset
        if state.has_valid_position and state.position > first:
            log.info("%s[%d]: %d records fetched while paused, put back", tp.topic,
                     tp.partition, len(batch))
            consumer.seek(tp, first)


async def seek_to_committed(self: AIOKafkaConsumerThread) -> Mapping[TP, int | None]:
    consumer = self._ensure_consumer()
    changelogs = self.app.tables.changelog_topics

    async def seek() -> Mapping[TP, int | None]:  # runs in the consumer's thread
        assignment = _assignment(consumer)
        if assignment is None:
            return {}
        states = {tp: assignment.state_value(tp) for tp in assignment.tps
                  if tp.topic not in changelogs}
        positions = {tp: state.position if state.has_valid_position else None
                     for tp, state in states.items()}  # before anything more is fetched
        committed = {tp: await consumer.committed(tp) for tp in assignment.tps}
        fresh = [tp for tp, position in positions.items()
                 if position is not None and committed[tp] is None]
        starts = await consumer.beginning_offsets(fresh) if fresh else {}
        for tp, target in seek_targets(positions, committed, starts).items():
            log.info("%s[%d]: at %d, sought back to %d (records fetched and not taken)",
                     tp.topic, tp.partition, positions[tp], target)
            consumer.seek(tp, target)
        return committed

    lock = _seek_locks.setdefault(self, asyncio.Lock())
    async with lock:
        result: Mapping[TP, int | None] = await self.call_thread(seek)
    return result


_resume = FlowControlEvent.resume


def resume(self: FlowControlEvent) -> None:
    if not self.is_active():  # what a running flow queued is current: kept
        _resume(self)


async def watch_group_errors(consumer: Any, every: float = GROUP_CHECK_S) -> None:
    """Takes a group error aiokafka's coordinator still holds at the second look, `every`
    seconds apart (in the consumer's thread, until it stops)."""
    held = None
    while True:
        await asyncio.sleep(every)
        pending = getattr(getattr(consumer, "_coordinator", None), "_pending_exception", None)
        if pending is None or pending is not held:
            held = pending
            continue
        held = None
        error = await take_held_error(consumer)
        if error:
            log.warning("Kafka group error %s held while Faust was not fetching: taken, "
                        "rejoining", error)


def setup_spinner_handler(self: Worker, logger: logging.Logger, level: int) -> None:
    """No spinner handler, and the root logger left at the level asked for."""


_on_start = AIOKafkaConsumerThread.on_start


async def on_start(self: AIOKafkaConsumerThread) -> None:
    await _on_start(self)
    self.add_future(watch_group_errors(self._ensure_consumer()))


AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]
AIOKafkaConsumerThread.getmany = getmany  # type: ignore[method-assign]
AIOKafkaConsumerThread.verify_event_path = verify_event_path  # type: ignore[method-assign]
AIOKafkaConsumerThread.on_start = on_start  # type: ignore[method-assign]
AIOKafkaConsumerThread.seek_to_committed = seek_to_committed  # type: ignore[method-assign, assignment]
FlowControlEvent.resume = resume  # type: ignore[method-assign]
Worker._setup_spinner_handler = setup_spinner_handler  # type: ignore[method-assign]
