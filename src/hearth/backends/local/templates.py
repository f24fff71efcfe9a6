"""Chat templates: turn a conversation into the prompt text a local GGUF model was trained on.

Which template a model gets (:func:`select_template`), first match wins:

1. the catalogue entry's ``family`` (``"chatml"`` or ``"gemma"``) when it names one;
2. the GGUF file's own ``tokenizer.chat_template``, rendered by :class:`JinjaChatTemplate`;
3. :class:`GemmaTemplate` when the GGUF architecture starts with ``gemma``;
4. :class:`ChatMLTemplate`.

A GGUF template is untrusted input. :class:`JinjaChatTemplate` renders it in Jinja's immutable
sandbox (:mod:`hearth.backends.local.template_sandbox`): touching private attributes
(``''.__class__``, ``cycler.__init__.__globals__``) raises at once, ``*`` / ``+`` / ``**`` refuse
to build values beyond the output bound, the output itself is capped at :data:`MAX_RENDER_CHARS`,
and each render has a budget of steps and seconds, so a template that loops without end fails
with a TemplateError instead of holding a thread (and its process) forever.

How the parts of :class:`hearth.messages.Message` are rendered, by every template:

* :class:`~hearth.messages.ImagePart` raises :class:`~hearth.errors.UnsupportedFeatureError`:
  a model loaded with a vision projector (``mmproj``) has its images replaced by the
  projector's marker before the template renders (:mod:`hearth.backends.local.vision_setup`),
  so an image reaching a template means the model has none.
* :class:`~hearth.messages.ThinkingPart` is dropped by the built-in templates: models are
  trained without earlier turns' reasoning in the prompt. A Jinja template gets it as the
  assistant message's ``reasoning_content`` (as from Hugging Face), so the model's own template
  decides (Qwen3's keeps the reasoning of the turns after the last user message, its tool
  calling steps, and drops the rest).
* Tool calls: Hermes ``<tool_call>`` JSON blocks for ChatML, ````tool_code```` blocks for Gemma,
  OpenAI-style ``tool_calls`` dicts for Jinja templates. Tool results: ChatML ``tool`` turns,
  Gemma user turns with ````tool_output```` blocks, ``role: "tool"`` dicts for Jinja templates.
  A result's ``is_error`` flag is not shown to the model (no template has a slot for it).
  A call the parser could not read (``meta["error"]``, raw text as arguments) is shown as the
  model wrote it, so the conversation can go on after the error result.

Tools offered with ``render(..., tools=[ToolSpec, …])`` reach the model in its family's words:

* ChatML: a Hermes system text (:func:`~hearth.backends.local.toolcalls_prompts.hermes_tool_prompt`)
  after the system message;
* Gemma: Google's ````tool_code```` preamble with the tools as Python stubs, folded into the first
  user turn like the system message;
* Jinja: templates that use ``tools`` get the OpenAI-style list, as from Hugging Face's
  ``apply_chat_template(tools=…)``; templates that ignore it get the Gemma preamble (Gemma
  templates), Llama 3's JSON tool text (Llama 3 templates) or the Hermes text, in the system
  message.

Each template says in ``tool_family`` which syntax its model then writes calls in, for
:class:`~hearth.backends.local.toolcalls.ToolCallParser` (None: unknown, use constrained decoding).

Every failure while rendering raises :class:`TemplateError`, whose message starts with
``chat template error:``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, NoReturn, Protocol

from jinja2 import TemplateError as JinjaError
from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.ext import Extension
from jinja2.parser import Parser

from hearth.backends.local.alternation import alternate, demands_alternation, merge_texts
from hearth.backends.local.template_sandbox import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_STEPS,
    MAX_RENDER_CHARS,
    BudgetExceededError,
    TemplateSandbox,
    budget,
)
from hearth.backends.local.toolcalls import ToolFamily, detect_family
from hearth.backends.local.toolcalls_prompts import (
    gemma_tool_prompt,
    hermes_tool_prompt,
    llama3_tool_prompt,
    openai_tools,
)
from hearth.errors import ConfigurationError, InvalidRequestError, UnsupportedFeatureError
from hearth.messages import (
    ImagePart,
    JsonObject,
    JsonValue,
    Message,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ToolSpec

_STOP_MARKERS: tuple[str, ...] = (
    "<|im_end|>",  # ChatML (SmolLM, Qwen)
    "<end_of_turn>",  # Gemma
    "<|eot_id|>",  # Llama 3
    "<|eom_id|>",  # Llama 3.1 tool turns
    "<|end|>",  # Phi-3
    "<|END_OF_TURN_TOKEN|>",  # Command R
    "<end_of_utterance>",  # SmolVLM / Idefics
    "</s>",  # Llama 2, Mistral, Zephyr
)
"""End-of-turn markers looked for, literally, in a Jinja template's source."""

