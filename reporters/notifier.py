"""Notifications: from the alerts stream to people, at least once and never twice.

The `Notifier` reads the alerts stream in a consumer group, runs the lifecycle (`lifecycle.py`)
and routes each notice to its receivers' outboxes (`outbox:<receiver>` streams); the outbox
entries, the lifecycle's state and the XACKs commit in one transaction. A `Deliverer` per
receiver sends its outbox in order through apprise (in a worker thread: apprise is blocking),
rate-limited without blocking the event loop, retrying with backoff while the receiver is down.
A delivered notice's id goes into `delivered:<receiver>` with its XACK and a line of the
`notifications` log in one transaction; a notice whose id is there is never sent again. So a
restart re-sends nothing delivered and loses nothing undelivered.

Receiver URLs hold secrets: they are resolved from `env:NAME` or `file:PATH` and never logged;
logs and errors name the receiver only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from crosscurrent.config import AgentConfig
from crosscurrent.events import Alert, Severity
from crosscurrent.notify_config import Lang, NotifyConfig, Receiver, Route, url_problem
from reporters.lifecycle import Lifecycle, Notice, severities
from reporters.matchers import Matcher
from reporters.messages import body, summary, title
from reporters.silences import Silence, load_silences
from streams.bus import FIELD, GroupReader
from streams.commit import Commit
from streams.consumer import GroupConsumer
from streams.keys import Keys
from streams.redis_client import reraise_cancellation

log = logging.getLogger(__name__)
logging.getLogger("apprise").setLevel(logging.CRITICAL)  # it may name hosts and paths
NAME = "notifier"
CLI_RECEIVER = "cli"
DELIVERED_TTL_S = 14 * 86400


class ReceiverError(ValueError):
    """A receiver that cannot be used: names the receiver, never its URL."""


def resolve_url(receiver: str, url: str, env: dict[str, str] | None = None) -> str:
    """An apprise URL, or the one `env:NAME` / `file:PATH` holds."""
    env = dict(os.environ) if env is None else env
    if url.startswith("env:"):
        name = url[4:]
        if not env.get(name):
            raise ReceiverError(f"receiver {receiver}: environment variable {name} is not set")
        return env[name].strip()
    if url.startswith("file:"):
        try:
            return Path(url[5:]).read_text("utf-8").strip()
        except OSError as exc:
            raise ReceiverError(f"receiver {receiver}: cannot read {url[5:]} "
                                f"({exc.strerror})") from None
    return url


def with_cli_receivers(config: NotifyConfig, urls: Sequence[str], lang: Lang = "both"
                       ) -> NotifyConfig:
    """`--notify URL`: one more receiver that gets every alert (ahead of the other routes),
    in the command's `--lang`; ReceiverError for a URL of no usable form."""
    if not urls:
        return config
    for number, url in enumerate(urls, start=1):
        problem = url_problem(url)
        if problem:
            raise ReceiverError(f"--notify URL #{number} {problem}")
    receiver = Receiver(name=CLI_RECEIVER, urls=tuple(urls), lang=lang)
    route = Route.model_validate({"match": "", "receivers": [CLI_RECEIVER], "continue": True})
    return config.model_copy(update={"receivers": (*config.receivers, receiver),
                                     "routes": (route, *config.routes)})


def check_receivers(config: NotifyConfig, urls: Sequence[str] = ()) -> None:
    """Before any work: every receiver (with the `--notify` URLs) resolved and read by
    apprise, every route's receivers known; ReceiverError naming the first that is not."""
    notify = with_cli_receivers(config, urls)
    for receiver in notify.receivers:
        apprise_sender(receiver)
    _check_routes(notify)


def _check_routes(config: NotifyConfig) -> None:
    names = {r.name for r in config.receivers}
    for route in config.routes:
        unknown = set(route.receivers) - names
        if unknown:
            raise ReceiverError(f"route {route.match!r}: no receiver named "
                                f"{', '.join(sorted(unknown))}")
        try:
            Matcher.parse(route.match)
        except ValueError as exc:
            raise ReceiverError(f"route {route.match!r}: {exc}") from None


