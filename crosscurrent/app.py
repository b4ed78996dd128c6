"""Wiring: Redis (given or embedded), simulators, feeds, the bus writer and the agents."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import math
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from crosscurrent.bars import DailyBar
from crosscurrent.catalog import default_catalog, family
from crosscurrent.config import Config
from crosscurrent.detector_config import LargeMoveRule
from crosscurrent.events import Alert
from crosscurrent.heap import freeze_startup
from crosscurrent.notify_config import Lang
from crosscurrent.references import PreviousCloses
from crosscurrent.sources import Feed, build_feeds, history_sources, live_feeds, wall_clock_ms
from detectors.agent import Agent
from detectors.base import Detector
from detectors.breadth import BreadthDetector
from detectors.chain import ChainDetector
from detectors.divergence import DivergenceDetector
from detectors.flows import FlowsDetector
from detectors.large_move import LargeMoveDetector
from detectors.level_break import LevelBreakDetector
from detectors.leverage import LeverageDetector
from detectors.macro import MacroDetector
from detectors.rules import RulesDetector
from detectors.synthesis import Synthesis
from reporters.alert_log import read_alerts, tail_alerts, write_alerts_jsonl
from reporters.notifier import Deliverer, Notifier, deliverers, with_cli_receivers
from reporters.report_data import build as build_report
from reporters.report_data import collect as collect_report
from reporters.report_llm import rewrite_insight
from reporters.report_render import write as write_report
from reporters.snapshots import next_snapshot
from streams.backfill import Backfiller, Outcome, recent_history
from streams.bus import StreamWriter
from streams.consumer import GroupConsumer
from streams.edge import GatedSink
from streams.feed import Sink
from streams.feed_counts import FeedCounts, count_replayed
from streams.history import HistoryRecorder, HistoryStore
from streams.kafka_bus import KafkaWriter, both, topic_names
from streams.keys import Keys
from streams.owner import hold_namespace
from streams.record import TapeRecorder
from streams.redis_client import connect
from streams.redis_server import EmbeddedRedis, default_data_dir, running_url
from streams.replay import Player
from streams.simulators import Simulator
from streams.simulators.binance import BinanceSimulator
from streams.simulators.coingecko import CoinGeckoSimulator
from streams.simulators.defillama import DefiLlamaSimulator
from streams.simulators.http import HttpSimulator
from streams.simulators.yahoo import YahooSimulator
from streams.tape import Tape

log = logging.getLogger(__name__)

#: Sources with a live adapter and a simulator; other ids go straight into the bus on replay.
SIMULATORS: dict[str, Callable[[], Simulator]] = {
    "binance": lambda: BinanceSimulator(source="binance"),
    "binance-usdm": lambda: BinanceSimulator(source="binance-usdm"),
    "binance-coinm": lambda: BinanceSimulator(source="binance-coinm"),
    "yahoo": YahooSimulator,
    "defillama": DefiLlamaSimulator,
    "coingecko": CoinGeckoSimulator,
    "eastmoney": lambda: _eastmoney(),
}


def _eastmoney() -> Simulator:
    """The A-share pages' simulator (behind a TLS proxy: trustme, of the `cn` extra)."""
    from streams.simulators.eastmoney import EastmoneySimulator

    return EastmoneySimulator()


def adapted(source: str) -> bool:
    """Whether `source`'s adapter can run here: the A-share one needs akshare (`cn` extra);
    without it, a replay sends those ids straight into the bus."""
    return source != "eastmoney" or importlib.util.find_spec("akshare") is not None
#: How often pollers ask their simulator by themselves during a replay (s): in step, hardly
#: ever (the player asks them after each tape time; a round of their own would race the tape);
#: racing (the benchmark's end-to-end run), all the time.
REPLAY_POLL_S = {True: 3600.0, False: 0.005}


class View(Protocol):
    """What a front end is told while a pipeline runs."""

    def alert(self, alert: Alert) -> None: ...

    def progress(self, tape_ts: int, done: int, total: int) -> None: ...


