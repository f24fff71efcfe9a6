"""ChatRequest: what every backend receives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, Message
from hearth.settings import GenerationSettings


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and a JSON schema for its arguments."""

    name: str
    description: str = ""
    parameters: JsonObject = field(default_factory=lambda: {"type": "object", "properties": {}})


OutputKind: TypeAlias = Literal["json_schema", "json", "gbnf", "regex"]


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """What shape the answer must take.

    * ``json_schema``: a JSON value valid against ``schema`` (every backend);
    * ``json``: any JSON object (every backend);
    * ``gbnf`` / ``regex``: text matching ``grammar`` (local models only; remote backends raise
      :class:`~hearth.errors.UnsupportedFeatureError`).

    ``name`` and ``description`` label the schema where a wire format wants them (OpenAI's
    ``json_schema.name``, Anthropic's forced tool).
    """

    kind: OutputKind
    schema: JsonObject | None = None
    grammar: str | None = None
    name: str = "output"
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind == "json_schema" and not isinstance(self.schema, dict):
            raise InvalidRequestError("a json_schema output format needs a schema (a JSON object)")
        if self.kind in ("gbnf", "regex") and not isinstance(self.grammar, str):
            raise InvalidRequestError(f"a {self.kind} output format needs its grammar as a string")


ToolChoice: TypeAlias = Literal["auto", "required", "none"] | str
"""``auto`` (the model decides), ``required`` (it must call one), ``none``, or a tool's name."""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Messages, tools and settings for one model call."""

    messages: tuple[Message, ...]
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    response_format: OutputFormat | None = None

    def __post_init__(self) -> None:
        if isinstance(self.messages, list):
            object.__setattr__(self, "messages", tuple(self.messages))
        if not self.messages:
            raise InvalidRequestError("a chat request needs at least one message")
        for i, m in enumerate(self.messages):
            if not isinstance(m, Message):
                raise InvalidRequestError(
                    f"messages[{i}] is a {type(m).__name__}, not a hearth.Message"
                )
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            raise InvalidRequestError(f"tool names must be unique, got {names}")
        if self.tool_choice not in ("auto", "required", "none") and self.tool_choice not in names:
            raise InvalidRequestError(
                f"tool_choice {self.tool_choice!r} names no tool in the request; "
                f"use auto, required, none or one of {names}"
            )


def as_messages(
    prompt: str | Message | Sequence[Message], *, system: str | None = None
) -> tuple[Message, ...]:
    """Normalise what a caller passes as a prompt into a tuple of messages."""
    if isinstance(prompt, str):
        msgs: tuple[Message, ...] = (Message.user(prompt),)
    elif isinstance(prompt, Message):
        msgs = (prompt,)
    else:
        msgs = tuple(prompt)
    if system is not None:
        if msgs and msgs[0].role == "system":
            raise InvalidRequestError(
                "system= was given but the messages already start with a system message"
            )
        msgs = (Message.system(system), *msgs)
    return msgs
