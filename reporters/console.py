"""The plain console front end of `demo`, `replay` and `run`: alerts as lines, tape progress."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from crosscurrent.events import Alert
from reporters.alert_log import alert_line


class ConsoleView:
    """Prints each alert as it fires; shows a progress bar on a terminal, else plain lines."""

    def __init__(self, console: Console | None = None, title: str = "replay") -> None:
        self.console = console or Console()
        self.alerts = 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._title = title
        self._last_decile = -1

    def __enter__(self) -> ConsoleView:
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("tape {task.fields[clock]}"), TimeElapsedColumn(),
                console=self.console, transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._title, total=None, clock="--")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def alert(self, alert: Alert) -> None:
        self.alerts += 1
        self.console.print(alert_line(alert), soft_wrap=True)

    def progress(self, tape_ts: int, done: int, total: int) -> None:
        clock = datetime.fromtimestamp(tape_ts / 1000, tz=UTC).strftime("%m-%d %H:%M:%SZ")
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, total=total, clock=clock)
            return
        decile = done * 10 // total
        if decile != self._last_decile:
            self._last_decile = decile
            self.console.print(f"{self._title}: {done}/{total} events, tape at {clock}",
                               highlight=False)
