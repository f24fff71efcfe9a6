"""Terminal helpers shared by the commands: a stderr console and a spinner."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while the block runs (nothing when stderr is not a terminal)."""
    console = stderr_console()
    if not console.is_terminal:
        yield
        return
    with console.status(message, spinner="dots"):
        yield
