"""Text shown where control characters could do harm: a terminal, a log line."""

from __future__ import annotations


def escape_controls(text: str, *, keep: str = "") -> str:
    """``text`` with every non-printable character (CR, LF, ESC of ANSI sequences, …) shown as its
    Python escape, except those in ``keep`` (e.g. ``"\\n\\t"`` for a multi-line transcript)."""
    return "".join(
        ch if ch.isprintable() or ch in keep else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )
