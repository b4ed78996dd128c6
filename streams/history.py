"""The history store: daily bars per canonical id in Redis, kept for `sessions` trading days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from pydantic import ValidationError
from redis import asyncio as aioredis

from crosscurrent.bars import DailyBar
from streams.keys import Keys


class HistoryStore:
    def __init__(self, redis: aioredis.Redis, keys: Keys, sessions: int = 400) -> None:
        self.redis = redis
        self.keys = keys
        self.sessions = sessions

    async def put(self, bars: Iterable[tuple[str, DailyBar]]) -> None:
        """Write bars (a bar of an existing date replaces it) and trim to `sessions`."""
        by_id: dict[str, dict[str, bytes]] = {}
        for ident, bar in bars:
            by_id.setdefault(ident, {})[bar.date.isoformat()] = bar.model_dump_json().encode()
        if not by_id:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for ident, fields in by_id.items():
                pipe.hset(self.keys.bars(ident), mapping=fields)  # type: ignore[arg-type]
                pipe.hlen(self.keys.bars(ident))
            replies: list[Any] = await pipe.execute()
        for ident, length in zip(by_id, replies[1::2], strict=True):
            if int(length) > self.sessions:
                await self._trim(ident)

    async def _trim(self, ident: str) -> None:
        fields: list[Any] = await self.redis.hkeys(self.keys.bars(ident))
        days = sorted(f.decode() if isinstance(f, bytes) else f for f in fields)
        await self.redis.hdel(self.keys.bars(ident), *days[: len(days) - self.sessions])

    async def get(self, ident: str, days: int | None = None) -> list[DailyBar]:
        """The newest `days` bars of an id (all kept ones by default), oldest first."""
        raw: dict[Any, Any] = await self.redis.hgetall(self.keys.bars(ident))
        bars = []
        for value in raw.values():
            try:
                bars.append(DailyBar.model_validate_json(value))
            except ValidationError:
                continue  # a bar written by something else: not ours to read
        bars.sort(key=lambda bar: bar.date)
        return bars if days is None else bars[-days:]

    async def bar(self, ident: str, day: date) -> DailyBar | None:
        value = await self.redis.hget(self.keys.bars(ident), day.isoformat())
        return None if value is None else DailyBar.model_validate_json(value)
