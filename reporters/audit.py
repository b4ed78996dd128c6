"""Counts in and out of every stage of a pipeline's namespace, from Redis's own bookkeeping,
and any loss among them.

  feeds      frames each source received, malformed and parsed, summed over every run (the
             counters are flushed once a second; a source that never flushed shows its
             latest status's counts, for the run that sent it); on a replay also the frames
             its simulator sent, and any it sent that the feed did not receive
  bus        per stream, events ever added (the bus writer's counter; one entry holds up to
             `redis.pack` of them), entries ever added (XINFO STREAM entries-added) and
             entries still kept
  consumers  per stream and group, in entries: delivered (added minus lag), acknowledged,
             pending (delivered, not acknowledged) and lag (not delivered yet); pending
             entries idle longer than `stuck_ms` are `stuck` (a consumer died holding them,
             or keeps failing on them)
  agents     the events and entries each consumer committed (counted in the transaction
             that acknowledges them), its entries against what its group acknowledged in
             Redis, and the alerts raised against what the alerts stream received
  (receivers' outboxes and the notifier are streams and groups like the others)

Everything here is cumulative since the namespace began. A stream trimmed by retention keeps
its `entries-added`, so the counts hold after trimming; an entry trimmed before its group
read it leaves the lag unknown, and the line says so.

`audit_window` counts the same stages within a time range, from the counters' minute
buckets (`stats:<minute>`, kept 8 days), whole minutes: what each feed received, the events
each stream was added, the events and entries each agent consumed and the alerts it raised,
and the alerts that reached the alerts stream.
Stages are not reconciled against one another within a window (an event added at 10:59:59
may be consumed at 11:00:00), except the alerts, which an agent raises and appends in one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import ResponseError
from rich.table import Table
from rich.text import Text

from reporters.feed_table import latest_statuses
from streams.keys import Keys


@dataclass(frozen=True)
class Line:
    stage: str
    name: str
    counts: dict[str, int]
    loss: int = 0  # what went missing between this stage and the one before
    note: str = ""


STUCK_MS = 60_000  # a pending entry idle this long is stuck, not in flight
STUCK_SCAN = 10_000  # at most this many pending entries are looked at per group


@dataclass
class Audit:
    lines: list[Line] = field(default_factory=list)
    stuck: int = 0  # pending entries idle longer than the threshold
    unfinished: bool = False  # a replay that stopped before its end (no one holds it now)

    @property
    def lost(self) -> int:
        return sum(line.loss for line in self.lines)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _streams(redis: aioredis.Redis, keys: Keys) -> list[str]:
    found = []
    async for key in redis.scan_iter(match=keys.pattern, count=1000, _type="stream"):
        found.append(_text(key))
    return sorted(found)


async def audit(redis: aioredis.Redis, keys: Keys, stuck_ms: int = STUCK_MS) -> Audit:
    """The namespace's counts and losses, and the pending entries idle over `stuck_ms`."""
    out = Audit()
    stats = {_text(k): int(v) for k, v in (await redis.hgetall(keys.stats)).items()}
    if _text(await redis.get(keys.replayed) or b"") == "running" \
            and not await redis.exists(keys.owner):
        out.unfinished = True  # its feed stage was never counted: nothing here is complete
    statuses = await latest_statuses(redis, keys)
    counted = {k.split(".")[1] for k in stats if k.startswith("feed.")}
    for source in sorted({s.source for s in statuses.values()} | counted):
        mine = [s for _, s in sorted(statuses.items()) if s.source == source]
        state = ", ".join(f"{s.state.value} ({s.connection})" if s.connection else s.state.value
                          for s in mine) or "no status"
        if source in counted:
            received, malformed = (stats.get(f"feed.{source}.{what}", 0)
                                   for what in ("received", "malformed"))
            note = f"{state}; every run, as of the last flush"
        else:
            received = sum(s.messages for s in mine)
            malformed = sum(s.malformed for s in mine)
            note = f"{state}; this run, as of its last state change"
        counts = {"received": received, "malformed": malformed, "parsed": received - malformed}
        sent = stats.get(f"feed.{source}.sent")  # a replay's simulator
        if sent is not None:
            counts = {"sent": sent} | counts
        rejected = stats.get(f"feed.{source}.rejected")  # events refused at the edge
        if rejected:
            counts["events rejected"] = rejected
            note += "; rejected: " + ", ".join(
                f"{n} {k.rsplit('.', 1)[1].replace('_', ' ')}" for k, n in sorted(stats.items())
                if k.startswith(f"feed.{source}.rejected."))
        out.lines.append(Line("feed", source, counts, note=note,
                              loss=max(0, (sent or 0) - received)))
    acknowledged: dict[str, int] = {}  # group -> acknowledged over its streams
    for stream in await _streams(redis, keys):
        info = await redis.xinfo_stream(stream)
        added = int(info["entries-added"])
        short = stream.removeprefix(keys.base + ":")
        events = stats.get(f"bus.{stream}.added", added)  # streams not packed: one an entry
        out.lines.append(Line("bus", short, {"added": events, "entries": added,
                                             "entries kept": int(info["length"])}))
        try:
            groups = await redis.xinfo_groups(stream)
        except ResponseError:
            groups = []
        for group in groups:
            name, pending, lag = _text(group["name"]), int(group["pending"]), group.get("lag")
            delivered = added - int(lag) if lag is not None else group.get("entries-read")
            if delivered is None:
                out.lines.append(Line("consumer", f"{short} → {name}", {"pending": pending},
                                      note="delivered count unknown (entries trimmed unread)"))
                continue
            acknowledged[name] = acknowledged.get(name, 0) + int(delivered) - pending
            stuck = await _stuck(redis, stream, name, stuck_ms) if pending else 0
            out.stuck += stuck
            out.lines.append(Line("consumer", f"{short} → {name}", {
                "delivered": int(delivered), "acknowledged": int(delivered) - pending,
                "pending": pending, "stuck": stuck, "lag": int(lag) if lag is not None else -1},
                note=f"{stuck} pending entries idle over {stuck_ms / 1000:g}s" if stuck else ""))
    raised = 0
    for agent in sorted({k.split(".")[1] for k in stats if k.startswith("agent.")}):
        counts = {what: stats.get(f"agent.{agent}.{what}", 0)
                  for what in ("consumed", "malformed", "alerts")}
        # before entries held several events, consumed counted entries
        counts["entries"] = stats.get(f"agent.{agent}.entries", counts["consumed"])
        raised += counts["alerts"]
        acked = acknowledged.get(agent)
        out.lines.append(Line(
            "agent", agent, counts | ({} if acked is None else {"acknowledged": acked}),
            loss=0 if acked is None else abs(acked - counts["entries"]),
            note="" if acked is None or acked == counts["entries"] else
            "committed and acknowledged counts differ"))
    on_bus = int((await redis.xinfo_stream(keys.alerts))["entries-added"]) \
        if await redis.exists(keys.alerts) else 0
    out.lines.append(Line("alerts", "raised → alerts stream",
                          {"raised": raised, "on the bus": on_bus}, loss=max(0, raised - on_bus)))
    return out


