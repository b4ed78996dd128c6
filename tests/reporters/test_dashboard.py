"""The dashboard's renders of a fixed state (the demo day) at several terminal sizes, compared
with stored snapshots a reviewer can read (`UPDATE_SNAPSHOTS=1` rewrites them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

from crosscurrent.config import load_config
from crosscurrent.events import Alert, AlertState, FeedState, FeedStatus, Metric, Severity, Tick
from crosscurrent.notify_config import Lang
from reporters.board import Board
from reporters.dashboard import render
from streams.replay import direct_event
from streams.tape import read_tape
from tests.conftest import SEED_TAPE
from tests.detectors.scenario import run_tape

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture(scope="module")
def board() -> Board:
    board = Board(load_config(env={}).detectors.chain.nodes)
    for event in read_tape(SEED_TAPE).events:
        board.take(direct_event(event))
    for alert in run_tape(SEED_TAPE)[0]:
        board.take(alert)
    for ts, messages in ((0, 0), (10_000, 15_640)):
        board.take(FeedStatus(source="binance", ts=ts, state=FeedState.CONNECTED,
                              messages=messages))
    board.take(FeedStatus(source="eastmoney", ts=10_000, state=FeedState.CLOSED, reconnects=2))
    return board


def screen(board: Board, width: int, height: int, lang: Lang) -> str:
    console = Console(width=width, height=height, record=True, color_system=None,
                      file=open(os.devnull, "w"), legacy_windows=False)  # noqa: SIM115
    console.print(render(board, width, height, lang))
    return console.export_text()


@pytest.mark.parametrize(("width", "height", "lang"), [
    (80, 24, "both"), (120, 30, "en"), (160, 48, "both"), (200, 50, "zh")])
def test_renders_match_the_snapshots(board: Board, width: int, height: int, lang: Lang) -> None:
    text = screen(board, width, height, lang)
    path = SNAPSHOTS / f"dashboard-{width}x{height}-{lang}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert text == path.read_text(), f"{path.name} changed (UPDATE_SNAPSHOTS=1 to accept)"
    assert len(text.splitlines()) <= height  # never taller than the terminal


def test_the_full_screen_shows_every_region_the_chain_and_divergences(board: Board) -> None:
    text = screen(board, 160, 48, "both")
    for needle in ("HSTECH 恒生科技", "BTC 比特币", "broken at HK", "Crypto vs HK tech",
                   "US", "A-shares", "DeFi & stablecoins", "feeds", "1,564/s",
                   "macro  calm 平静", "10Y 4.33% +2 bp", "CNH 7.2480 -0.08%"):
        assert needle in text, needle
    small = screen(board, 80, 24, "both")
    assert "left out: enlarge the terminal" in small and "transmission chain" in small


def test_the_board_ignores_late_and_unusable_events() -> None:
    board = Board()
    board.take(Tick(id="crypto:BTC", ts=10, price=100.0, prev_close=90.0))
    board.take(Tick(id="crypto:BTC", ts=5, price=1.0))
    board.take(Tick(id="crypto:BTC", ts=11, price=float("nan")))
    line = board.lines["crypto:BTC"]
    assert line.last == 100.0 and round(line.change or 0, 2) == 11.11


def test_a_metrics_change_on_the_board_is_over_the_trailing_24_h() -> None:
    """As the alerts and the report compute it: against the value in force 24 h before, not
    against the first value the board happened to see."""
    board = Board()
    hour = 3_600_000
    for n, value in enumerate((100.0, 110.0, 120.0, 130.0)):
        board.take(Metric(id="stable:USDT", ts=n * 12 * hour, value=value))
    line = board.lines["stable:USDT"]
    assert line.trend is not None and line.trend.window.startswith("24 h to ")
    assert round(line.change or 0, 2) == round((130 / 110 - 1) * 100, 2)  # not 130 / 100


def test_a_divergences_gap_on_the_board_is_its_gap_now() -> None:
    """As the report's divergence table: from the board's changes, not the alert's figure
    of the moment it fired."""
    board = Board()
    board.take(Alert(ts=1, detector="divergence", key="divergence:crypto:BTC/hk:HSTECH",
                     state=AlertState.FIRING, severity=Severity.CRITICAL,
                     ids=("crypto:BTC", "hk:HSTECH"), title="t", values={"gap": 5.02}))
    (alert,) = board.divergences()
    assert board.gap(alert) == 5.02  # no changes yet: the alert's
    board.take(Tick(id="crypto:BTC", ts=2, price=104.35, prev_close=100.0))
    board.take(Tick(id="hk:HSTECH", ts=2, price=98.37, prev_close=100.0))
    assert round(board.gap(alert), 2) == 5.98


def test_the_users_own_symbols_are_on_the_board_in_their_markets_groups(tmp_path: Path
                                                                       ) -> None:
    config = tmp_path / "own.yaml"
    config.write_text("watchlist: [crypto:BTC, SOL/USDT, {symbol: NVDA, name: NVIDIA}, "
                      "^N225]\n")
    load_config(config, env={})
    board = Board()
    for ident, price, prev in (("crypto:SOL", 151.2, 140.0), ("us:NVDA", 181.5, 178.0),
                               ("jp:N225", 39_000.0, 38_500.0)):
        board.take(Tick(id=ident, ts=1, price=price, prev_close=prev))
    text = screen(board, 160, 48, "en")
    for needle in ("SOL/USDT", "+8.00%", "NVIDIA", "+1.97%", "Japan, UK, Europe", "^N225"):
        assert needle in text, needle
