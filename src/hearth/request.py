"""ChatRequest and EmbedRequest: what every backend receives, checked once at construction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

from hearth.embeddings import Task, check_dimensions, check_inputs, check_task
from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, JsonValue, Message
from hearth.settings import GenerationSettings

if TYPE_CHECKING:
    from hearth.dict_messages import MessageDict


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
    """Messages, tools and settings for one model call.

    A request holds either ``messages`` (a chat: the model's chat template renders them) or a
    raw ``prompt`` (a text completion: the model continues the text as it is, with no template
    and no roles, as llama.cpp's ``/completion`` and OpenAI's legacy ``/v1/completions`` do).
    A raw request has no messages and no tools; ``settings`` and ``response_format`` apply to
    the generated text as usual. Only backends whose :class:`~hearth.backends.base.Capabilities`
    say ``raw_completion`` (local models, and remote APIs with raw completion) take one; the
    others raise :class:`~hearth.errors.UnsupportedFeatureError` before sending anything.

    ``extra_body``: fields of the provider's API that hearth does not model (OpenAI's
    ``logit_bias``, Ollama's ``options.num_ctx``…), merged into the request body a remote
    backend sends, as the openai SDK's ``extra_body`` is: JSON objects merge key by key, and a
    field hearth itself sets is refused (see :func:`hearth.backends.remote_http.merge_extra`).
    Local models have no request body and refuse a non-empty one.
    """

    messages: tuple[Message, ...] = ()
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    response_format: OutputFormat | None = None
    prompt: str | None = None
    extra_body: Mapping[str, JsonValue] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.messages, list):
            object.__setattr__(self, "messages", tuple(self.messages))
        if self.extra_body is not None:
            _check_extra_body(self.extra_body)
        if self.prompt is not None:
            self._check_raw()
        elif not self.messages:
            raise InvalidRequestError(
                "a chat request needs at least one message (or a raw prompt= to complete)"
            )
        if not all(isinstance(m, Message) for m in self.messages):  # OpenAI-style dicts
            from hearth.dict_messages import messages_from_dicts

            object.__setattr__(self, "messages", messages_from_dicts(self.messages))
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            raise InvalidRequestError(f"tool names must be unique, got {names}")
        if self.tool_choice == "required" and not self.tools:
            raise InvalidRequestError(
                "tool_choice 'required' needs at least one tool in the request; send tools, "
                "or use tool_choice auto or none"
            )
        if self.tool_choice not in ("auto", "required", "none") and self.tool_choice not in names:
            raise InvalidRequestError(
                f"tool_choice {self.tool_choice!r} names no tool in the request; "
                f"use auto, required, none or one of {names}"
            )

    def _check_raw(self) -> None:
        if not isinstance(self.prompt, str):
            raise InvalidRequestError(
                f"prompt is a {type(self.prompt).__name__}; a raw prompt is the text to continue"
            )
        if not self.prompt:
            raise InvalidRequestError("the raw prompt is empty; give the text to continue")
        if self.messages:
            raise InvalidRequestError(
                "a request holds messages (a chat) or a raw prompt (a text completion), not "
                "both; put the text in one of them"
            )
        if self.tools or self.tool_choice != "auto":
            raise InvalidRequestError(
                "a raw text completion takes no tools or tool_choice (tools need a chat "
                "template); send messages to use tools"
            )

    @property
    def raw(self) -> bool:
        """True for a raw text completion (``prompt`` set), False for a chat."""
        return self.prompt is not None


def _check_extra_body(extra: object) -> None:
    if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
        raise InvalidRequestError(
            f"extra_body must be a mapping of field names (strings) to JSON values, got "
            f"{type(extra).__name__}"
        )
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"extra_body must hold JSON values only: {exc}") from None


@dataclass(frozen=True, slots=True, init=False)
class EmbedRequest:
    """Texts to embed and how, checked once here: every backend receives one of these.

    * ``texts``: one string or a sequence of strings (``""`` allowed; an empty list, a bare
      ``bytes`` or a non-string item is refused);
    * ``dimensions``: keep the first N values (Matryoshka truncation), then renormalise;
    * ``task``: what the vectors are for (:data:`hearth.embeddings.TASKS`);
    * ``normalize``: scale each vector to unit length;
    * ``truncate``: embed the start of an input longer than the model's window instead of
      raising :class:`~hearth.errors.ContextLengthExceededError`.
    """

    texts: tuple[str, ...]
    dimensions: int | None
    task: Task | None
    normalize: bool
    truncate: bool

    def __init__(
        self,
        texts: Sequence[str] | str,
        *,
        dimensions: int | None = None,
        task: str | None = None,
        normalize: bool = True,
        truncate: bool = False,
    ) -> None:
        check_dimensions(dimensions)
        for name, flag in (("normalize", normalize), ("truncate", truncate)):
            if not isinstance(flag, bool):
                raise InvalidRequestError(f"{name} must be True or False, got {flag!r}")
        object.__setattr__(self, "texts", tuple(check_inputs(texts)))
        object.__setattr__(self, "dimensions", dimensions)
        object.__setattr__(self, "task", check_task(task))
        object.__setattr__(self, "normalize", normalize)
        object.__setattr__(self, "truncate", truncate)


def as_messages(
    prompt: str | Message | MessageDict | Sequence[Message | MessageDict],
    *,
    system: str | None = None,
) -> tuple[Message, ...]:
    """Normalise what a caller passes as a prompt into a tuple of messages: a string (one user
    message), a Message, an OpenAI-style dict, or a list of Messages and dicts."""
    if isinstance(prompt, str):
        msgs: tuple[Message, ...] = (Message.user(prompt),)
    elif isinstance(prompt, Message):
        msgs = (prompt,)
    else:
        from hearth.dict_messages import messages_from_dicts

        msgs = messages_from_dicts([prompt] if isinstance(prompt, Mapping) else prompt)
    if system is not None:
        if msgs and msgs[0].role == "system":
            raise InvalidRequestError(
                "system= was given but the messages already start with a system message"
            )
        msgs = (Message.system(system), *msgs)
    return msgs
