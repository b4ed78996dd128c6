"""Silences: matchers that mute notifications for a while, kept in Redis."""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass

import orjson
from redis import asyncio as aioredis

from crosscurrent.events import Alert
from reporters.matchers import Matcher
from streams.keys import Keys

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `1d` -> seconds; ValueError otherwise."""
    found = _DURATION.match(text.strip())
    if not found:
        raise ValueError(f"bad duration {text!r}: use a number and s, m, h or d (e.g. 2h)")
    return float(found.group(1)) * _UNIT_S[found.group(2)]


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: str
    starts: int  # epoch ms
    ends: int
    comment: str = ""

    def active(self, now: int) -> bool:
        return self.starts <= now < self.ends

    def mutes(self, alert: Alert, now: int) -> bool:
        return self.active(now) and Matcher.parse(self.matchers).matches(alert)


def new_silence(matchers: str, starts: int, seconds: float, comment: str = "") -> Silence:
    Matcher.parse(matchers)  # a bad matcher is refused before it is stored
    return Silence(id=secrets.token_hex(4), matchers=matchers, starts=starts,
                   ends=starts + int(seconds * 1000), comment=comment)


async def save_silence(redis: aioredis.Redis, keys: Keys, silence: Silence) -> None:
    await redis.hset(keys.silences, silence.id, orjson.dumps(asdict(silence)))


async def load_silences(redis: aioredis.Redis, keys: Keys) -> list[Silence]:
    raw = await redis.hgetall(keys.silences)
    return sorted((Silence(**orjson.loads(v)) for v in raw.values()), key=lambda s: s.starts)


async def expire_silence(redis: aioredis.Redis, keys: Keys, silence_id: str, now: int) -> bool:
    raw = await redis.hget(keys.silences, silence_id)
    if raw is None:
        return False
    silence = Silence(**orjson.loads(raw))
    await save_silence(redis, keys, Silence(**(asdict(silence) | {"ends": min(silence.ends,
                                                                              now)})))
    return True