@contextlib.contextmanager
def redis_url(config: Config, data_dir: Path | None = None,
              loading: Callable[[float], None] | None = None) -> Iterator[str]:
    """The configured Redis URL; else the embedded server another crosscurrent runs on the
    data directory; else an embedded redis-server of our own, kept up meanwhile (`loading`
    is told how far it has loaded its data, while it does)."""
    if config.redis.url:
        yield config.redis.url
        return
    directory = data_dir or config.embedded.data_dir or default_data_dir()
    attached = running_url(directory)
    if attached is not None:
        log.info("using the embedded Redis another crosscurrent runs on %s", directory)
        yield attached
        return
    with EmbeddedRedis(directory, config.embedded.binary, loading=loading) as server:
        yield server.url


def large_move_rules(config: Config) -> list[LargeMoveRule]:
    """The config's large-move rules, and one for the watchlist's ids they leave out: an
    index or a coin judged as the catalog's are, an equity as the indices but for their
    always-critical level (its thresholds come from its own history: a stock's usual day is
    wider than an index's)."""
    catalog = default_catalog()
    rules = list(config.detectors.large_move.rules)
    covered = {i for rule in rules for i in rule.ids}
    for asset, like, update in (("index", "index", {}), ("equity", "index",
                                                       {"always_critical": None}),
                                ("crypto", "crypto", {})):
        model = next((r for r in rules if catalog[r.ids[0]].asset == like), None)
        extra = tuple(i for i in config.watchlist
                      if i not in covered and catalog[i].asset == asset)
        if model is not None and extra:
            rules.append(model.model_copy(update={"ids": extra, **update}))
    return rules


def build_detectors(config: Config) -> list[Detector]:
    """Every detector of the config, the synthesis (flow map, risk matrix) last."""
    found = config.detectors
    return [
        ChainDetector(found.chain),
        DivergenceDetector(found.divergence.pairs),
        LargeMoveDetector(large_move_rules(config)),
        LevelBreakDetector(found.level_break.levels),
        FlowsDetector(found.flows),
        BreadthDetector(found.breadth),
        LeverageDetector(found.leverage),
        RulesDetector(found.rules),
        MacroDetector(found.macro),
        Synthesis(found.level_break.levels),
    ]


def build_agents(config: Config, redis: aioredis.Redis, keys: Keys) -> list[Agent]:
    """One agent runs every detector, so the synthesis sees every finding in order."""
    store = HistoryStore(redis, keys, config.history.sessions,
                         config.history.volatility_window)
    return [Agent("detectors", build_detectors(config), redis, keys, config.agent,
                  history=store, window=config.history.window)]


async def clear_namespace(redis: aioredis.Redis, keys: Keys) -> int:
    removed = 0
    async for key in redis.scan_iter(match=keys.pattern, count=1000):
        removed += await redis.unlink(key)
    return removed


async def compact(url: str) -> None:
    """Rewrite the append-only file down to the data left (after a benchmark deleted what it
    wrote; Redis rewrites by itself only as the file grows) and wait until that is done."""
    redis = await connect(url)
    try:
        with contextlib.suppress(ResponseError):  # one already under way: waited for below
            await redis.bgrewriteaof()
        while True:
            state = await redis.info("persistence")
            if not (state["aof_rewrite_in_progress"] or state["aof_rewrite_scheduled"]):
                return
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()


@dataclass
class ReplayResult:
    events: int
    bad_lines: int
    alerts: list[Alert]
    seconds: float
    frames: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # sent, read, bad
    direct: int = 0
    files: list[Path] = field(default_factory=list)
    delivered: dict[str, tuple[int, int]] = field(default_factory=dict)  # receiver: sent, left
    rejected: dict[tuple[str, str], int] = field(default_factory=dict)  # (source, why): at edge


DRAIN_S = 10  # on stopping, how long the bus writer may take to write what it holds


