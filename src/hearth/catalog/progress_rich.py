"""A :class:`hearth.catalog.progress.Progress` drawn with rich on stderr.

Imported only by the CLI (or when stderr is a terminal) so that ``import hearth`` stays light.
Each phase is one line: a spinner while its size is unknown, else a bar with bytes and speed.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as _RichProgress


class RichProgress:
    """Shows each phase as its own progress line on ``console`` (stderr by default)."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console if console is not None else Console(stderr=True)
        self._bar: _RichProgress | None = None
        self._task: TaskID | None = None

    def start(self, description: str, total: int | None) -> None:
        self.finish()
        columns = (
            [SpinnerColumn(), TextColumn("{task.description}")]
            if total is None
            else [
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            ]
        )
        self._bar = _RichProgress(*columns, console=self._console, transient=False)
        self._task = self._bar.add_task(description, total=total)
        self._bar.start()

    def advance(self, n: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, n)

    def finish(self) -> None:
        if self._bar is None:
            return
        self._bar.stop()
        self._bar = None
        self._task = None
