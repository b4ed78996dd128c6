"""Lines and tables for the console: rich ones on a terminal; piped (or `--plain`), plain
aligned text in full lines, never cut or wrapped, with no colour codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

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


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
