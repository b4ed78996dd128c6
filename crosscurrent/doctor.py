"""`crosscurrent doctor`: does everything this config needs work? One verdict a line.

Besides the config, the detectors and Redis, it runs the config's live feeds for a few
seconds, then gives each source (each connection, where a source has several) one line:
where it connected, what flowed, and what stayed silent or was refused, and why.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from crosscurrent.catalog import default_catalog
from crosscurrent.config import Config
from crosscurrent.events import FeedState, FeedStatus, MarketEvent, Quote
from crosscurrent.sources import ADAPTED_SOURCES, Feed, live_feeds
from detectors import RUNS_AS, compiled
from reporters.feed_table import configured_sources, label
from streams.feed import Watched, WebsocketFeed
from streams.redis_client import BusUnavailableError, connect, redact

#: A continuous stream counts as silent when nothing came for this share of the listening.
SILENT_SHARE = 0.8
LISTED = 6  # more streams flowing than this: their count, not their names


@dataclass(frozen=True)
class Verdict:
    ok: bool
    what: str
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.what:<20} {self.detail}"


def check_receivers_of(config: Config) -> Verdict:
    """Every receiver readable (its env:/file: secret there, its URL one apprise takes)."""
    from reporters.notifier import ReceiverError, check_receivers

    names = ", ".join(r.name for r in config.notify.receivers)
    try:
        check_receivers(config.notify)
    except ReceiverError as exc:
        return Verdict(False, "receivers", str(exc))
    return Verdict(True, "receivers", names or "none configured (alerts go to the screen only)")


async def check_redis(url: str) -> Verdict:
    try:
        redis = await connect(url)
    except BusUnavailableError as exc:
        return Verdict(False, "redis", str(exc))
    try:
        info = await redis.info("server")
        persistence = await redis.config_get("appendonly")
        aof = "AOF on" if persistence.get("appendonly") == "yes" else "AOF off: a restart loses "
        if aof.startswith("AOF off"):
            aof += "the streams (set appendonly yes)"
        return Verdict(True, "redis", f"{redact(url)}: Redis {info['redis_version']}, {aof}")
    except RedisError as exc:
        return Verdict(False, "redis", f"{redact(url)}: {exc}")
    finally:
        await redis.aclose()


async def diagnose(config: Config, url: str, config_label: str, listen_s: float = 10.0
                   ) -> list[Verdict]:
    verdicts = [Verdict(True, "config", config_label), check_receivers_of(config),
                Verdict(True, "detectors", compiled.described(RUNS_AS)), await check_redis(url)]
    catalog = default_catalog()
    used = {catalog[i].source for i in config.watchlist}
    verdicts += [Verdict(False, s, "no live adapter yet: its ids are not followed")
                 for s in sorted(used - set(ADAPTED_SOURCES))]
    if "eastmoney" in used and importlib.util.find_spec("akshare") is None:
        verdicts.append(Verdict(False, "eastmoney",
                                "akshare is not installed: pip install 'crosscurrent[cn]'"))
        config = config.model_copy(update={"watchlist": [
            i for i in config.watchlist if catalog[i].source != "eastmoney"]})
    return verdicts + await listen(config, listen_s)


class Tally:
    """The listening feeds' sink: events per (source, id), the latest status per connection."""

    def __init__(self) -> None:
        self.events: Counter[tuple[str, str]] = Counter()
        self.statuses: dict[str, FeedStatus] = {}

    async def __call__(self, event: MarketEvent | FeedStatus) -> None:
        if isinstance(event, FeedStatus):
            self.statuses[label(event)] = event
        elif not isinstance(event, Quote):
            self.events[event.source, event.id] += 1


async def listen(config: Config, seconds: float) -> list[Verdict]:
    """Run every feed of the config for `seconds`; one verdict per source or connection."""
    tally = Tally()
    feeds = [feed for _, feed in live_feeds(config, tally)]
    opened = time.time_ns()
    tasks = [asyncio.create_task(feed.run()) for feed in feeds]
    try:
        await asyncio.wait(tasks, timeout=seconds)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    wanted = configured_sources(config)
    verdicts = []
    for source in sorted({feed.source for feed in feeds}):
        own = [f for f in feeds if f.source == source]
        watched = [f for f in own if isinstance(f, WebsocketFeed)
                   and isinstance(f.protocol, Watched)]
        if watched and len(watched) == len(own):
            verdicts += [judge_streams(f, tally, opened, seconds) for f in watched]
        else:
            verdicts.append(judge_ids(source, own, wanted.get(source, []), tally, seconds))
    return verdicts


