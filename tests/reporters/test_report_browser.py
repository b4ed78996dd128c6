"""The seed day's HTML report as a reader meets it: opened in a real headless Chromium
(Debian's, driven by Playwright) at a desktop's and a phone's width, every section there,
every chart drawn with its axes labelled, nothing wider than the screen, and a full-page
screenshot whose chart areas hold the charts' colours.

Without Chromium (or Playwright) the tests skip, except under CI=true, where they fail: a
browser check that CI skips is a check that cannot fail. `scripts/test` installs both."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import orjson
import pytest
from PIL import Image

from crosscurrent.app import replay
from crosscurrent.config import load_config
from reporters.charts import COLORS, DOWN, UP
from streams.redis_server import EmbeddedRedis
from streams.tape import read_tape
from tests.conftest import SEED_TAPE, QuietView
from tests.reporters.test_report import SECTIONS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
BACKGROUND = (255, 255, 255)


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true the browser test must run (scripts/test "
                    "installs Playwright and Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def report(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, dict[str, Any]]:
    """The seed day replayed through the pipeline (simulators, adapters, Redis, agents) into
    a namespace of this module's own: report.html and report.json. Once a worker: xdist may
    interleave this module's tests with others', each time closing the browser."""
    out = tmp_path_factory.mktemp("report-browser")
    asyncio.run(replay(read_tape(SEED_TAPE), load_config(env={}), redis_server.url,
                       speed=math.inf, out=out, view=QuietView(), namespace="report-browser"))
    return out / "report.html", dict(orjson.loads((out / "report.json").read_bytes()))


@pytest.fixture(scope="module")
def browser(report: tuple[Path, dict[str, Any]]) -> Iterator[Browser]:
    """Debian's chromium. After the report: from its start until its end, Playwright's sync
    API keeps an event loop running in this thread, where the replay's asyncio.run can't."""
    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("no chromium on PATH (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e '.[dev]')")
    # Debian's build, not one of Playwright's own (`playwright install` downloads those)
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, report: tuple[Path, dict[str, Any]],
         browser: Browser) -> Iterator[Page]:
    width, height = VIEWPORTS[request.param]
    opened = browser.new_page(viewport={"width": width, "height": height})
    opened.goto(report[0].as_uri(), wait_until="load")
    yield opened
    opened.close()


def expected_charts(report: dict[str, Any]) -> int:
    """One chart per region with intraday lines, TVL by category, the divergences' changes."""
    return len(report["intraday"]) + bool(report["crypto"]["tvl_categories"]) + bool(
        report["divergences"])


