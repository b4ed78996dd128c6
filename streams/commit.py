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

A consumer commits a batch after batch with the same commands but for a few figures, so
what stays the same is encoded once (`Encoded`: its read ahead, the head of its XACKs), and
its stats counters are one step of the script (COUNTERS), not two HINCRBYs a counter and an
EXPIRE: a small batch's commit costs little more to send than its figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams.redis_client import Encoded, Link, encode

# ARGV: each command as its length followed by its arguments. Returns the last one's reply,
# or the first error (the commands after it are not run). One step is not a Redis command:
# COUNTERS ttl minute all name n [name n ...] adds each n to its counter in the hash
# `minute` and, unless `all` is empty, in the hash `all`, then has `minute` expire in ttl s.
COMMIT = """
local function failed(reply) return type(reply) == 'table' and reply.err end
local i, n, last = 1, #ARGV, false
while i <= n do
  local size = tonumber(ARGV[i])
  if ARGV[i + 1] == 'COUNTERS' then
    local minute, all = ARGV[i + 3], ARGV[i + 4]
    for j = i + 5, i + size, 2 do
      last = redis.pcall('HINCRBY', minute, ARGV[j], ARGV[j + 1])
      if failed(last) then return redis.error_reply(last.err) end
      if all ~= '' then
        last = redis.pcall('HINCRBY', all, ARGV[j], ARGV[j + 1])
        if failed(last) then return redis.error_reply(last.err) end
      end
    end
    last = redis.pcall('EXPIRE', minute, ARGV[i + 2])
  else
    last = redis.pcall(unpack(ARGV, i + 1, i + size))
  end
  if failed(last) then return redis.error_reply(last.err) end
  i = i + size + 1
end
return last
"""
MAX_IDS = 1000  # entries acknowledged per XACK (Lua's unpack takes some 8,000 values at most)


def command(*args: Any) -> Encoded:
    """A whole command encoded once as a commit queues it (its length first), for `add`."""
    return Encoded(len(args) + 1, encode((len(args), *args)))


class Commit:
    """Commands queued for one atomic script call (`run`)."""

    def __init__(self) -> None:
        self.args: list[Any] = []  # the script's ARGV, where `Encoded` runs stand for theirs
        self._encoded: list[int] = []  # where they stand

    def call(self, *command: Any) -> None:
        self.args += (len(command), *command)

    def call_encoded(self, head: Encoded, *rest: Any) -> None:
        """A command whose first arguments were encoded once (`encoded(...)`)."""
        self._encoded.append(len(self.args) + 1)
        self.args += (head.size + len(rest), head, *rest)

    def add(self, whole: Encoded) -> None:
        """A command encoded once, its length and all (`command(...)`)."""
        self._encoded.append(len(self.args))
        self.args.append(whole)

    def counters(self, minute: str, all_time: str, counters: Mapping[str, int],
                 ttl: int) -> None:
        """Add to counters in the hash `minute` (kept `ttl` s) and in `all_time` (unless
        empty), in one step."""
        self.call("COUNTERS", ttl, minute, all_time,
                  *[item for pair in counters.items() for item in pair])

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

    def acknowledge(self, head: Encoded, ids: Sequence[bytes]) -> None:
        """XACK of `ids`, `head` being `encoded("XACK", stream, group)`."""
        for start in range(0, len(ids), MAX_IDS):
            self.call_encoded(head, *ids[start:start + MAX_IDS])

    def encoding(self) -> tuple[int, list[bytes]]:
        """How many arguments the script gets, and their encodings in order."""
        args, out, start = self.args, [], 0
        count = len(args)
        for at in self._encoded:
            if at > start:
                out.append(encode(tuple(args[start:at])))
            item: Encoded = args[at]
            out.append(item.data)
            count += item.size - 1
            start = at + 1
        if start < len(args):
            out.append(encode(tuple(args[start:])))
        return count, out

    async def run(self, link: Link) -> Any:
        """Apply the commands; the reply of the last one, raw (as the script returns it)."""
        count, argv = self.encoding()
        return await link.script_encoded(COMMIT, count, argv)