class Notifier(GroupConsumer[Alert]):
    accepts = (Alert,)

    def __init__(self, config: NotifyConfig, redis: aioredis.Redis, keys: Keys,
                 agent: AgentConfig, clock: Callable[[], int], consumer: str | None = None
                 ) -> None:
        super().__init__(NAME, redis, keys, [keys.alerts], agent, consumer)
        self.config = config
        self.clock = clock
        self.silences: list[Silence] = []
        self.lifecycle = Lifecycle(config, self._silenced)
        _check_routes(config)
        self.routes = [(Matcher.parse(r.match), r.receivers, r.continue_) for r in config.routes]
        self._notices: list[Notice] = []
        self.notices = 0

    def _silenced(self, alert: Alert, now: int) -> bool:
        return any(s.mutes(alert, now) for s in self.silences)

    def receivers_of(self, alert: Alert) -> list[str]:
        found: list[str] = []
        for matcher, receivers, more in self.routes:
            if matcher.matches(alert):
                found += [r for r in receivers if r not in found]
                if not more:
                    break
        return found

    async def restore(self) -> None:
        saved = await self.redis.hget(self.keys.state(NAME), "lifecycle")
        if saved:
            self.lifecycle.restore(orjson.loads(saved))

    async def prepare(self, events: list[Alert]) -> None:
        self.silences = await load_silences(self.redis, self.keys)

    def handle(self, events: list[Alert]) -> None:
        for alert in events:
            self.lifecycle.on_alert(alert)
            self._notices += self.lifecycle.advance(alert.ts)

    def write(self, tx: Commit, processed: int) -> None:
        for notice in self._notices:
            by_receiver: dict[str, list[Alert]] = {}
            for alert in notice.alerts:
                for receiver in self.receivers_of(alert):
                    by_receiver.setdefault(receiver, []).append(alert)
            for receiver, alerts in by_receiver.items():
                part = Notice(id=f"{notice.id}:{receiver}", group=notice.group,
                              alerts=tuple(alerts), ts=notice.ts)
                tx.xadd(self.keys.outbox(receiver), {FIELD: orjson.dumps(part.to_json())})
        tx.hset(self.keys.state(NAME), mapping={
            "lifecycle": orjson.dumps(self.lifecycle.snapshot()), "processed": processed})

    async def committed(self) -> None:
        self.notices += len(self._notices)
        self._notices = []

    async def step(self) -> int:
        """A batch of alerts, then the passing of time (group waits, repeats, resolves)."""
        count = await super().step()
        await self.tick(self.clock())
        return count

    async def catch_up(self) -> int:
        """Every alert written so far, then the passing of time to the (tape) clock."""
        count = await super().catch_up()
        await self.tick(self.clock())
        return count

    async def tick(self, now: int, flush: bool = False) -> None:
        self.silences = await load_silences(self.redis, self.keys)
        self._notices = self.lifecycle.flush_all(now) if flush else self.lifecycle.advance(now)
        if not self._notices:
            return
        commit = Commit()
        self.write(commit, self.processed)
        await commit.run(self.link)
        await self.committed()


@dataclass
class Delivery:
    receiver: str
    notice: Notice
    attempts: int


Sender = Callable[[str, str, Severity], bool]  # title, body, severity -> delivered?


def apprise_sender(receiver: Receiver, env: dict[str, str] | None = None) -> Sender:
    """A blocking sender for a receiver's URLs (every URL must take the notice)."""
    import apprise

    client = apprise.Apprise()
    who = f"receiver {receiver.name}" + (" (--notify)" if receiver.name == CLI_RECEIVER else "")
    for n, url in enumerate(receiver.urls, start=1):
        if not client.add(resolve_url(receiver.name, url, env)):
            raise ReceiverError(f"{who}: apprise cannot read URL #{n} (a service it does not "
                                "know, or a malformed URL: see "
                                "https://github.com/caronc/apprise/wiki)")
    kinds = {Severity.INFO: apprise.NotifyType.INFO, Severity.WARNING: apprise.NotifyType.WARNING,
             Severity.CRITICAL: apprise.NotifyType.FAILURE}

    def send(title_text: str, body_text: str, severity: Severity) -> bool:
        return bool(client.notify(title=title_text, body=body_text, notify_type=kinds[severity]))

    return send