_GEMMA_ALTERNATION = "Conversation roles must alternate user/assistant/user/assistant/..."


class TemplateError(InvalidRequestError):
    """A chat template failed to compile or to render the conversation."""

    def __init__(self, problem: str, *, line: int | None = None) -> None:
        self.problem = problem
        self.line = line
        where = f" (template line {line})" if line is not None else ""
        super().__init__(f"chat template error: {problem}{where}")


class ChatTemplate(Protocol):
    """Renders a conversation into prompt text for one model family."""

    name: str
    stop_strings: tuple[str, ...]
    """End-of-turn markers to treat as the end of the answer even if the tokenizer does not."""
    tool_family: ToolFamily | None
    """The syntax the model writes tool calls in once ``tools`` were rendered; None: unknown."""

    def render(
        self,
        messages: Sequence[Message],
        *,
        add_generation_prompt: bool = True,
        tools: Sequence[ToolSpec] = (),
        context: Mapping[str, Any] | None = None,
    ) -> str:
        """The prompt text; ``add_generation_prompt`` appends the opening of the model's turn;
        ``tools`` are described to the model in its family's words; ``context``: extra
        variables for a Jinja template (``enable_thinking``), ignored by the built-in ones."""
        ...


# --- parts shared by every template -------------------------------------------------------------

_Segment = str | ToolCallPart | ToolResultPart


def _segments(index: int, message: Message) -> list[_Segment]:
    """The message's parts in order, adjacent texts joined, thinking dropped, images refused."""
    out: list[_Segment] = []
    for part in message.parts:
        if isinstance(part, ImagePart):
            raise UnsupportedFeatureError(
                f"this local model has no vision support: message {index} ({message.role}) "
                "holds an image. Load a vision model with its projector (mmproj=…), send "
                "text only, or use a remote model that accepts images."
            )
        if isinstance(part, TextPart):
            if out and isinstance(out[-1], str):
                out[-1] += part.text
            else:
                out.append(part.text)
        elif isinstance(part, ToolCallPart | ToolResultPart):
            out.append(part)
    return out


def _texts(segments: Sequence[_Segment]) -> str:
    return "".join(s for s in segments if isinstance(s, str))


def _arguments_or_raw(call: ToolCallPart) -> JsonObject | str:
    """The call's arguments; a call the parser marked as broken gives its raw text instead."""
    try:
        return call.parsed_arguments()
    except InvalidRequestError:
        if call.meta is not None and "error" in call.meta:
            return call.arguments
        raise


def _with_system(system: str | None, extra: str) -> str:
    return f"{system}\n\n{extra}" if system else extra