def _where(feed: Feed) -> str:
    """The address a feed reads, without its query (a stream list can be long)."""
    url = feed.protocol.url() if isinstance(feed, WebsocketFeed) else \
        getattr(feed, "base_url", "")
    return urlsplit(url)._replace(query="").geturl() if url else feed.source


def _failed_to_connect(feed: Feed, name: str, tally: Tally, seconds: float) -> Verdict | None:
    """The verdict of a feed that was refused or never got an answer; None otherwise."""
    state = getattr(feed, "state", None)
    status = tally.statuses.get(name)
    detail = status.detail if status is not None else ""
    if state == FeedState.UNAVAILABLE:
        return Verdict(False, name, detail)
    if feed.frames or state not in (FeedState.CONNECTING, FeedState.DISCONNECTED):
        return None
    if "HTTP 401" in detail or "HTTP 403" in detail:  # reached, and the key refused
        hint = getattr(getattr(feed, "protocol", None), "auth_help", None)
        return Verdict(False, name, f"{_where(feed)}: {detail}" + (f"; {hint()}" if hint else ""))
    if "HTTP 404" in detail and isinstance(feed, WebsocketFeed) \
            and isinstance(feed.protocol, Watched):  # a path this host does not serve
        return Verdict(False, name, f"{_where(feed)}: HTTP 404, no such path: "
                                    f"{feed.protocol.silence_hint([])}")
    reason = detail or f"no answer within {seconds:g}s"
    return Verdict(False, name, f"{_where(feed)}: unreachable ({reason[:120]}); check the "
                                "network or the address in the config")


def judge_streams(feed: WebsocketFeed, tally: Tally, opened_ns: int, seconds: float
                  ) -> Verdict:
    """One connection of a streaming source that knows its streams (Binance)."""
    protocol = feed.protocol
    assert isinstance(protocol, Watched)
    name = f"{feed.source} {protocol.connection}".strip()
    refused = _failed_to_connect(feed, name, tally, seconds)
    if refused is not None:
        return refused
    streams = protocol.streams()
    seen = [s for s in streams if s in protocol.seen]
    silent = protocol.silent(opened_ns, time.time_ns(), seconds * SILENT_SHARE)
    said = f"{_where(feed)}: {feed.frames} frames in {seconds:g}s"
    if seen and len(seen) <= LISTED:
        said += f" ({', '.join(seen)})"
    elif seen:
        said += f" ({len(seen)} of {len(streams)} streams)"
    if not silent:
        return Verdict(True, name, said)
    return Verdict(False, name, f"{said}; silent: {', '.join(silent)}: "
                                f"{protocol.silence_hint(silent)}")


def judge_ids(source: str, feeds: Sequence[Feed], ids: list[str], tally: Tally,
              seconds: float) -> Verdict:
    """A source judged by its ids: which flowed, which stayed silent while their market was
    open, which paths were refused."""
    for feed in feeds:
        failed = _failed_to_connect(feed, source, tally, seconds)
        if failed is not None:
            return failed
    catalog, now = default_catalog(), int(time.time() * 1000)
    where = ", ".join(sorted({_where(f) for f in feeds}))
    refused = {path: status for f in feeds for path, status in getattr(f, "refused", {}).items()}
    slugs = {urlsplit(path).path.rsplit("/", 1)[-1] for path in refused}
    flowing = [i for i in ids if tally.events[source, i]]
    quiet = [i for i in ids if i not in flowing and catalog[i].symbol not in slugs
             and catalog[i].calendar.is_open(now)]
    unit = "frames" if any(isinstance(f, WebsocketFeed) for f in feeds) else "answers"
    said = f"{where}: {sum(f.frames for f in feeds)} {unit} in {seconds:g}s; " \
           f"{len(flowing)} of {len(ids)} ids flowing"
    problems = [f"refused: {path} (HTTP {status})" for path, status in sorted(refused.items())]
    if quiet:
        problems.append(f"silent while their market is open: {', '.join(quiet)}")
    if problems:
        return Verdict(False, source, f"{said}; {'; '.join(problems)}")
    closed = len(ids) - len(flowing)
    return Verdict(True, source, said + (f" ({closed} with their market closed)" if closed
                                         else ""))
