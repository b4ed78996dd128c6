"""Lines and tables for the console: rich ones on a terminal; piped (or `--plain`), plain
aligned text in full lines, never cut or wrapped, with no colour codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text, TextType

SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "critical": "bold red"}


class Screen:
    """Lines and tables: rich ones on a terminal, plain aligned text otherwise."""

    def __init__(self, console: Console, plain: bool) -> None:
        self.console = console
        self.plain = plain

    def line(self, text: str, style: str = "") -> None:
        if self.plain:
            sys.stdout.write(text + "\n")
            return
        markup = f"[{style}]{escape(text)}[/]" if style else escape(text)
        self.console.print(markup, highlight=False, soft_wrap=True)

    def show(self, renderable: RenderableType) -> None:
        """A rich renderable as it is on a terminal; plain, its tables as aligned columns
        and every line whole."""
        if not self.plain:
            self.console.print(renderable)
            return
        for line in plain_lines(renderable):
            sys.stdout.write(line + "\n")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
              total: bool = False) -> None:
        """`rows` under `columns`; `total`: the last row is a total (bold)."""
        if self.plain:
            sys.stdout.write(title + "\n")
            for text in aligned(columns, rows):
                sys.stdout.write("  " + text + "\n")
            return
        table = Table(title=title, title_justify="left", title_style="bold")
        numeric = [all(_numeric(row[i]) for row in rows) for i in range(len(columns))]
        for name, num in zip(columns, numeric, strict=True):
            table.add_column(name, justify="right" if num else "left",
                             header_style=SEVERITY_STYLE.get(name, "bold"), overflow="fold")
        for number, row in enumerate(rows):
            cells = [Text(cell, style=SEVERITY_STYLE.get(cell, "")) for cell in row]
            last = total and number == len(rows) - 1
            table.add_row(*cells, style="bold" if last else None, end_section=number ==
                          len(rows) - 2 and total)
        self.console.print(table)


def aligned(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The header and rows as lines of columns two spaces apart (numbers to the right)."""
    cells = [list(columns), *[list(r) for r in rows]]
    widths = [max(cell_len(row[i]) for row in cells) for i in range(len(columns))]
    numeric = [all(_numeric(row[i]) for row in cells[1:]) for i in range(len(columns))]
    lines = []
    for row in cells:
        parts = [" " * (w - cell_len(cell)) + cell if num else cell + " " * (w - cell_len(cell))
                 for cell, w, num in zip(row, widths, numeric, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return lines


def plain_lines(renderable: RenderableType) -> list[str]:
    """Text, tables and groups of them as plain lines (a table: its title, then aligned
    columns; a cell of several lines on one)."""
    if isinstance(renderable, Group):
        return [line for part in renderable.renderables for line in plain_lines(part)]
    if isinstance(renderable, Table):
        columns = [_plain(c.header) for c in renderable.columns]
        rows = list(zip(*([_plain(cell) for cell in c.cells] for c in renderable.columns),
                        strict=True))
        title = [_plain(renderable.title)] if renderable.title else []
        return title + ["  " + line for line in aligned(columns, rows)]
    if isinstance(renderable, str | Text):
        return _plain(renderable).splitlines()
    raise TypeError(f"no plain form for {type(renderable).__name__}")


def _plain(cell: RenderableType | TextType) -> str:
    """A cell's text without markup, its lines joined by spaces."""
    text = cell.plain if isinstance(cell, Text) else Text.from_markup(cell).plain \
        if isinstance(cell, str) else str(cell)
    return " ".join(text.split("\n"))


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Bar:
    """A progress bar on stderr for work that takes a while: drawn from its first update,
    only on a terminal (piped, nothing), gone when done or closed. `bar(done, text)` moves
    it."""

    def __init__(self, label: str, total: float, percent: bool = False) -> None:
        self.label = label
        self.total = total
        self.percent = percent  # 45%, else 3/8
        self.console = Console(stderr=True)
        self._progress: Progress | None = None

    def __call__(self, done: float, text: str = "") -> None:
        if self._progress is None:
            if not self.console.is_terminal:
                return
            amount: ProgressColumn = TaskProgressColumn() if self.percent \
                else MofNCompleteColumn()
            self._progress = Progress(
                TextColumn(f"[bold]{escape(self.label)}"), BarColumn(), amount,
                TimeElapsedColumn(), TextColumn("{task.description}"), console=self.console,
                transient=True)
            self._progress.add_task("", total=self.total)
            self._progress.start()
        self._progress.update(self._progress.task_ids[0], completed=done, description=text)
        if done >= self.total:
            self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