def _template_line(exc: BaseException) -> int | None:
    """The template line an exception was raised on (Jinja rewrites tracebacks to show it)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            found = tb.tb_lineno
        tb = tb.tb_next
    return found


# --- ChatML -------------------------------------------------------------------------------------


def _hermes_call(call: ToolCallPart) -> str:
    arguments = _arguments_or_raw(call)
    if isinstance(arguments, str):  # broken: show what the model wrote
        name = json.dumps(call.name, ensure_ascii=False)
        body = arguments
        if '"name"' not in arguments:
            body = f'{{"name": {name}, "arguments": {arguments}}}'
    else:
        body = json.dumps({"name": call.name, "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{body}\n</tool_call>"


def _chatml_turns(index: int, message: Message) -> list[tuple[str, str]]:
    segments = _segments(index, message)
    if message.role == "system":
        return [("system", _texts(segments))]
    if message.role == "assistant":
        pieces = [_hermes_call(s) if isinstance(s, ToolCallPart) else s for s in segments]
        return [("assistant", "\n".join(p for p in pieces if isinstance(p, str) and p))]
    turns: list[tuple[str, str]] = []
    for segment in segments:
        if isinstance(segment, ToolResultPart):
            turns.append(("tool", segment.content))
        elif isinstance(segment, str):
            turns.append(("user", segment))
    return turns or [("user", "")]


class ChatMLTemplate:
    """``<|im_start|>role\\ncontent<|im_end|>\\n`` turns (SmolLM, Qwen, Hermes)."""

    def __init__(self) -> None:
        self.name = "chatml"
        self.stop_strings: tuple[str, ...] = ("<|im_end|>",)
        self.tool_family: ToolFamily | None = "hermes"

    def __repr__(self) -> str:
        return "ChatMLTemplate()"

    def render(
        self,
        messages: Sequence[Message],
        *,
        add_generation_prompt: bool = True,
        tools: Sequence[ToolSpec] = (),
        context: Mapping[str, Any] | None = None,
    ) -> str:
        turns = [t for i, m in enumerate(messages) for t in _chatml_turns(i, m)]
        if tools:
            prompt = hermes_tool_prompt(tools)
            if turns and turns[0][0] == "system":
                turns[0] = ("system", _with_system(turns[0][1], prompt))
            else:
                turns.insert(0, ("system", prompt))
        out = [f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in turns]
        if add_generation_prompt:
            out.append("<|im_start|>assistant\n")
        return "".join(out)


# --- Gemma --------------------------------------------------------------------------------------


def _py_literal(value: JsonValue) -> str:
    """A JSON value written as a Python literal, the way Gemma's ``tool_code`` blocks show it."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_py_literal(v) for v in value) + "]"
    items = (f"{json.dumps(k, ensure_ascii=False)}: {_py_literal(v)}" for k, v in value.items())
    return "{" + ", ".join(items) + "}"


def _gemma_call(call: ToolCallPart) -> str:
    arguments = _arguments_or_raw(call)
    if isinstance(arguments, str):  # broken: show what the model wrote
        code = arguments if "(" in arguments else f"{call.name}({arguments})"
    else:
        args = ", ".join(f"{k}={_py_literal(v)}" for k, v in arguments.items())
        code = f"{call.name}({args})"
    return f"```tool_code\n{code}\n```"


def _gemma_segment(segment: _Segment) -> str:
    if isinstance(segment, ToolCallPart):
        return _gemma_call(segment)
    if isinstance(segment, ToolResultPart):
        return f"```tool_output\n{segment.content}\n```"
    return segment.strip()