async def _stuck(redis: aioredis.Redis, stream: str, group: str, idle_ms: int) -> int:
    """How many of a group's pending entries have been idle at least `idle_ms`."""
    found: Any = await redis.xpending_range(stream, group, min="-", max="+", count=STUCK_SCAN,
                                            idle=idle_ms)
    return len(found)


async def audit_window(redis: aioredis.Redis, keys: Keys, since_ms: int, until_ms: int
                       ) -> Audit:
    """The namespace's counts between two moments (epoch ms), by whole minutes."""
    first, last = since_ms // 60_000, max(since_ms, until_ms - 1) // 60_000
    async with redis.pipeline(transaction=False) as pipe:
        for minute in range(first, last + 1):
            pipe.hgetall(keys.stats_at(minute))
        buckets = await pipe.execute()
    grown: dict[str, int] = {}
    for bucket in buckets:
        for counter, n in bucket.items():
            name = _text(counter)
            grown[name] = grown.get(name, 0) + int(n)
    out = Audit()
    for source in sorted({k.split(".")[1] for k in grown if k.startswith("feed.")}):
        received, malformed = (grown.get(f"feed.{source}.{what}", 0)
                               for what in ("received", "malformed"))
        out.lines.append(Line("feed", source, {"received": received, "malformed": malformed,
                                               "parsed": received - malformed}))
    for counter in sorted(k for k in grown if k.startswith("bus.") and k.endswith(".added")):
        stream = counter.removeprefix("bus.").removesuffix(".added")
        out.lines.append(Line("bus", stream.removeprefix(keys.base + ":"),
                              {"added": grown[counter]}))
    raised = 0
    for agent in sorted({k.split(".")[1] for k in grown if k.startswith("agent.")}):
        counts = {what: grown.get(f"agent.{agent}.{what}", 0)
                  for what in ("consumed", "entries", "malformed", "alerts")}
        raised += counts["alerts"]
        out.lines.append(Line("agent", agent, counts))
    on_bus = grown.get(f"bus.{keys.alerts}.added", 0)
    out.lines.append(Line("alerts", "raised → alerts stream",
                          {"raised": raised, "on the bus": on_bus}, loss=max(0, raised - on_bus)))
    return out


def audit_table(found: Audit) -> Table:
    table = Table("stage", "where", "counts", "lost", "note", title="audit")
    for line in found.lines:
        counts = ", ".join(f"{k} {v:,}" for k, v in line.counts.items() if v >= 0)
        table.add_row(line.stage, line.name, counts,
                      Text(str(line.loss), style="bold red") if line.loss else Text("0"),
                      line.note)
    return table