class _Tasks:
    """Background tasks that are all stopped together, and whose failures surface."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []
        self.stoppable: list[tuple[asyncio.Task[Any], Callable[[], None]]] = []

    def start(self, coro: Coroutine[Any, Any, Any], name: str,
              stop: Callable[[], None] | None = None) -> None:
        """`stop`: how to ask the task to finish by itself (else it is cancelled)."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.append(task)
        if stop is not None:
            self.stoppable.append((task, stop))

    def check(self) -> None:
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError(f"{task.get_name()} failed") from task.exception()

    async def cancel(self, timeout: float = 5.0) -> None:
        """Ask those that can to stop (for up to a second), cancel the rest; name any that
        does not stop in time instead of hanging."""
        if not self.tasks:
            return
        for _, stop in self.stoppable:
            stop()
        if self.stoppable:
            await asyncio.wait([task for task, _ in self.stoppable], timeout=1.0)
        for task in self.tasks:
            task.cancel()
        _, pending = await asyncio.wait(self.tasks, timeout=timeout)
        for task in pending:
            log.warning("%s did not stop within %.0fs of being cancelled", task.get_name(),
                        timeout)


def stream_writer(config: Config, redis: aioredis.Redis, keys: Keys) -> StreamWriter:
    """The bus writer as `config.redis` sets it up."""
    settings = config.redis
    return StreamWriter(redis, keys, maxlen=settings.stream_maxlen,
                        batch_size=settings.batch_size, flush_ms=settings.flush_ms,
                        buffer=settings.buffer, pack=settings.pack)


@contextlib.asynccontextmanager
async def _bus(config: Config, url: str, namespace: str) -> AsyncIterator[
        tuple[aioredis.Redis, Keys, StreamWriter]]:
    redis = await connect(url)
    keys = Keys(config.redis.prefix, namespace)
    writer = stream_writer(config, redis, keys)
    try:
        yield redis, keys, writer
    finally:
        await redis.aclose()


