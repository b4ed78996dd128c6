from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crosscurrent.config import ConfigError, Snapshot, load_config
from reporters.snapshots import next_snapshot

SNAPSHOTS = load_config(env={}).report.snapshots  # 15:15 Shanghai, 16:30 New York


def test_the_next_snapshot_is_the_nearest_configured_local_time() -> None:
    at, which = next_snapshot(datetime(2026, 4, 8, 6, 0, tzinfo=UTC), SNAPSHOTS)
    assert (at, which.tz) == (datetime(2026, 4, 8, 7, 15, tzinfo=UTC), "Asia/Shanghai")
    at, which = next_snapshot(datetime(2026, 4, 8, 7, 15, tzinfo=UTC), SNAPSHOTS)
    assert (at, which.tz) == (datetime(2026, 4, 8, 20, 30, tzinfo=UTC), "America/New_York")
    at, _ = next_snapshot(datetime(2026, 4, 8, 21, 0, tzinfo=UTC), SNAPSHOTS)
    assert at == datetime(2026, 4, 9, 7, 15, tzinfo=UTC)  # tomorrow, after the A-share close


def test_a_bad_snapshot_time_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        Snapshot(at="15:15", tz="Mars/Olympus")
    with pytest.raises(ConfigError, match=r"report\.snapshots"):
        load_config(env={"CROSSCURRENT_REPORT_SNAPSHOTS": '[{"at": "25:00"}]'})