class Deliverer:
    """Sends one receiver's outbox in order until cancelled."""

    def __init__(self, receiver: Receiver, redis: aioredis.Redis, keys: Keys,
                 send: Sender | None = None, lang: Lang | None = None) -> None:
        self.receiver = receiver
        self.redis = redis
        self.keys = keys
        self.lang: Lang = lang or receiver.lang
        self.send = send or apprise_sender(receiver)
        self.reader = GroupReader(redis, [keys.outbox(receiver.name)], group="deliver",
                                  consumer=f"deliver-{receiver.name}", batch=1, block_ms=200,
                                  claim_idle_ms=30_000)
        self.stopping = asyncio.Event()
        self.delivered = 0
        self.duplicates = 0
        self.failures = 0
        self._tokens = receiver.per_minute
        self._refilled = time.monotonic()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"notify-{receiver.name}")

    def stop(self) -> None:
        """Finish the notice under way, then return from `run`."""
        self.stopping.set()

    async def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    self.reader.reset()
                    await self.reader.ensure_groups()
                    while not self.stopping.is_set():
                        for entry in await self.reader.read():
                            await self._deliver(entry.id, entry.payload)
                except (RedisError, OSError) as exc:
                    reraise_cancellation()
                    log.warning("receiver %s: Redis error (%s); resuming", self.receiver.name,
                                exc)
                    await asyncio.sleep(1)
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _rate_limit(self) -> None:
        per_s = self.receiver.per_minute / 60
        while True:
            now = time.monotonic()
            self._tokens = min(self.receiver.per_minute,
                               self._tokens + (now - self._refilled) * per_s)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / per_s)

    async def _deliver(self, entry_id: bytes, payload: bytes) -> None:
        name, outbox = self.receiver.name, self.keys.outbox(self.receiver.name)
        batch = [(entry_id, Notice.from_json(orjson.loads(payload)))]
        if await self.redis.sismember(self.keys.delivered(name), batch[0][1].id):
            self.duplicates += 1
            await self.redis.xack(outbox, self.reader.group, entry_id)
            return
        delay, attempt = self.receiver.retry_initial_s, 0
        while True:
            attempt += 1
            await self._rate_limit()
            # a send under way finishes and commits even if we are cancelled meanwhile: a
            # notice sent but not recorded would go out again after a restart
            inner = asyncio.ensure_future(self._attempt(batch, attempt))
            try:
                ok = await asyncio.shield(inner)
            except asyncio.CancelledError:
                await asyncio.wait([inner], timeout=60)
                raise
            if ok or self.stopping.is_set():  # stopped: it stays queued for the next start
                return
            log.warning("receiver %s: delivery of %d notice(s) failed (attempt %d); retrying "
                        "in %.1fs", name, len(batch), attempt, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.receiver.retry_max_s)
            batch += await self._backlog()

    async def _backlog(self) -> list[tuple[bytes, Notice]]:
        """With `summary_after`: once that many notices wait, the waiting ones join the
        retried batch, to go out as one summary when the receiver is back."""
        limit = self.receiver.summary_after
        if limit is None or await self.pending() < limit:  # the held ones count: unacked
            return []
        reply: Any = await self.redis.xreadgroup(
            self.reader.group, self.reader.consumer, {self.keys.outbox(self.receiver.name): ">"},
            count=1000)
        return [(mid, Notice.from_json(orjson.loads(fields[FIELD])))
                for _, messages in (reply.items() if isinstance(reply, dict) else reply or [])
                for mid, fields in messages]

    async def _attempt(self, batch: list[tuple[bytes, Notice]], attempt: int) -> bool:
        """One send (a summary when the batch holds several notices); recorded as delivered
        (with the XACKs) or as a failed attempt."""
        name, outbox = self.receiver.name, self.keys.outbox(self.receiver.name)
        notices = [notice for _, notice in batch]
        if len(notices) == 1:
            head, text = title(notices[0], self.lang), body(notices[0], self.lang)
        else:
            head, text = summary(notices, self.lang)
        top = severities([a for n in notices for a in n.alerts])
        loop = asyncio.get_running_loop()
        try:
            ok = await loop.run_in_executor(self._executor, self.send, head, text, top)
            error = "" if ok else "the receiver did not accept it"
        except Exception as exc:  # apprise and its plugins raise what their clients do
            ok, error = False, type(exc).__name__
        async with self.redis.pipeline(transaction=ok) as tx:
            if ok:
                tx.sadd(self.keys.delivered(name), *(n.id for n in notices))
                tx.expire(self.keys.delivered(name), DELIVERED_TTL_S)
                tx.xack(outbox, self.reader.group, *(entry for entry, _ in batch))
            for notice in notices:
                self._log_entry(tx, notice, "delivered" if ok else "failed", attempt, error)
            await tx.execute()
        if ok:  # counted here: this part runs to the end even when the caller is cancelled
            self.delivered += len(notices)
        else:
            self.failures += 1
        return ok

    def _log_entry(self, tx: Any, notice: Notice, status: str, attempt: int,
                   error: str) -> None:
        tx.xadd(self.keys.notifications, {FIELD: orjson.dumps({
            "receiver": self.receiver.name, "notice": notice.id, "status": status,
            "attempt": attempt, "error": error, "ts": time.time_ns() // 1_000_000,
            "alerts": [a.key for a in notice.alerts]})}, maxlen=100_000, approximate=True)

    async def pending(self) -> int:
        """Notices of this receiver not delivered yet."""
        return await self.reader.lag()


def deliverers(config: NotifyConfig, redis: aioredis.Redis, keys: Keys,
               lang: Lang | None = None) -> list[Deliverer]:
    return [Deliverer(receiver, redis, keys, lang=lang) for receiver in config.receivers]