async def replay(
    tape: Tape,
    config: Config,
    url: str,
    *,
    speed: float,
    out: Path | None,
    view: View,
    namespace: str = "replay",
    notify: Sequence[str] = (),
    lang: Lang = "both",
    in_step: bool = True,
) -> ReplayResult:
    """Replay a tape through simulators, adapters, the bus and the agents; write `out` files.
    `notify`: apprise URLs that get every alert (besides the receivers of the config).
    `in_step`: each tape time's events all the way through before the next's, so that the
    result is a function of the tape; else the sources race each other to the bus, as live."""
    started = time.monotonic()
    catalog = default_catalog()
    tasks = _Tasks()
    simulators: dict[str, Simulator] = {}
    feeds: dict[str, list[Feed]] = {}
    async with _bus(config, url, namespace) as (redis, keys, writer), hold_namespace(
            redis, keys, url, "wait for it, or replay with another --data-dir or --redis"):
        await clear_namespace(redis, keys)
        await redis.set(keys.replayed, "running")
        store = HistoryStore(redis, keys, config.history.sessions,
                         config.history.volatility_window)
        bars: dict[str, list[DailyBar]] = {}
        for bar in tape.bars:
            bars.setdefault(bar.id, []).append(DailyBar(
                date=bar.date, open=bar.open, high=bar.high, low=bar.low, close=bar.close,
                volume=bar.volume))
        await store.put((ident, bar) for ident, own in bars.items() for bar in own)
        references = PreviousCloses()
        for ident, own in bars.items():
            references.set(ident, own)
        edge = GatedSink(writer.put, config.feeds)
        player = Player(tape, simulators, edge, speed, catalog)
        edge.clock = player.tape_now  # the gate's window is around the tape's clock
        try:
            tasks.start(writer.run(), "bus writer")
            for source, make in SIMULATORS.items():
                ids = sorted(i for i in tape.ids() if catalog[i].source == source)
                if not ids:
                    continue
                if not adapted(source):
                    log.warning("%s replayed straight into the bus: its adapter needs "
                                "akshare (pip install 'crosscurrent[cn]')", ", ".join(ids))
                    continue
                simulator = simulators[source] = make()
                if isinstance(simulator, HttpSimulator):
                    simulator.in_step = in_step  # its pollers are asked after each tape time
                await simulator.start()
                feeds[source] = build_feeds(
                    source, ids, config, edge, simulator.url, poll_s=REPLAY_POLL_S[in_step],
                    clock=player.tape_now, ca_file=getattr(simulator, "ca_file", None),
                    references=references)
                for feed in feeds[source]:
                    tasks.start(feed.run(), f"{source} feed")
                await simulator.wait_subscribed(ids)
            counts = FeedCounts(redis, keys, [feed for own in feeds.values() for feed in own])
            tasks.start(counts.run(), "feed counts")  # as live: `feeds`, `audit` read them
            families = {family(i) for i in tape.ids()}
            agents = [*build_agents(config, redis, keys), HistoryRecorder(
                redis, keys, families, store, config.agent)]
            for agent in agents:
                await agent.start()
                if not in_step:  # else driven by the player, in step with the tape (below)
                    tasks.start(agent.run(), f"agent {agent.name}", agent.stop)
            seen: list[Alert] = []

            def on_alert(alert: Alert) -> None:
                seen.append(alert)
                view.alert(alert)

            log_done = asyncio.Event()
            tasks.start(tail_alerts(redis, keys, on_alert, stop=log_done), "alert log",
                        log_done.set)
            notifier, senders = await _start_notifications(
                config, notify, redis, keys, tasks, player.tape_now, run=not in_step)
            stepped: list[GroupConsumer[Any]] = [*agents, *([notifier] if notifier else [])]
            await player.play(view.progress, _in_step(tasks, simulators, feeds, writer, stepped)
                              if in_step else None)
            frames = await _drain(tasks, simulators, feeds, writer, agents)
            await edge.flush(redis, keys)  # feed.<source>.rejected, for `audit`
            await count_replayed(redis, keys, frames, counts)
            await redis.set(keys.replayed, "finished")
            alerts = await read_alerts(redis, keys)
            await _until(lambda: len(seen) >= len(alerts), tasks, "the alert log")
            delivered = await _finish_notifications(notifier, senders, tasks, tape.end_ms)
            report = await rewrite_insight(build_report(*await collect_report(redis, keys),
                                                        config), config.report.llm) \
                if out else None
        finally:
            await tasks.cancel()
            for name, simulator in simulators.items():
                try:
                    await asyncio.wait_for(simulator.stop(), 5)
                except TimeoutError:
                    log.warning("the %s simulator did not stop within 5s", name)
        result = ReplayResult(
            events=len(tape.events), bad_lines=tape.bad_lines, alerts=alerts,
            seconds=time.monotonic() - started, direct=player.sent_direct, delivered=delivered,
            frames=frames, rejected=edge.rejected)
    if out is not None:
        path = out / "alerts.jsonl"
        write_alerts_jsonl(alerts, path)
        result.files.append(path)
        if report is not None:
            result.files += write_report(report, out, lang)
    return result


async def _start_notifications(
    config: Config, urls: Sequence[str], redis: aioredis.Redis, keys: Keys, tasks: _Tasks,
    clock: Callable[[], int], run: bool = True,
) -> tuple[Notifier | None, list[Deliverer]]:
    """The notifier and a deliverer per receiver, when there are receivers. `run`: the
    notifier runs by itself (else a replay drives it in step with the tape)."""
    notify = with_cli_receivers(config.notify, urls)
    if not notify.receivers:
        return None, []
    notifier = Notifier(notify, redis, keys, config.agent, clock)
    senders = deliverers(notify, redis, keys)
    await notifier.start()
    if run:
        tasks.start(notifier.run(), "notifier", notifier.stop)
    for sender in senders:
        tasks.start(sender.run(), f"receiver {sender.receiver.name}", sender.stop)
    return notifier, senders


async def _finish_notifications(notifier: Notifier | None, senders: list[Deliverer],
                                tasks: _Tasks, end_ms: int, timeout: float = 60
                                ) -> dict[str, tuple[int, int]]:
    """At the end of a tape: every alert through the notifier, what waits sent out."""
    if notifier is None:
        return {}
    await _until(lambda: _caught_up(notifier), tasks, "the notifier")
    await notifier.tick(end_ms + 1, flush=True)
    try:
        await _until(lambda: _all_sent(senders), tasks, "the receivers", timeout)
    except TimeoutError:
        log.warning("notifications still undelivered after %.0fs; they stay queued", timeout)
    return {s.receiver.name: (s.delivered, await s.pending()) for s in senders}