def _gemma_turns(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[tuple[str, str]]:
    """(role, text) turns: system folded into the first user turn, consecutive turns of one
    side (tool results and the user message after them) merged so that roles alternate."""
    system: str | None = gemma_tool_prompt(tools) if tools else None
    turns: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        segments = _segments(index, message)
        if message.role == "system":
            if index != 0:
                raise TemplateError(
                    f"Gemma takes a system message only as the first message; message {index} "
                    "is a system message. Move it to the front or merge it into the first one."
                )
            system = _with_system(_texts(segments), system) if system else _texts(segments)
            continue
        role = "model" if message.role == "assistant" else "user"
        if not turns and role == "model":
            raise TemplateError(
                f"{_GEMMA_ALTERNATION} (Gemma format): the conversation must start with a user "
                f"message, and message {index} is a {message.role} message"
            )
        text = "\n".join(p for p in map(_gemma_segment, segments) if p)
        if turns and turns[-1][0] == role:  # tool results then a user message, and the like
            turns[-1] = (role, merge_texts(turns[-1][1], text))
            continue
        if system is not None and not turns:
            text = f"{system}\n\n{text}"
        turns.append((role, text))
    if system is not None and not turns:
        turns.append(("user", system))
    return turns


class GemmaTemplate:
    """Gemma's turns: ``<start_of_turn>user|model\\ntext<end_of_turn>\\n`` after the BOS token.

    As in Gemma's official template, texts are stripped of surrounding whitespace, the system
    message is folded into the first user turn, and roles alternate user / model: consecutive
    messages of one side (tool results and the user message after them, two user messages)
    become one turn, their texts joined by a blank line. A conversation must start with a user
    message.
    """

    def __init__(self, bos_token: str = "<bos>") -> None:
        self.name = "gemma"
        self.bos_token = bos_token
        self.stop_strings: tuple[str, ...] = ("<end_of_turn>",)
        self.tool_family: ToolFamily | None = "gemma"

    def __repr__(self) -> str:
        return f"GemmaTemplate(bos_token={self.bos_token!r})"

    def render(
        self,
        messages: Sequence[Message],
        *,
        add_generation_prompt: bool = True,
        tools: Sequence[ToolSpec] = (),
        context: Mapping[str, Any] | None = None,
    ) -> str:
        out = [self.bos_token]
        for role, text in _gemma_turns(messages, tools):
            out.append(f"<start_of_turn>{role}\n{text}<end_of_turn>\n")
        if add_generation_prompt:
            out.append("<start_of_turn>model\n")
        return "".join(out)


# --- Jinja templates from GGUF metadata ---------------------------------------------------------


class _GenerationTag(Extension):
    """``{% generation %}…{% endgeneration %}`` (HF's assistant-mask marker): renders its body."""

    tags = {"generation"}  # noqa: RUF012 - Jinja's Extension API declares it so

    def parse(self, parser: Parser) -> list[nodes.Node]:
        next(parser.stream)
        return list(parser.parse_statements(("name:endgeneration",), drop_needle=True))


def _raise_exception(message: object) -> NoReturn:
    raise TemplateError(f"the model's chat template rejected the conversation: {message}")


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | str | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    """HF's ``tojson``: plain JSON, no HTML escaping, non-ASCII kept."""
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _hf_assistant(
    segments: Sequence[_Segment], names: dict[str, str], *, inline_calls: bool
) -> dict[str, Any]:
    content = _texts(segments)
    if inline_calls:  # the template ignores tool_calls: write them into the text
        pieces = [_hermes_call(s) if isinstance(s, ToolCallPart) else s for s in segments]
        content = "\n".join(p for p in pieces if isinstance(p, str) and p)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    calls = [s for s in segments if isinstance(s, ToolCallPart)]
    if calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": _arguments_or_raw(c)},
            }
            for c in calls
        ]
        names.update((c.id, c.name) for c in calls)
    return message


def _hf_tool(result: ToolResultPart, names: dict[str, str]) -> dict[str, Any]:
    return {
        "role": "tool",
        "tool_call_id": result.call_id,
        "name": result.name or names.get(result.call_id, ""),
        "content": result.content,
    }


