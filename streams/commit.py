"""A consumer's batch of writes, applied atomically by one script call.

A MULTI/EXEC of n commands costs n + 2 replies, each parsed by redis-py in Python under a
timeout of its own: most of the CPU of a small batch's commit. The same commands given to one
script run just as atomically (nothing else runs while a script does) and cost one reply, the
last command's. The first command that fails ends the script with its error, so a batch is
all or nothing where it matters: Redis refuses a script's writes for memory (OOM, over
`maxmemory`) only at its first write, and once one landed it lets the rest land too. So the
first command of a commit must be one Redis checks for memory (an XADD or HSET of what the
batch produced, never the XACKs): refused, nothing of the batch is stored and nothing is
acknowledged, and the consumer starts over from its last commit. The methods mirror
redis-py's, so a `Commit` is filled like a pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.redis_client import Link

# ARGV: each command as its length followed by its arguments. Returns the last one's reply,
# or the first error (the commands after it are not run).
COMMIT = """
local i, n, last = 1, #ARGV, false
while i <= n do
  local size = tonumber(ARGV[i])
  last = redis.pcall(unpack(ARGV, i + 1, i + size))
  if type(last) == 'table' and last.err then return redis.error_reply(last.err) end
  i = i + size + 1
end
return last
"""
MAX_IDS = 1000  # entries acknowledged per XACK (Lua's unpack takes some 8,000 values at most)


class Commit:
    """Commands queued for one atomic script call (`run`)."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def call(self, *command: Any) -> None:
        self.args += (len(command), *command)

    def hset(self, name: str, key: str | None = None, value: Any = None,
             mapping: Mapping[str, Any] | None = None) -> None:
        pairs = [key, value] if key is not None else []
        for field, item in (mapping or {}).items():
            pairs += (field, item)
        self.call("HSET", name, *pairs)

    def hincrby(self, name: str, key: str, amount: int = 1) -> None:
        self.call("HINCRBY", name, key, amount)

    def expire(self, name: str, seconds: int) -> None:
        self.call("EXPIRE", name, seconds)

    def xadd(self, name: str, fields: Mapping[Any, Any], maxlen: int | None = None) -> None:
        trim = ("MAXLEN", "~", maxlen) if maxlen is not None else ()
        flat = [item for pair in fields.items() for item in pair]
        self.call("XADD", name, *trim, "*", *flat)

    def xack(self, name: str, group: str, *ids: bytes) -> None:
        for start in range(0, len(ids), MAX_IDS):
            self.call("XACK", name, group, *ids[start:start + MAX_IDS])

    async def run(self, link: Link) -> Any:
        """Apply the commands; the reply of the last one, raw (as the script returns it)."""
        return await link.script(COMMIT, args=self.args)
