"""Progress reporting for long model operations (fetching, extracting, hashing).

The catalogue reports through the small :class:`Progress` protocol so that it never imports a
terminal library itself. :class:`NullProgress` reports nothing; the rich implementation lives in
:mod:`hearth.catalog.progress_rich` and is imported only by the CLI or, through
:func:`default_progress`, when stderr is a terminal.
"""

from __future__ import annotations

import sys
from typing import Protocol, runtime_checkable


@runtime_checkable
class Progress(Protocol):
    """One phase at a time: ``start`` it, ``advance`` it by bytes done, ``finish`` it."""

    def start(self, description: str, total: int | None) -> None:
        """Begin a phase; ``total`` is its size in bytes, or None when unknown (a spinner)."""

    def advance(self, n: int) -> None:
        """Record ``n`` more bytes done in the current phase."""

    def finish(self) -> None:
        """End the current phase."""


class NullProgress:
    """A :class:`Progress` that reports nothing."""

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass


def default_progress() -> Progress:
    """A rich progress bar on stderr when stderr is a terminal, else :class:`NullProgress`."""
    if sys.stderr.isatty():
        from hearth.catalog.progress_rich import RichProgress

        return RichProgress()
    return NullProgress()