def hf_messages(messages: Sequence[Message], *, inline_calls: bool = False) -> list[dict[str, Any]]:
    """The conversation as the list of dicts Hugging Face chat templates expect.

    Tool results become ``role: "tool"`` dicts; their ``name`` comes from the part or, failing
    that, from the assistant tool call with the same id ("" when neither says).
    ``inline_calls`` also writes an assistant's tool calls into its ``content`` as Hermes
    ``<tool_call>`` blocks, for templates that ignore ``tool_calls``.
    """
    names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        segments = _segments(index, message)
        if message.role == "assistant":
            out.append(_hf_assistant(segments, names, inline_calls=inline_calls))
            thinking = "".join(
                p.text for p in message.parts if isinstance(p, ThinkingPart) and not p.redacted
            )
            if thinking:  # the template decides: Qwen3's keeps it after the last user turn
                out[-1]["reasoning_content"] = thinking
        elif message.role == "system":
            out.append({"role": "system", "content": _texts(segments)})
        else:
            start = len(out)
            for segment in segments:
                if isinstance(segment, ToolResultPart):
                    out.append(_hf_tool(segment, names))
                elif isinstance(segment, str):
                    out.append({"role": "user", "content": segment})
            if len(out) == start:
                out.append({"role": message.role, "content": ""})
    return out


def _needs_builtin_gemma(messages: Sequence[Message]) -> bool:
    """Tool calls or results (Gemma's templates have no syntax for them) or a system message
    (Gemma 2's template refuses one; Gemma 3's folds it into the first user turn, as hearth's
    does)."""
    return any(
        m.role == "system" or isinstance(p, ToolCallPart | ToolResultPart)
        for m in messages
        for p in m.parts
    )


def _nine_char_id(call_id: str) -> str:
    """Mistral templates demand 9-character alphanumeric call ids; others map to a stable one."""
    if len(call_id) == 9 and call_id.isascii() and call_id.isalnum():
        return call_id
    return hashlib.sha256(call_id.encode()).hexdigest()[:9]


def _shorten_ids(hf: list[dict[str, Any]]) -> None:
    for message in hf:
        for call in message.get("tool_calls", ()):
            call["id"] = _nine_char_id(call["id"])
        if "tool_call_id" in message:
            message["tool_call_id"] = _nine_char_id(message["tool_call_id"])


def _add_system(hf: list[dict[str, Any]], text: str) -> None:
    """Append ``text`` to the leading system message, or put one in front."""
    if hf and hf[0]["role"] == "system":
        hf[0] = {**hf[0], "content": _with_system(hf[0]["content"], text)}
    else:
        hf.insert(0, {"role": "system", "content": text})


def _describe(exc: Exception) -> str:
    if isinstance(exc, BudgetExceededError):
        return str(exc)
    if isinstance(exc, SecurityError):
        return f"the template tried something the sandbox forbids: {exc}"
    if isinstance(exc, UndefinedError):
        return f"the template used a value that is not defined: {exc}"
    if isinstance(exc, JinjaError):
        return str(exc)
    return f"{type(exc).__name__} while rendering: {exc}"