async def _caught_up(consumer: GroupConsumer[Any]) -> bool:
    return await consumer.lag() == 0


async def _all_sent(senders: list[Deliverer]) -> bool:
    for sender in senders:
        if await sender.pending():
            return False
    return True


async def _until(ready: Callable[[], bool | Awaitable[bool]], tasks: _Tasks, what: str,
                 timeout: float = 60, spin: int = 0) -> None:
    """Wait for `ready` (sync or async), surfacing failed tasks; TimeoutError past `timeout`.
    The first `spin` looks at each turn of the event loop, then every 10 ms."""
    deadline = time.monotonic() + timeout
    looks = 0
    while True:
        done = ready()
        if done if isinstance(done, bool) else await done:
            return
        tasks.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not catch up within {timeout:.0f}s")
        looks += 1
        await asyncio.sleep(0 if looks <= spin else 0.01)


def _in_step(
    tasks: _Tasks,
    simulators: dict[str, Simulator],
    feeds: dict[str, list[Feed]],
    writer: StreamWriter,
    agents: list[GroupConsumer[Any]],
) -> Callable[[frozenset[str]], Awaitable[None]]:
    """What the player waits for after each tape time: the pollers of the sources it went to
    asked once, every frame sent read and in the bus writer, the writer flushed, then each
    agent handles all of it, in a stable order. So a replay's alerts depend on the tape
    alone, not on which source's connection was quicker."""

    async def settle(sources: frozenset[str]) -> None:
        for source in sources:
            for feed in feeds.get(source, ()):
                rounds = getattr(feed, "rounds", None)
                if rounds is not None:
                    await _within(rounds.ask(), tasks, f"the {source} feed")
        await _until(lambda: all(sum(f.frames for f in feeds[s]) >= simulators[s].frames_sent
                                 for s in sources if s in feeds),
                     tasks, "the feeds", spin=SPIN)
        await _within(writer.flush(), tasks, "the bus writer")
        for agent in agents:
            await agent.catch_up()

    return settle


SPIN = 1000  # a replay step's looks at each turn of the event loop before pausing


async def _within(step: Awaitable[None], tasks: _Tasks, what: str, timeout: float = 60) -> None:
    """Wait for `step`, surfacing failed tasks; TimeoutError past `timeout`."""
    waiting = asyncio.ensure_future(step)
    try:
        await _until(waiting.done, tasks, what, timeout, spin=SPIN)
    finally:
        waiting.cancel()
    await waiting


async def _drain(
    tasks: _Tasks,
    simulators: dict[str, Simulator],
    feeds: dict[str, list[Feed]],
    writer: StreamWriter,
    agents: list[GroupConsumer[Any]],
) -> dict[str, tuple[int, int, int]]:
    """Wait until every frame sent was read, written, consumed and acknowledged; each
    source's frames sent, read and malformed, counted when every frame sent was read."""
    await _until(
        lambda: all(sum(f.frames for f in fs) >= simulators[s].frames_sent
                    for s, fs in feeds.items()),
        tasks, "the feeds",
    )
    # counted in the same step as that check: the pollers go on asking until they are
    # stopped, and an answer served after it (read or not yet) is not the tape's
    frames = {s: (simulators[s].frames_sent, sum(f.frames for f in fs),
                  sum(f.malformed for f in fs)) for s, fs in feeds.items()}
    flushed = asyncio.create_task(writer.flush())  # a dead writer surfaces through check()
    await _until(flushed.done, tasks, "the bus writer")
    await flushed
    for agent in agents:
        async def caught_up(agent: GroupConsumer[Any] = agent) -> bool:
            return await agent.lag() == 0

        await _until(caught_up, tasks, f"agent {agent.name}")
    return frames