CHARTS = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = r => { const b = r.getBoundingClientRect();
    return {left: b.left, right: b.right, top: b.top + scrollY, bottom: b.bottom + scrollY,
            width: b.width, height: b.height}; };
  const marks = [...svg.querySelectorAll('.mark')].map(m => ({tag: m.tagName,
    points: m.tagName === 'polyline' ? m.points.numberOfItems : 0, ...box(m)}));
  const texts = cls => [...svg.querySelectorAll('text.' + cls)].map(t => t.textContent);
  return {box: box(svg), title: svg.getAttribute('aria-label'), marks,
          xlabel: texts('xlabel').join(' '), ylabel: texts('ylabel').join(' '),
          texts: [...svg.querySelectorAll('text')].map(t => ({text: t.textContent, ...box(t)}))};
})"""

WIDE = """() => [...document.body.querySelectorAll('*')].filter(e => {
  const b = e.getBoundingClientRect();
  return b.width > 0 && (b.left < -0.5 || b.right > innerWidth + 0.5);
}).map(e => `${e.tagName} ${e.getAttribute('class') || ''} ${Math.round(
  e.getBoundingClientRect().left)}..${Math.round(e.getBoundingClientRect().right)}: ${
  (e.textContent || '').slice(0, 50)}`)"""


def test_every_section_is_there_in_the_seeds_order(page: Page) -> None:
    headings = page.eval_on_selector_all(
        "h2", "hs => hs.map(h => [h.textContent, h.getBoundingClientRect().height])")
    found = [next((n for n, (text, _) in enumerate(headings) if text.startswith(section)), -1)
             for section in SECTIONS]
    assert -1 not in found, [s for s, n in zip(SECTIONS, found, strict=True) if n < 0]
    assert found == sorted(found)
    assert all(height > 0 for _, height in headings)  # shown, not only in the markup
    assert page.title().startswith("Market Intelligence Report — 2026-04-08")


def test_every_chart_is_drawn_with_labelled_axes(page: Page,
                                                 report: tuple[Path, dict[str, Any]]) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    charts = page.evaluate(CHARTS)
    assert len(charts) == expected_charts(report[1]) == 6  # the seed: 4 regions, TVL, divergences
    for chart in charts:
        box, name = chart["box"], chart["title"]
        assert box["width"] > 100 and box["height"] > 100, name
        assert box["left"] >= 0 and box["right"] <= width, name
        assert chart["marks"], f"{name}: nothing drawn"
        for mark in chart["marks"]:
            assert mark["width"] > 0 or mark["height"] > 0, (name, mark)
            assert mark["tag"] != "polyline" or mark["points"] >= 2, (name, mark)
        # the value axis: percent, and against what; a line chart's time axis in UTC
        assert "% change" in chart["xlabel"] + chart["ylabel"], name
        assert "涨跌幅(%)" in chart["xlabel"] + chart["ylabel"], name  # the report is bilingual
        if any(m["tag"] == "polyline" for m in chart["marks"]):
            assert chart["xlabel"] == "time (UTC) / 时间(UTC)", name
            assert "since previous close" in chart["ylabel"] or " h to " in chart["ylabel"]
        else:
            assert chart["ylabel"], f"{name}: its bars' names have no axis label"
        for text in chart["texts"]:  # every label inside its chart, none clipped
            assert text["left"] >= box["left"] - 1 and text["right"] <= box["right"] + 1, \
                (name, text)
            assert text["top"] >= box["top"] - 1 and text["bottom"] <= box["bottom"] + 1, \
                (name, text)
            assert text["height"] >= 8, (name, text)  # legible at a phone's width too


def test_nothing_is_wider_than_the_screen(page: Page) -> None:
    scroll, inner = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner
    assert page.evaluate(WIDE) == []


def test_the_screenshot_shows_the_charts(page: Page, tmp_path: Path) -> None:
    """The pixels a reader sees: the page's width and no more, and in each chart's area its
    lines' or bars' colours on more than the background."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    shot = tmp_path / f"report-{width}.png"
    data = page.screenshot(path=shot, full_page=True)
    image = Image.open(BytesIO(data)).convert("RGB")
    assert image.width == width
    assert image.height >= page.evaluate("document.documentElement.scrollHeight") - 1
    charts = page.evaluate(CHARTS)
    assert charts
    for chart in charts:
        box = chart["box"]
        area = image.crop((round(box["left"]), round(box["top"]), round(box["right"]),
                           round(box["bottom"])))
        colours = _colours(area)
        drawn = sum(count for count, colour in colours if colour != BACKGROUND)
        assert drawn > 0.02 * area.width * area.height, f"{chart['title']}: blank"
        lined = any(m["tag"] == "polyline" for m in chart["marks"])
        marks = [_rgb(c) for c in ((COLORS[0],) if lined else (UP, DOWN))]  # first line, bars
        inked = sum(count for count, colour in colours
                    if any(_near(colour, mark) for mark in marks))
        assert inked > 30, f"{chart['title']}: its marks' colours are not in {shot}"
    top = image.crop((0, 0, width, 120))  # the title, in dark text
    assert any(sum(colour) < 200 for _, colour in _colours(top))


def _colours(image: Image.Image) -> list[tuple[int, tuple[int, int, int]]]:
    """An RGB image's colours with their pixel counts."""
    return [(count, (colour[0], colour[1], colour[2]))
            for count, colour in image.getcolors(image.width * image.height) or []
            if isinstance(colour, tuple)]


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour.lstrip("#"), 16)
    return value >> 16, value >> 8 & 0xFF, value & 0xFF


def _near(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) <= 24
