from __future__ import annotations

import asyncio
from datetime import date, timedelta

from crosscurrent.bars import DailyBar
from streams.history import HistoryStore
from streams.keys import Keys
from streams.redis_client import connect


def bar(day: date, close: float) -> DailyBar:
    return DailyBar(date=day, open=close, high=close, low=close, close=close, volume=1.0)


def test_bars_are_kept_per_id_newest_sessions_only(redis_url: str, keys: Keys) -> None:
    async def main() -> None:
        redis = await connect(redis_url)
        store = HistoryStore(redis, keys, sessions=5)
        start = date(2026, 3, 1)
        await store.put(("hk:HSI", bar(start + timedelta(days=i), 25000.0 + i)) for i in range(8))
        await store.put([("hk:HSI", bar(start + timedelta(days=7), 99.0))])  # today, updated
        bars = await store.get("hk:HSI")
        assert [b.date for b in bars] == [start + timedelta(days=i) for i in range(3, 8)]
        assert bars[-1].close == 99.0
        assert [b.close for b in await store.get("hk:HSI", days=2)] == [25006.0, 99.0]
        assert await store.bar("hk:HSI", start + timedelta(days=4)) == bars[1]
        assert await store.get("us:SPX") == [] and await store.bar("us:SPX", start) is None
        await redis.aclose()

    asyncio.run(main())