class JinjaChatTemplate:
    """A model's own Jinja chat template (GGUF ``tokenizer.chat_template``), sandboxed.

    The template sees what Hugging Face's ``apply_chat_template`` gives it: ``messages``
    (see :func:`hf_messages`), ``bos_token``, ``eos_token``, ``add_generation_prompt``,
    ``tools`` (the OpenAI-style list, or None), ``documents`` (None), ``raise_exception(msg)``,
    ``strftime_now(fmt)`` and HF's ``tojson`` filter.

    A template that never mentions ``tools`` gets them as a system text instead (see the module
    docstring); one that never mentions ``tool_calls`` gets the calls written into the
    assistant's text. Mistral templates get call ids cut to the 9 characters they demand (a
    stable hash of the id). A Gemma template without tool support hands a conversation with tools,
    calls, results or a system message to :class:`GemmaTemplate`, which writes them the way
    Google documents.
    A template that demands alternating roles gets the conversation merged and bridged so that
    they alternate (see :mod:`hearth.backends.local.alternation`).

    Each render may take ``max_steps`` steps and ``max_seconds`` seconds (see
    :mod:`hearth.backends.local.template_sandbox`); past either it raises TemplateError.
    """

    def __init__(
        self,
        source: str,
        *,
        bos_token: str = "",
        eos_token: str = "",
        max_steps: int = DEFAULT_MAX_STEPS,
        max_seconds: float = DEFAULT_MAX_SECONDS,
    ) -> None:
        if not source.strip():
            raise TemplateError("the template is empty")
        self.name = "jinja"
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.stop_strings: tuple[str, ...] = tuple(m for m in _STOP_MARKERS if m in source)
        self._uses_tools = re.search(r"\btools\b", source) is not None
        self._inline_calls = "tool_calls" not in source
        self._alternates = demands_alternation(source)
        family = detect_family(source, "")
        self._gemma: GemmaTemplate | None = None
        self.tool_family: ToolFamily | None = family
        if not self._uses_tools:
            self.tool_family = family if family in ("gemma", "llama3") else "hermes"
            if family == "gemma":
                self._gemma = GemmaTemplate(bos_token or "<bos>")
        env = TemplateSandbox(
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.loopcontrols", _GenerationTag],
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        try:
            self._template = env.from_string(source)
        except TemplateSyntaxError as exc:
            raise TemplateError(
                f"the template does not compile: {exc.message}", line=exc.lineno
            ) from exc

    def __repr__(self) -> str:
        return f"JinjaChatTemplate(<{len(self.source)} chars>, stop_strings={self.stop_strings})"

    def render(
        self,
        messages: Sequence[Message],
        *,
        add_generation_prompt: bool = True,
        tools: Sequence[ToolSpec] = (),
        context: Mapping[str, Any] | None = None,
    ) -> str:
        if self._gemma is not None and (tools or _needs_builtin_gemma(messages)):
            return self._gemma.render(
                messages, add_generation_prompt=add_generation_prompt, tools=tools
            )
        hf = hf_messages(messages, inline_calls=self._inline_calls)
        if self._alternates:
            hf = alternate(hf)
        if self.tool_family == "mistral":
            _shorten_ids(hf)
        if tools and not self._uses_tools:
            prompt = llama3_tool_prompt if self.tool_family == "llama3" else hermes_tool_prompt
            _add_system(hf, prompt(tools))
        variables: dict[str, Any] = {
            **(context or {}),
            "messages": hf,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
            "add_generation_prompt": add_generation_prompt,
            "tools": openai_tools(tools) if tools else None,
            "documents": None,
        }
        try:
            return self._render_bounded(variables)
        except TemplateError as exc:
            if exc.line is not None:
                raise
            raise TemplateError(exc.problem, line=_template_line(exc)) from exc
        except Exception as exc:  # untrusted code: every failure is the template's
            raise TemplateError(_describe(exc), line=_template_line(exc)) from exc

    def _render_bounded(self, context: dict[str, Any]) -> str:
        pieces: list[str] = []
        size = 0
        with budget(self.max_steps, self.max_seconds):
            for piece in self._template.generate(context):
                size += len(piece)
                if size > MAX_RENDER_CHARS:
                    raise TemplateError(
                        f"the template rendered more than {MAX_RENDER_CHARS} characters; "
                        "it is broken or hostile"
                    )
                pieces.append(piece)
        return "".join(pieces)


def select_template(
    *,
    gguf_template: str | None,
    architecture: str | None,
    family: Literal["chatml", "gemma"] | None,
    bos_token: str,
    eos_token: str,
) -> ChatTemplate:
    """The template for a model, in the order the module docstring gives."""
    if family is not None:
        if family == "chatml":
            return ChatMLTemplate()
        if family == "gemma":
            return GemmaTemplate(bos_token or "<bos>")
        raise ConfigurationError(
            f"unknown chat template family {family!r}; expected 'chatml' or 'gemma'"
        )
    if gguf_template is not None and gguf_template.strip():
        return JinjaChatTemplate(gguf_template, bos_token=bos_token, eos_token=eos_token)
    if architecture is not None and architecture.lower().startswith("gemma"):
        return GemmaTemplate(bos_token or "<bos>")
    return ChatMLTemplate()
