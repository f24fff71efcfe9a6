"""Turns for templates that demand strict user / assistant alternation.

Gemma's and Mistral's templates refuse a conversation whose roles do not alternate. An agent
produces such conversations in ordinary use: a turn that stopped at ``max_rounds`` or was
cancelled while tools ran ends on tool results, and the next user message follows them; a turn
cancelled before the model wrote anything leaves two user messages in a row. Those conversations
must still render, so before such a template sees them:

* consecutive user messages are merged into one (their texts joined by a blank line);
* a user message right after tool results gets an empty assistant message before it (Mistral's
  templates skip tool calls and results when they check alternation, so the user message would
  otherwise follow the previous user message).

Hearth's own :class:`~hearth.backends.local.templates.GemmaTemplate` merges consecutive turns of
the same side itself (tool results are user turns in Gemma's format).
"""

from __future__ import annotations

from typing import Any

ALTERNATION_MARKERS = ("roles must alternate",)
"""Words in a template's source that show it refuses conversations that do not alternate."""

TURN_SEPARATOR = "\n\n"
"""What joins two merged turns' texts."""


def demands_alternation(source: str) -> bool:
    """Whether a Jinja template refuses non-alternating roles (it says so in its error text)."""
    lowered = source.lower()
    return any(marker in lowered for marker in ALTERNATION_MARKERS)


def alternate(hf: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``hf`` (Hugging Face message dicts) with consecutive user messages merged and an empty
    assistant message between tool results and a user message that follows them."""
    out: list[dict[str, Any]] = []
    for message in hf:
        previous = out[-1] if out else None
        if message["role"] == "user" and previous is not None:
            if previous["role"] == "user" and _plain(previous) and _plain(message):
                out[-1] = {**previous, "content": merge_texts(previous["content"],
                                                              message["content"])}  # fmt: skip
                continue
            if previous["role"] == "tool":
                out.append({"role": "assistant", "content": ""})
        out.append(message)
    return out


def merge_texts(first: str, second: str) -> str:
    """Two turns' texts as one turn's text."""
    if not first:
        return second
    if not second:
        return first
    return f"{first}{TURN_SEPARATOR}{second}"


def _plain(message: dict[str, Any]) -> bool:
    return isinstance(message.get("content"), str)
