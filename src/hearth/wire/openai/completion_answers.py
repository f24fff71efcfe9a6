"""``/v1/completions`` answers: the legacy ``text_completion`` object and its stream, with
``logprobs`` (OpenAI's legacy shape) and ``echo`` (the prompt first, its tokens' logprobs first,
the first of them null). ``echo`` with ``max_tokens: 0`` (:func:`echo_only`) returns the prompt
alone: what an evaluation harness sends to score a text's log-likelihood.

Streamed with ``echo``, the prompt's text comes in the first chunk; when its log-probabilities
were asked for too, they are known only once the prompt has been read, so the chunks are held
back and sent, in order, when the answer ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hearth.errors import HearthError
from hearth.events import Done, StreamEvent, TextDelta
from hearth.logprobs import TokenLogprob
from hearth.messages import JsonObject, JsonValue
from hearth.request import ChatRequest
from hearth.response import Response
from hearth.wire.base import WireChunk
from hearth.wire.openai.errors import error_to_wire
from hearth.wire.openai.inbound import echo_only
from hearth.wire.openai.logprobs import completion_logprobs_to_wire
from hearth.wire.openai.shapes import STOP_TO_FINISH, stop_string, usage_to_wire


@dataclass(frozen=True, slots=True)
class CompletionShape:
    """What a completions body asks the answer to hold besides the text: ``echo`` (the prompt
    text, or None), whether the generated text is dropped (:func:`echo_only`), whether
    ``logprobs`` (with alternatives) were asked for, and how many answers (``n``)."""

    echo: str | None = None
    echo_only: bool = False
    logprobs: bool = False
    alternatives: bool = False
    choices: int = 1


def completion_shape(body: JsonObject, request: ChatRequest) -> CompletionShape:
    """What the completions ``body`` (decoded as ``request``) asks its answer to hold."""
    settings = request.settings
    return CompletionShape(
        echo=request.prompt if body.get("echo") is True else None,
        echo_only=echo_only(body),
        logprobs=settings.wants_logprobs,
        alternatives=bool(settings.top_logprobs),
        choices=settings.n or 1,
    )


def choice(
    shape: CompletionShape,
    text: str,
    end: Done | Response | None,
    logprobs: tuple[TokenLogprob, ...] = (),
    *,
    offset: int = 0,
    index: int = 0,
) -> JsonObject:
    """One ``choices[]`` item. At the end, ``stop_reason`` is vLLM's field: the stop string that
    ended the text, else null (so a client reads ``stop_sequence`` as from a local model)."""
    item: JsonObject = {"index": index, "text": text, "logprobs": None, "finish_reason": None}
    if shape.logprobs:
        item["logprobs"] = completion_logprobs_to_wire(
            logprobs, offset=offset, alternatives=shape.alternatives
        )
    if end is not None:
        item["finish_reason"] = STOP_TO_FINISH[end.stop_reason]
        item["stop_reason"] = stop_string(end.stop_reason, end.stop_sequence)
    return item


def response_body(shape: CompletionShape, answer: Response, *, model: str, rid: str) -> JsonObject:
    """The whole ``text_completion`` object: one choice per answer (``n``)."""
    choices: list[JsonValue] = []
    for index, own in enumerate(answer.choices or (answer,)):
        text = "" if shape.echo_only else own.text
        tokens = () if shape.echo_only else own.logprobs
        if shape.echo is not None:
            text = shape.echo + text
            tokens = (*(answer.prompt_logprobs or ()), *tokens)
        choices.append(choice(shape, text, own, tokens, index=index))
    return {
        "id": rid, "object": "text_completion", "created": int(time.time()), "model": model,
        "choices": choices, "usage": usage_to_wire(answer.usage),
    }  # fmt: skip


class CompletionEncoder:
    """Events → legacy ``text_completion`` chunks (one ``index`` per answer), then usage and
    ``[DONE]``."""

    def __init__(
        self, shape: CompletionShape, *, model: str, response_id: str, include_usage: bool
    ) -> None:
        self._shape = shape
        self._base: JsonObject = {
            "id": response_id, "object": "text_completion", "created": int(time.time()),
            "model": model,
        }  # fmt: skip
        self._include_usage = include_usage
        self._offsets = [len(shape.echo or "")] * shape.choices  # where each next text starts
        self._held: list[WireChunk] | None = (
            [] if shape.echo is not None and shape.logprobs else None
        )

    def _chunk(
        self,
        text: str,
        done: Done | None = None,
        logprobs: tuple[TokenLogprob, ...] = (),
        index: int = 0,
    ) -> WireChunk:
        item = choice(self._shape, text, done, logprobs, offset=self._offsets[index], index=index)
        self._offsets[index] += len(text)
        return WireChunk(None, {**self._base, "choices": [item]})

    def start(self) -> list[WireChunk]:
        echo = self._shape.echo
        if not echo or self._held is not None:
            return []
        return [self._echo(i) for i in range(self._shape.choices)]

    def _echo(self, index: int, logprobs: tuple[TokenLogprob, ...] = ()) -> WireChunk:
        item = choice(self._shape, self._shape.echo or "", None, logprobs, index=index)
        return WireChunk(None, {**self._base, "choices": [item]})

    def encode(self, event: StreamEvent) -> list[WireChunk]:
        out: list[WireChunk] = []
        if isinstance(event, TextDelta) and not self._shape.echo_only:
            if event.text or (self._shape.logprobs and event.logprobs):
                out.append(self._chunk(event.text, logprobs=event.logprobs, index=event.choice))
        elif isinstance(event, Done):
            out = self._end(event)
        if self._held is not None and not isinstance(event, Done):
            self._held.extend(out)
            return []
        return out

    def _end(self, event: Done) -> list[WireChunk]:
        out: list[WireChunk] = []
        if self._held is not None:  # the prompt's chunks go first, now that they are known
            prompt = event.prompt_logprobs or ()
            out = [*(self._echo(i, prompt) for i in range(self._shape.choices)), *self._held]
        for index, end in enumerate(event.choices or (event,)):
            out.append(self._chunk("", end, index=index))
        if self._include_usage:
            usage: JsonValue = usage_to_wire(event.usage)
            out.append(WireChunk(None, {**self._base, "choices": [], "usage": usage}))
        return [*out, WireChunk(None, None)]

    def error(self, exc: HearthError) -> list[WireChunk]:
        return [WireChunk(None, error_to_wire(exc)[1])]
