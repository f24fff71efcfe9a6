"""OpenAI Batch input and output lines, read and written without I/O.

An input line is ``{"custom_id": …, "method": "POST", "url": …, "body": {…}}`` with ``url`` one
of ``/v1/chat/completions``, ``/v1/completions`` or ``/v1/embeddings``. The body is decoded by
the same codecs ``hearth serve`` uses for those routes (:mod:`hearth.wire.openai`), so a body
the server would refuse gets the same message here.

An output line is ``{"id", "custom_id", "response": {"status_code", "request_id", "body"},
"error"}``: a request that was answered, or refused as the server would refuse it (4xx, 5xx,
with the OpenAI error body), has a ``response`` and ``"error": null``; a line whose envelope is
wrong (bad ``method`` or ``url``, no ``body``) has ``"response": null`` and an ``error`` with a
``code`` and ``message``, as OpenAI's error file does.

Problems that would make a run impossible to resume are refused before anything runs
(:func:`read_input`): a line that is not a JSON object, one without a ``custom_id`` string, and
a ``custom_id`` used twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from hearth.embeddings import Embeddings
from hearth.errors import HearthError, InvalidRequestError
from hearth.messages import JsonObject
from hearth.request import ChatRequest, EmbedRequest
from hearth.response import Response

if TYPE_CHECKING:
    from hearth.wire.openai.completion_answers import CompletionShape

Kind: TypeAlias = Literal["chat", "completion", "embedding"]
URLS: dict[str, Kind] = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completion",
    "/v1/embeddings": "embedding",
}
MAX_REPORTED = 10
"""How many bad lines an up-front refusal lists."""


@dataclass(frozen=True, slots=True)
class InputLine:
    """One line of the input file whose envelope could be read: its number and custom_id."""

    number: int
    custom_id: str
    data: JsonObject


@dataclass(frozen=True, slots=True)
class Job:
    """A line decoded: which model answers it, and the request it makes."""

    custom_id: str
    kind: Kind
    model: str
    request: ChatRequest | EmbedRequest
    encoding_format: Literal["float", "base64"] = "float"
    shape: CompletionShape | None = None
    """What a ``/v1/completions`` body asks its answer to hold (``echo``, ``logprobs``, ``n``)."""


class LineError(Exception):
    """A line's envelope is wrong: it gets an output line with ``error`` (code, message)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def read_input(text: Iterable[str], *, name: str) -> list[InputLine]:
    """Every non-blank line of the input file ``name``; raises :class:`InvalidRequestError`
    listing the lines that have no usable ``custom_id`` (or repeat one) before anything runs."""
    lines: list[InputLine] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"{name}:{number}: not JSON ({exc.msg})")
            continue
        custom_id = data.get("custom_id") if isinstance(data, dict) else None
        if not isinstance(custom_id, str) or not custom_id:
            problems.append(f"{name}:{number}: no custom_id (a non-empty string)")
            continue
        if custom_id in seen:
            problems.append(
                f"{name}:{number}: custom_id {custom_id!r} is already used on line "
                f"{seen[custom_id]}"
            )
            continue
        seen[custom_id] = number
        lines.append(InputLine(number, custom_id, data))
    if problems:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        raise InvalidRequestError(
            f"{name} has {len(problems)} line(s) that cannot be run; every line must be a JSON "
            "object with a unique custom_id: "
            + "; ".join(shown)
            + (f"; and {more} more" if more else "")
        )
    if not lines:
        raise InvalidRequestError(f"{name} holds no requests (one JSON object per line)")
    return lines


