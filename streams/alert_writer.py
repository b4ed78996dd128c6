"""Alerts written to the Redis alerts stream at most once each, from engines that may
process an event twice (Faust on Kafka is at-least-once): each transition's `uid` is
claimed with SET NX (expiring after `ttl_s`) in the same script that appends it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from crosscurrent.events import Alert, encode
from streams.bus import ALERTS_MAXLEN
from streams.keys import MINUTE_STATS_TTL_S, Keys, this_minute
from streams.redis_client import reraise_cancellation

log = logging.getLogger(__name__)

# KEYS: alerts stream, stats hash, uid key prefix, this minute's stats. ARGV: maxlen, ttl,
# stats field, minute stats ttl, then uid and payload of each alert. Returns how many were new.
WRITE_NEW = """
local n = 0
for i = 5, #ARGV, 2 do
  if redis.call('SET', KEYS[3] .. ARGV[i], '1', 'NX', 'EX', ARGV[2]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i + 1])
    n = n + 1
  end
end
if n > 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[3], n)
  redis.call('HINCRBY', KEYS[4], ARGV[3], n)
  redis.call('HINCRBY', KEYS[4], 'bus.' .. KEYS[1] .. '.added', n)
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
return n
"""


class AlertWriter:
    def __init__(self, redis: aioredis.Redis, keys: Keys, agent: str, *,
                 maxlen: int = ALERTS_MAXLEN, ttl_s: int = 7 * 86_400) -> None:
        self.keys = keys
        self.agent = agent
        self.maxlen = maxlen
        self.ttl_s = ttl_s
        self._script = redis.register_script(WRITE_NEW)
        self.written = 0
        self.repeated = 0  # written before (an event processed again)

    async def write(self, alerts: Sequence[Alert]) -> int:
        """Append the alerts not written before; retried with backoff until Redis takes
        them (the caller waits: backpressure, nothing dropped). Returns how many were new."""
        if not alerts:
            return 0
        args: list[str | bytes | int] = [self.maxlen, self.ttl_s, f"agent.{self.agent}.alerts",
                                         MINUTE_STATS_TTL_S]
        for alert in alerts:
            args += [alert.uid, encode(alert)]
        delay = 0.05
        while True:
            try:
                new = int(await self._script(
                    keys=[self.keys.alerts, self.keys.stats, self.keys.alert_uids,
                          self.keys.stats_at(this_minute())], args=args))
            except (RedisError, OSError) as exc:
                reraise_cancellation()
                log.warning("writing %d alerts failed (%s); retrying in %.2fs",
                            len(alerts), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.written += new
            self.repeated += len(alerts) - new
            return new