async def report(config: Config, url: str, out: Path, namespace: str, lang: Lang,
                 day: date | None = None) -> list[Path]:
    """The end-of-day report of a pipeline's namespace, from what Redis holds;
    NothingToReport when it holds nothing of that day."""
    redis = await connect(url)
    try:
        series, alerts, state = await collect_report(
            redis, Keys(config.redis.prefix, namespace), day)
        if not series and not alerts:
            raise NothingToReport(
                f"namespace {namespace} holds no events or alerts"
                + (f" of {day.isoformat()}" if day else "")
                + ": nothing to report (--namespace NAME reads another; run, demo and replay "
                "write theirs)")
        data = await rewrite_insight(build_report(series, alerts, state, config),
                                     config.report.llm)
    finally:
        await redis.aclose()
    return write_report(data, out, lang)


class NothingToReport(Exception):
    """A report asked of a namespace (or day) with no data."""


async def write_snapshots(config: Config, url: str, namespace: str) -> None:
    """Write the day's report at each configured snapshot time, until cancelled."""
    out_dir = config.report.out_dir or default_data_dir().parent / "reports"
    while True:
        at, snapshot = next_snapshot(datetime.now(UTC), config.report.snapshots)
        await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))
        label = at.astimezone(ZoneInfo(snapshot.tz)).strftime("%Y-%m-%d-%H%M")
        where = out_dir / f"{label}-{snapshot.tz.replace('/', '_')}"
        try:
            paths = await report(config, url, where, namespace, config.report.lang)
            log.info("report snapshot written: %s", ", ".join(str(p) for p in paths))
        except (OSError, RedisError, NothingToReport) as exc:
            log.warning("report snapshot at %s failed (%s); the next one is still due",
                        label, exc)


async def backfill(config: Config, store: HistoryStore, ids: Iterable[str] | None = None,
                   progress: Callable[[int, str], None] | None = None) -> list[Outcome]:
    """Fill the store's missing daily bars (the watchlist's by default); returns the ids that
    failed, each reported in the log. `progress`: as `Backfiller.backfill`'s, over `ids`
    (the ids without a history source count as done)."""
    endpoints = history_sources(config)
    catalog = default_catalog()
    given = list(ids or config.watchlist)
    wanted = [i for i in given if catalog[i].source in endpoints]
    skipped = len(given) - len(wanted)  # done already, as `progress` counts
    outcomes = await Backfiller(store, endpoints).backfill(
        wanted, wall_clock_ms(),
        progress and (lambda done, ident: progress(done + skipped, ident)))
    for outcome in outcomes:
        (log.warning if outcome.error else log.info)("backfill %s", outcome.line())
    return [o for o in outcomes if o.error]


async def fill_references(references: PreviousCloses, store: HistoryStore,
                          ids: Iterable[str]) -> None:
    """The daily closes the store holds of the ids, for quotes that carry no previous close."""
    for ident in ids:
        bars = await store.get(ident, days=REFERENCE_DAYS)
        if bars:
            references.set(ident, bars)


REFERENCE_DAYS = 10  # enough closes to span a long holiday


async def record(config: Config, out: Path, seconds: float | None = None) -> int:
    """Write the live feeds to a tape until cancelled (or for `seconds`), led by the recent
    daily bars of the recorded ids; returns the event lines written."""
    recorder = TapeRecorder(out)
    edge = GatedSink(recorder, config.feeds)
    tasks = _Tasks()
    try:
        days = math.ceil(config.history.needed * 7 / 5) + 10  # enough for the baselines
        history = await recent_history(history_sources(config), config.watchlist,
                                       wall_clock_ms(), days)
        references = PreviousCloses()
        for ident, bars in history.items():
            recorder.bars(ident, bars)
            references.set(ident, bars)
        for name, feed in live_feeds(config, edge, references):
            tasks.start(feed.run(), name)
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            tasks.check()
    finally:
        await tasks.cancel()
        recorder.close()
        if edge.gate.rejected:
            log.warning("recording: %s", edge.summary())
    return recorder.lines