def decode(line: InputLine, *, model: str | None, default_model: str) -> Job:
    """The job of ``line``. ``model`` (``--model``) replaces the body's; a body naming none
    gets ``default_model``. Raises :class:`LineError` for a wrong envelope and the codecs'
    :class:`InvalidRequestError` for a body the server would refuse."""
    data = line.data
    method = data.get("method", "POST")
    if method != "POST":
        raise LineError("invalid_method", f"method: only POST is supported, got {method!r}")
    url = data.get("url")
    kind = URLS.get(url) if isinstance(url, str) else None
    if kind is None:
        raise LineError("invalid_url", f"url: one of {', '.join(URLS)}, got {json.dumps(url)[:80]}")
    body = data.get("body")
    if not isinstance(body, dict):
        raise LineError("invalid_body", "body: required, a JSON object (the request's body)")
    chosen = model or (body.get("model") if isinstance(body.get("model"), str) else None)
    body = {**body, "model": chosen or default_model}
    if body.get("stream") is True:
        raise InvalidRequestError("stream: a batch request is answered whole; leave stream out")
    return _decode_body(line.custom_id, kind, body)


def _decode_body(custom_id: str, kind: Kind, body: JsonObject) -> Job:
    from hearth.wire.openai import inbound
    from hearth.wire.openai.embed import embed_request_from_wire

    if kind == "embedding":
        parsed = embed_request_from_wire(body)
        return Job(custom_id, kind, parsed.model, parsed.request, parsed.encoding_format)
    if kind == "completion":
        from hearth.wire.openai.completion_answers import completion_shape

        wire = inbound.completion_request_from_wire(body)
        shape = completion_shape(body, wire.request)
        return Job(custom_id, kind, wire.model, wire.request, shape=shape)
    wire = inbound.request_from_wire(body)
    return Job(custom_id, kind, wire.model, wire.request)


def _ids() -> tuple[str, str]:
    return f"batch_req_{uuid.uuid4().hex}", f"req_{uuid.uuid4().hex}"


def result_line(custom_id: str, status: int, body: JsonObject) -> JsonObject:
    """The output line of an answered (or refused) request."""
    line_id, request_id = _ids()
    response: JsonObject = {"status_code": status, "request_id": request_id, "body": body}
    return {"id": line_id, "custom_id": custom_id, "response": response, "error": None}


def error_line(custom_id: str, code: str, message: str) -> JsonObject:
    """The output line of a line whose envelope is wrong."""
    line_id, _ = _ids()
    error: JsonObject = {"code": code, "message": message}
    return {"id": line_id, "custom_id": custom_id, "response": None, "error": error}


def failure_line(custom_id: str, exc: HearthError) -> JsonObject:
    """The output line of a request that failed: the status and body the server would send."""
    from hearth.wire.openai.errors import error_to_wire

    status, body = error_to_wire(exc)
    return result_line(custom_id, status, body)


def answer_body(job: Job, answer: Response | Embeddings) -> JsonObject:
    """The response body the server would send for ``answer``."""
    from hearth.wire.openai import FORMAT
    from hearth.wire.openai.embed import embed_response_to_wire

    if isinstance(answer, Embeddings):
        return embed_response_to_wire(answer, model=job.model, encoding_format=job.encoding_format)
    if job.kind == "completion":
        from hearth.wire.openai.completion_answers import response_body

        assert job.shape is not None
        return response_body(
            job.shape, answer, model=job.model, rid=f"cmpl-{uuid.uuid4().hex[:24]}"
        )
    assert FORMAT.serve is not None
    return FORMAT.serve.response_to_wire(answer, model=job.model, response_id=_chat_id())


def _chat_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def dumps(line: JsonObject) -> str:
    """One output line, newline included."""
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"


def output_tokens(answer: Response | Embeddings) -> int:
    """The tokens an answer produced (embedding: the tokens it read), for the progress line."""
    if isinstance(answer, Embeddings):
        return answer.usage.input_tokens
    return answer.usage.output_tokens


__all__ = [
    "URLS",
    "InputLine",
    "Job",
    "LineError",
    "answer_body",
    "decode",
    "dumps",
    "error_line",
    "failure_line",
    "read_input",
    "result_line",
]
