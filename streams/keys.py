"""The one naming scheme of every Redis stream and key crosscurrent uses.

    <prefix>:<namespace>:events:<family>   ticks and metrics of one id family (hk, crypto, ...)
    <prefix>:<namespace>:quotes:<family>   best bid/ask updates (high volume, read by few)
    <prefix>:<namespace>:status            feed status events
    <prefix>:<namespace>:alerts            alert transitions from every detector agent
    <prefix>:<namespace>:alert-uid:<uid>   string (expiring): that transition was written
    <prefix>:<namespace>:state:<agent>     hash: an agent's detector snapshot and progress
    <prefix>:<namespace>:stats             hash: counters per stage (`<stage>.<counter>`)
    <prefix>:<namespace>:stats:<minute>    hash: the same counters' growth in one minute
                                           (epoch minutes, UTC; kept 8 days): `audit --since`
    <prefix>:<namespace>:workers           hash: each Faust worker's counters (`host:pid.*`)
    <prefix>:<namespace>:bars:<id>         hash: daily bars of one id, field = YYYY-MM-DD
    <prefix>:<namespace>:outbox:<receiver> stream: notices waiting for one receiver
    <prefix>:<namespace>:delivered:<receiver> set: notice ids that receiver has had
    <prefix>:<namespace>:notifications     stream: the delivery log (status of each attempt)
    <prefix>:<namespace>:silences          hash: silences by id
    <prefix>:<namespace>:replay            string: `running`, then `finished` (a replay's)
    <prefix>:owner:<namespace>             string (expiring): the namespace's one writer
    <prefix>:written-last                  string: the namespace written last, and by whom

The namespace separates a live pipeline (`live`) from replays (`replay`), so a replay never
mixes with live state. Consumer groups are named after the agent that reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from crosscurrent.catalog import family
from crosscurrent.events import Alert, AnyEvent, FeedStatus, Quote

MINUTE_STATS_TTL_S = 8 * 86_400


def this_minute() -> int:
    """Now, in epoch minutes: the bucket counters grow in."""
    return int(time.time() // 60)


@dataclass(frozen=True)
class Keys:
    prefix: str = "cc"
    namespace: str = "live"

    @property
    def base(self) -> str:
        return f"{self.prefix}:{self.namespace}"

    def events(self, family_name: str) -> str:
        return f"{self.base}:events:{family_name}"

    def quotes(self, family_name: str) -> str:
        return f"{self.base}:quotes:{family_name}"

    @property
    def status(self) -> str:
        return f"{self.base}:status"

    @property
    def alerts(self) -> str:
        return f"{self.base}:alerts"

    def state(self, agent: str) -> str:
        return f"{self.base}:state:{agent}"

    @property
    def alert_uids(self) -> str:
        """The prefix of the keys that mark an alert transition as written (by uid)."""
        return f"{self.base}:alert-uid:"

    @property
    def stats(self) -> str:
        return f"{self.base}:stats"

    def stats_at(self, minute: int) -> str:
        """The counters' growth during `minute` (epoch minutes)."""
        return f"{self.base}:stats:{minute}"

    @property
    def owner(self) -> str:
        """Who writes the namespace (`streams/owner.py`); beside its keys, so that clearing
        them keeps it."""
        return f"{self.prefix}:owner:{self.namespace}"

    @property
    def instruments(self) -> str:
        """The user's own instruments the namespace's writer knew (id -> JSON), for its
        readers; beside its keys, so that clearing them keeps it."""
        return f"{self.prefix}:instruments:{self.namespace}"

    @property
    def written_last(self) -> str:
        """The namespace a pipeline wrote last (any namespace's writer sets it): where the
        read commands look when not told."""
        return f"{self.prefix}:written-last"

    @property
    def replayed(self) -> str:
        """A replay's state: `running` from its start, `finished` once every stage drained."""
        return f"{self.base}:replay"

    @property
    def workers(self) -> str:
        return f"{self.base}:workers"

    def bars(self, instrument_id: str) -> str:
        return f"{self.base}:bars:{instrument_id}"

    def intraday(self, day: str, instrument_id: str) -> str:
        """An id's five-minute buckets of one UTC day (`day`: YYYY-MM-DD)."""
        return f"{self.base}:intraday:{day}:{instrument_id}"

    def outbox(self, receiver: str) -> str:
        return f"{self.base}:outbox:{receiver}"

    def delivered(self, receiver: str) -> str:
        return f"{self.base}:delivered:{receiver}"

    @property
    def notifications(self) -> str:
        return f"{self.base}:notifications"

    @property
    def silences(self) -> str:
        return f"{self.base}:silences"

    def stream_for(self, event: AnyEvent) -> str:
        """The stream an event is written to."""
        if isinstance(event, Alert):
            return self.alerts
        if isinstance(event, FeedStatus):
            return self.status
        if isinstance(event, Quote):
            return self.quotes(family(event.id))
        return self.events(family(event.id))

    @property
    def pattern(self) -> str:
        """A SCAN pattern matching every key of this namespace."""
        return f"{self.base}:*"
