"""Context management: make the history fit the model's window before a call, never silently.

Strategy, in order, stopping as soon as the request fits:

1. replace the oldest tool outputs with a short note saying they were removed (the call and
   a result stay, so no call is left unanswered);
2. summarise the turns before the latest user message with the model, and replace them with
   the summary.

The system prompt and the latest user message are never touched. Each step taken is reported
as a :class:`~hearth.agent.steps.CompactedStep`. If the request still does not fit,
:class:`~hearth.errors.ContextLengthExceededError` is raised.

A backend that can count tokens (``count_tokens`` / ``context_window``) is checked before the
call; for one that cannot, the same steps run when the provider answers
ContextLengthExceededError, and the call is retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from hearth.errors import ContextLengthExceededError
from hearth.events import Usage
from hearth.history import transcript
from hearth.messages import Message, ToolResultPart
from hearth.request import ChatRequest

from .output import is_retry_message

DROPPED_NOTE = "[tool output removed by hearth to save context: {n} characters]"
SUMMARY_HEADER = "[Summary of the earlier conversation, written to save context]\n"
SUMMARY_ACK = "Understood. I will continue from this summary."
SUMMARY_PROMPT = (
    "Summarise the conversation below so that you can continue it later without it: keep the "
    "user's goals, facts learned, decisions, important tool results and open questions. Be "
    "concise; write plain text.\n\n"
)


@dataclass(frozen=True, slots=True)
class Note:
    strategy: Literal["drop_tool_outputs", "summarize"]
    detail: str
    tokens_before: int | None
    tokens_after: int | None


Counter = Callable[[Sequence[Message]], int | None]


def latest_user_index(messages: Sequence[Message]) -> int:
    """The index of the latest user message that is the user's own input (not tool results,
    nor the agent's note that an answer did not match ``output_type``)."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.role == "user" and not m.tool_results and not is_retry_message(m):
            return i
    return len(messages)


def drop_tool_outputs(
    messages: list[Message], count: Counter, limit: int | None
) -> tuple[list[Message], Note | None]:
    """Oldest first, replace tool outputs with a note until ``count`` fits ``limit`` (with no
    limit known: all but the most recent round's outputs, or all of them if that is all)."""
    before = count(messages)
    slots = [
        (i, j)
        for i, m in enumerate(messages)
        for j, p in enumerate(m.parts)
        if isinstance(p, ToolResultPart) and not _is_dropped(p)
    ]
    if limit is None:
        last = max((i for i, _ in slots), default=-1)
        keep = [s for s in slots if s[0] != last]
        slots = keep or slots
    out = list(messages)
    dropped, chars = 0, 0
    tokens = before
    for i, j in slots:
        if limit is not None and tokens is not None and tokens <= limit:
            break
        part = out[i].parts[j]
        assert isinstance(part, ToolResultPart)
        chars += len(part.content)
        new_part = replace(part, content=DROPPED_NOTE.format(n=len(part.content)))
        parts = list(out[i].parts)
        parts[j] = new_part
        out[i] = Message(out[i].role, tuple(parts))
        dropped += 1
        if limit is not None:
            tokens = count(out)
    if not dropped:
        return messages, None
    after = count(out)
    detail = f"removed the output of {dropped} tool call(s), oldest first ({chars} characters)"
    return out, Note("drop_tool_outputs", detail, before, after)


def _is_dropped(part: ToolResultPart) -> bool:
    return part.content.startswith("[tool output removed by hearth")


@dataclass(frozen=True, slots=True)
class SummaryCall:
    text: str
    usage: Usage


def summary_request(older: Sequence[Message], char_budget: int | None) -> tuple[ChatRequest, int]:
    """The request that asks the model to summarise ``older``; returns it and how many
    characters of the transcript were left out to fit (the oldest go first)."""
    text = transcript(older, max_chars=4000)
    left_out = 0
    if char_budget is not None and len(text) > char_budget:
        left_out = len(text) - char_budget
        text = f"[… {left_out} earlier characters not shown]\n" + text[-char_budget:]
    return ChatRequest((Message.user(SUMMARY_PROMPT + text),)), left_out


def replace_with_summary(messages: Sequence[Message], summary: str) -> tuple[list[Message], int]:
    """Messages with everything between the system prompt and the latest user message replaced
    by the summary; returns them and how many messages were replaced."""
    start = 1 if messages and messages[0].role == "system" else 0
    end = latest_user_index(messages)
    head, older, rest = list(messages[:start]), messages[start:end], list(messages[end:])
    pair = [Message.user(SUMMARY_HEADER + summary.strip()), Message.assistant(SUMMARY_ACK)]
    return head + pair + rest, len(older)


def older_turns(messages: Sequence[Message]) -> Sequence[Message]:
    start = 1 if messages and messages[0].role == "system" else 0
    end = latest_user_index(messages)
    older = messages[start:end]
    # a previous summary alone is not worth summarising again
    if len(older) == 2 and older[0].text.startswith(SUMMARY_HEADER):
        return ()
    return older


def still_too_long(before: int | None, limit: int | None) -> ContextLengthExceededError:
    return ContextLengthExceededError(
        before,
        limit,
        detail="Hearth removed old tool outputs and summarised earlier turns, and the system "
        "prompt with the latest message still do not fit.",
    )


async def fit(
    messages: list[Message],
    count: Counter,
    window: int | None,
    reserve: int,
    summarize: Callable[[ChatRequest], Awaitable[SummaryCall]],
    *,
    force: bool = False,
) -> tuple[list[Message], list[Note], Usage]:
    """The history made to fit ``window - reserve`` tokens, the notes saying what was done,
    and what the summary call cost. ``force``: the provider said it does not fit (counts may be
    unknown) — take the next step even if counting says it fits."""
    before = count(messages)
    limit = None if window is None else max(window - reserve, 1)
    if not force and (before is None or limit is None or before <= limit):
        return messages, [], Usage()
    counted_limit = limit if before is not None else None
    notes: list[Note] = []
    out, note = drop_tool_outputs(messages, count, counted_limit)
    if note is not None:
        notes.append(note)
    tokens = count(out)
    if tokens is not None and limit is not None and tokens <= limit:
        return out, notes, Usage()
    if force and note is not None and tokens is None:
        return out, notes, Usage()  # cannot count: retry after this step before summarising
    older = older_turns(out)
    if not older:
        raise still_too_long(tokens, limit)
    budget = None if limit is None else limit * 3
    request, left_out = summary_request(older, budget)
    call = await summarize(request)
    new, replaced = replace_with_summary(out, call.text)
    after = count(new)
    detail = f"summarised {replaced} earlier message(s) into {len(call.text)} characters"
    if left_out:
        detail += f" (the oldest {left_out} characters of them did not fit the summary request)"
    notes.append(Note("summarize", detail, tokens, after))
    if after is not None and limit is not None and after > limit:
        raise still_too_long(after, limit)
    return new, notes, call.usage