async def run_live(
    config: Config, url: str, *, only: str | None, view: View, namespace: str = "live",
    notify: Sequence[str] = (), stop: asyncio.Event | None = None, bus: str = "redis",
) -> None:
    """Follow the watchlist live from the real sources until `stop` is set or the task is
    cancelled. Stopping drains: the feeds stop first, the bus writer writes what it holds,
    the agents finish the batch under way, then the rest stops. `bus="kafka"`: market
    events go to Kafka too, for the Faust workers, which then run the detectors."""
    stop = stop or asyncio.Event()
    tasks = _Tasks()
    feeds: list[asyncio.Task[Any]] = []
    counts: FeedCounts | None = None
    edge: GatedSink | None = None
    kafka: KafkaWriter | None = None
    async with _bus(config, url, namespace) as (redis, keys, writer), hold_namespace(
            redis, keys, url, "wait for it, or use --namespace",
            exclusive=only != "agents"):  # agents share a consumer group: several may run
        sink: Sink = writer.put
        try:
            tasks.start(writer.run(), "bus writer")
            if bus == "kafka" and only in (None, "feeds"):
                kafka = KafkaWriter(config.kafka.broker,
                                    topic_names(config.redis.prefix, namespace)[0])
                await kafka.start()
                tasks.start(kafka.run(), "kafka writer")
                sink = both(writer.put, kafka.put)
            store = HistoryStore(redis, keys, config.history.sessions,
                         config.history.volatility_window)
            references = PreviousCloses()
            if only in (None, "feeds"):  # streaming never waits on history
                edge = GatedSink(sink, config.feeds)
                named = live_feeds(config, edge, references)
                for name, feed in named:
                    tasks.start(feed.run(), name)
                    feeds.append(tasks.tasks[-1])
                counts = FeedCounts(redis, keys, [feed for _, feed in named])
                tasks.start(counts.run(), "feed counts")
                tasks.start(edge.run(redis, keys), "edge counts")
            if only in (None, "agents"):  # the agents wait for it: detectors need baselines
                failed = [o.ident for o in await backfill(config, store)
                          if not o.unknown]  # an id the source does not know: for good
                if failed:
                    tasks.start(Backfiller(store, history_sources(config))
                                .keep_filling(failed), "backfill retries")
            await fill_references(references, store, config.watchlist)
            if only in (None, "agents"):
                families = {family(i) for i in config.watchlist}
                agents = build_agents(config, redis, keys) if bus == "redis" else []
                for consumer in [*agents, HistoryRecorder(
                        redis, keys, families, store, config.agent)]:
                    tasks.start(consumer.run(), f"agent {consumer.name}", consumer.stop)
                await _start_notifications(config, notify, redis, keys, tasks, wall_clock_ms)
                if config.report.snapshots:
                    tasks.start(write_snapshots(config, url, namespace), "report snapshots")
            log_done = asyncio.Event()
            tasks.start(tail_alerts(redis, keys, view.alert, start="$", stop=log_done),
                        "alert log", log_done.set)
            freeze_startup()
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
                tasks.check()
        finally:
            for task in feeds:
                task.cancel()
            if feeds:
                await asyncio.wait(feeds, timeout=5)
            if counts is not None and not await counts.flush():
                log.error("stopping: the feeds' last counts could not be written to Redis")
            if edge is not None and not await edge.flush(redis, keys):
                log.error("stopping: the edge's last counts could not be written to Redis")
            left = writer.pending
            try:
                await asyncio.wait_for(writer.flush(), DRAIN_S)
                log.info("stopping: %d buffered events written", left)
            except TimeoutError:
                log.error("stopping: %d buffered events could not be written within %ds "
                          "(is Redis reachable?)", writer.pending, DRAIN_S)
            if kafka is not None:
                try:
                    await asyncio.wait_for(kafka.flush(), DRAIN_S)
                except TimeoutError:
                    log.error("stopping: %d events could not be sent to Kafka within %ds "
                              "(is the broker reachable?)", kafka.pending, DRAIN_S)
            await tasks.cancel()
            if kafka is not None:
                await kafka.stop()
