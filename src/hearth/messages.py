"""Messages and their typed parts: the vocabulary every backend and wire format speaks.

A :class:`Message` has a role and an ordered tuple of parts. The parts are designed to carry
everything the OpenAI, Anthropic and Gemini formats can say without loss:

* :class:`TextPart` — text, with the opaque ``signature`` Gemini may stamp on it;
* :class:`ImagePart` — inline image bytes and their media type (the user's, or an image a model
  returned: Gemini's image models answer with them);
* :class:`ThinkingPart` — reasoning text with its opaque signature (Anthropic ``thinking`` /
  ``redacted_thinking``, Gemini ``thought`` parts), kept so the next turn can send it back;
* :class:`ToolCallPart` — a call the model made: id, tool name, arguments as raw JSON text;
* :class:`ToolResultPart` — the answer to a call, matched by ``call_id``.

Parallel tool calls are several :class:`ToolCallPart` in one assistant message, and their results
several :class:`ToolResultPart` in one ``tool`` message.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

from hearth.errors import InvalidRequestError

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool")

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
JsonObject: TypeAlias = dict[str, JsonValue]
Meta: TypeAlias = Mapping[str, JsonValue] | None
"""Opaque provider fields a part must carry back unchanged (e.g. Gemini's ``thought: false``
stamp). Hearth never interprets them; wire translators own their keys, and the agent its own
``hearth_agent_*`` marks (see :mod:`hearth.agent.output`)."""


@dataclass(frozen=True, slots=True)
class TextPart:
    """Plain text."""

    text: str
    signature: str | None = None
    meta: Meta = field(default=None, hash=False)
    kind: Literal["text"] = field(default="text", repr=False)


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An inline image: its raw bytes and media type (``image/png``, ``image/jpeg``, …)."""

    data: bytes
    media_type: str
    meta: Meta = field(default=None, hash=False)
    kind: Literal["image"] = field(default="image", repr=False)

    def __post_init__(self) -> None:
        if not self.media_type.startswith("image/"):
            raise InvalidRequestError(
                f"ImagePart media_type must be an image/* type, got {self.media_type!r}"
            )

    def __repr__(self) -> str:
        return f"ImagePart(media_type={self.media_type!r}, {len(self.data)} bytes)"

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], media_type: str | None = None) -> ImagePart:
        """The image in the file at ``path``; its media type from the file name unless given
        (a model that reads images checks the bytes themselves)."""
        file = Path(path).expanduser()
        import mimetypes  # not at import: it pulls in urllib.parse (a few ms of `import hearth`)

        guessed = media_type or mimetypes.guess_type(file.name)[0]
        if guessed is None or not guessed.startswith("image/"):
            raise InvalidRequestError(
                f"{file}: not an image file name (.png, .jpg, .webp, .gif); give media_type="
            )
        try:
            return cls(file.read_bytes(), guessed)
        except OSError as exc:
            raise InvalidRequestError(f"cannot read {file}: {exc.strerror or exc}") from None

    @classmethod
    def from_data_url(cls, url: str) -> ImagePart:
        """The image of a ``data:image/…;base64,…`` URL."""
        head, comma, payload = url.partition(",")
        media_type = head.removeprefix("data:").removesuffix(";base64")
        if not (head.startswith("data:") and head.endswith(";base64") and comma):
            raise InvalidRequestError(
                "not a base64 data URL; expected data:image/png;base64,… (remote URLs are "
                "not fetched)"
            )
        try:
            data = base64.b64decode(payload, validate=True)
        except ValueError:
            raise InvalidRequestError("the data URL's payload is not valid base64") from None
        return cls(data, media_type)


@dataclass(frozen=True, slots=True)
class ThinkingPart:
    """Reasoning the model showed. ``signature`` is opaque and must be sent back unchanged.

    ``redacted`` marks reasoning a provider encrypted (Anthropic ``redacted_thinking``); its
    opaque payload is then in ``signature`` and ``text`` is empty.
    """

    text: str
    signature: str | None = None
    redacted: bool = False
    meta: Meta = field(default=None, hash=False)
    kind: Literal["thinking"] = field(default="thinking", repr=False)


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    """A tool call the model made. ``arguments`` is the JSON text exactly as the model wrote it."""

    id: str
    name: str
    arguments: str = "{}"
    signature: str | None = None
    meta: Meta = field(default=None, hash=False)
    kind: Literal["tool_call"] = field(default="tool_call", repr=False)

    def parsed_arguments(self) -> JsonObject:
        """The arguments as a JSON object; raises InvalidRequestError if they are not one."""
        try:
            value = json.loads(self.arguments) if self.arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(
                f"tool call {self.id!r} to {self.name!r} has arguments that are not valid JSON: "
                f"{exc.msg} at position {exc.pos}"
            ) from exc
        if not isinstance(value, dict):
            raise InvalidRequestError(
                f"tool call {self.id!r} to {self.name!r} has arguments that are not a JSON object"
            )
        return value


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    """The result of the tool call ``call_id``. ``is_error`` tells the model the call failed."""

    call_id: str
    content: str
    is_error: bool = False
    name: str | None = None
    meta: Meta = field(default=None, hash=False)
    kind: Literal["tool_result"] = field(default="tool_result", repr=False)


Part: TypeAlias = TextPart | ImagePart | ThinkingPart | ToolCallPart | ToolResultPart

_ALLOWED_PARTS: dict[Role, tuple[type, ...]] = {
    "system": (TextPart,),
    "user": (TextPart, ImagePart, ToolResultPart),
    "assistant": (TextPart, ThinkingPart, ToolCallPart, ImagePart),
    "tool": (ToolResultPart,),
}


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a conversation."""

    role: Role
    parts: tuple[Part, ...]

    def __post_init__(self) -> None:
        if self.role not in _ALLOWED_PARTS:
            raise InvalidRequestError(
                f"unknown message role {self.role!r}; expected one of {', '.join(ROLES)}"
            )
        if isinstance(self.parts, list):  # be forgiving about the container, not the contents
            object.__setattr__(self, "parts", tuple(self.parts))
        allowed = _ALLOWED_PARTS[self.role]
        for part in self.parts:
            if not isinstance(part, allowed):
                names = ", ".join(t.__name__ for t in allowed)
                raise InvalidRequestError(
                    f"a {self.role} message cannot hold {type(part).__name__}; it takes {names}"
                )

    @classmethod
    def system(cls, text: str) -> Message:
        return cls("system", (TextPart(text),))

    @classmethod
    def user(cls, content: str | Part | tuple[Part, ...] | list[Part]) -> Message:
        return cls("user", _as_parts(content))

    @classmethod
    def assistant(cls, content: str | Part | tuple[Part, ...] | list[Part]) -> Message:
        return cls("assistant", _as_parts(content))

    @classmethod
    def tool(cls, *results: ToolResultPart) -> Message:
        return cls("tool", results)

    @property
    def text(self) -> str:
        """The concatenated text parts (thinking and tool calls excluded)."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def thinking(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, ThinkingPart))

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolCallPart))

    @property
    def tool_results(self) -> tuple[ToolResultPart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolResultPart))

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ImagePart))


def _as_parts(content: str | Part | tuple[Part, ...] | list[Part]) -> tuple[Part, ...]:
    if isinstance(content, str):
        return (TextPart(content),)
    if isinstance(content, tuple | list):
        return tuple(content)
    return (content,)
