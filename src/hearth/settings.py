"""Generation settings shared by every backend, declared once.

Every field is optional: ``None`` means "the backend's default". Values are checked when the
settings are built, so a bad value fails at the caller's line with a message that names it.

**The settings table.** Each field of :class:`GenerationSettings` is one row: its Python type is
the field's annotation, and :func:`_row` gives the rest — what it does, its range, whether it is
a local sampler knob, the field that carries it in each wire format (:class:`Wire`) and its
command-line flags. :data:`SETTINGS` is the table read back. Everything that lists settings
derives from it: the checks here, the plain field mappings of every wire codec (both ways),
Ollama's ``options``, the server's OpenAPI schema and the sampling options of ``hearth run`` /
``chat`` / ``agent``. What cannot be derived stays written out, and a test keeps it in step:
:class:`hearth.client.SettingsOverrides` (for static typing) and Gemini's pydantic
``GenerationConfig``. What is not a plain field (``stop`` as a string or a list, ``thinking``,
Anthropic's required ``max_tokens``) each codec maps in code. See docs/adding-a-setting.md.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

from hearth.errors import InvalidRequestError
from hearth.logprobs import MAX_TOP_LOGPROBS
from hearth.messages import JsonValue

MAX_STOP_SEQUENCES = 16
MAX_TOKENS_LIMIT = 1_048_576
MAX_CHOICES = 32
"""The most answers one request may ask for (``n``); a local model gives at most its slots."""


@dataclass(frozen=True, slots=True)
class Wire:
    """The field that carries a setting in each wire format; None where the format has none
    (the setting is then dropped outbound and never read inbound).

    * ``openai``: the Chat Completions (and legacy completions) field. ``openai_option`` names
      the endpoint wire option that renames it outbound (``max_tokens_field``,
      ``repeat_penalty_field``); ``openai_aliases`` are other names the server accepts inbound.
      A :attr:`Setting.local` setting is an OpenAI *extension*: sent only where the endpoint's
      ``sampler_extensions`` option is on (llama-server, vLLM, ``hearth serve``).
    * ``anthropic``: the Messages API field.
    * ``gemini``: the field inside ``generationConfig``.
    * ``ollama``: the field inside ``options``.
    """

    openai: str | None = None
    anthropic: str | None = None
    gemini: str | None = None
    ollama: str | None = None
    openai_option: str | None = None
    openai_aliases: tuple[str, ...] = ()


FORMAT_COLUMNS = ("openai", "anthropic", "gemini", "ollama")
"""The wire formats the table has a column for (:class:`Wire`'s first four fields). A format
without one (``responses``) reads and writes its settings in its own package."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table.

    * ``name`` and ``kind`` (its Python type) come from the field: ``kind`` is ``float``,
      ``int``, ``bool`` or ``tuple`` (of strings) — the annotation without its ``None``.
    * ``doc``: one sentence; the ``--help`` text and the OpenAPI description.
    * ``low`` / ``high``: the closed range of a number (``low_open``: ``low`` itself is out);
      for ``tuple``, ``high`` is the most items.
    * ``local``: a llama.cpp sampler knob rather than a setting every API has (see
      :class:`Wire` for what that means on OpenAI-compatible servers).
    * ``wire``: its field in each wire format. ``cli``: its flags on ``hearth run`` /
      ``chat`` / ``agent`` (none: not offered there).
    """

    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    local: bool = False
    wire: Wire = Wire()
    cli: tuple[str, ...] = ()
    name: str = ""
    kind: type = object

    def field_in(self, fmt: str) -> str | None:
        """This setting's field in wire format ``fmt`` (None: the format has none, or the table
        has no column for it: a format added later may map its few settings in its own package,
        as ``hearth.wire.responses`` does)."""
        name: str | None = getattr(self.wire, fmt) if fmt in FORMAT_COLUMNS else None
        return name

    def check(self, value: object) -> None:
        """Raise InvalidRequestError if ``value`` is not a valid value of this setting."""
        if self.kind is float:
            _check_float(self, value)
        elif self.kind is int:
            _check_int(self, value)
        elif self.kind is bool:
            if value is not None and not isinstance(value, bool):
                raise InvalidRequestError(f"{self.name} must be true or false, got {value!r}")
        elif self.kind is tuple:
            _check_stop(self, value)


def _row(
    doc: str,
    *,
    default: object = None,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    local: bool = False,
    wire: Wire = Wire(),
    cli: tuple[str, ...] = (),
) -> Any:
    """A :class:`GenerationSettings` field (default None) carrying its row of the table."""
    row = Setting(doc, low=low, high=high, low_open=low_open, local=local, wire=wire, cli=cli)
    return field(default=default, metadata={"setting": row})


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """How to sample. ``None`` leaves a value to the backend. Each field is one row of the
    settings table (see the module docstring): its type, doc, range, wire fields and flags."""

    temperature: float | None = _row(
        "Sampling temperature (0 = greedy).",
        low=0.0, high=100.0,
        wire=Wire("temperature", "temperature", "temperature", "temperature"),
        cli=("--temperature", "-t"),
    )  # fmt: skip
    top_p: float | None = _row(
        "Nucleus sampling: keep the likeliest tokens whose probabilities add up to this "
        "(1 disables it).",
        low=0.0, high=1.0,
        wire=Wire("top_p", "top_p", "topP", "top_p"),
        cli=("--top-p",),
    )  # fmt: skip
    top_k: int | None = _row(
        "Keep only the k likeliest tokens (0 disables it).",
        low=0, high=1_000_000, local=True,
        wire=Wire("top_k", "top_k", "topK", "top_k"),
        cli=("--top-k",),
    )  # fmt: skip
    min_p: float | None = _row(
        "Drop tokens less likely than this fraction of the likeliest one (0 disables it).",
        low=0.0, high=1.0, local=True,
        wire=Wire(openai="min_p", ollama="min_p"),
        cli=("--min-p",),
    )  # fmt: skip
    repeat_penalty: float | None = _row(
        "Penalise tokens repeated from the recent output (1 disables it).",
        low=0.0, high=100.0, low_open=True, local=True,
        wire=Wire(
            openai="repeat_penalty", ollama="repeat_penalty",
            openai_option="repeat_penalty_field", openai_aliases=("repetition_penalty",),
        ),
        cli=("--repeat-penalty",),
    )  # fmt: skip
    presence_penalty: float | None = _row(
        "Penalise every token already in the output, as OpenAI defines it.",
        low=-2.0, high=2.0,
        wire=Wire(openai="presence_penalty", gemini="presencePenalty", ollama="presence_penalty"),
    )  # fmt: skip
    frequency_penalty: float | None = _row(
        "Penalise tokens by how often they are already in the output, as OpenAI defines it.",
        low=-2.0, high=2.0,
        wire=Wire(
            openai="frequency_penalty", gemini="frequencyPenalty", ollama="frequency_penalty"
        ),
    )  # fmt: skip
    seed: int | None = _row(
        "Seed for reproducible sampling (the same seed, prompt and settings give the same "
        "output on a local model).",
        low=-(2**63), high=2**64 - 1,
        wire=Wire(openai="seed", gemini="seed", ollama="seed"),
        cli=("--seed",),
    )  # fmt: skip
    max_tokens: int | None = _row(
        "Most tokens to generate.",
        low=1, high=MAX_TOKENS_LIMIT,
        wire=Wire(
            "max_completion_tokens", "max_tokens", "maxOutputTokens", "num_predict",
            openai_option="max_tokens_field", openai_aliases=("max_tokens",),
        ),
        cli=("--max-tokens", "-n"),
    )  # fmt: skip
    stop: tuple[str, ...] = _row(
        "Strings that end generation (before the first one, which is not returned).",
        default=(), high=MAX_STOP_SEQUENCES,
        wire=Wire("stop", "stop_sequences", "stopSequences", "stop"),
    )  # fmt: skip
    parallel_tool_calls: bool | None = _row(
        "Let the model call several tools in one reply (true) or at most one (false); by "
        "default a remote API decides (OpenAI: several), a local model's constrained calls are "
        "one a reply (as llama-server's) and a model's own tool syntax writes what it writes. "
        "Sent only with tools; Anthropic's form is mapped in code.",
        wire=Wire(openai="parallel_tool_calls"),
    )  # fmt: skip
    thinking: bool | None = _row(
        "Ask a reasoning model to think (true) or not (false) before answering; each wire "
        "format has its own form for it (mapped in code)."
    )
    thinking_budget: int | None = _row(
        "The most tokens a reasoning model may spend thinking (mapped in code, inside each "
        "format's thinking field).",
        low=0, high=MAX_TOKENS_LIMIT, cli=("--thinking-budget",),
    )  # fmt: skip
    logprobs: bool | None = _row(
        "Return each generated token's log-probability (mapped in code: each wire format has "
        "its own fields for it)."
    )
    top_logprobs: int | None = _row(
        "Return this many likeliest alternatives with each generated token's log-probability "
        "(implies logprobs; mapped in code).",
        low=0, high=MAX_TOP_LOGPROBS,
    )  # fmt: skip
    n: int | None = _row(
        "Generate this many answers to the same prompt, each sampled on its own (local models "
        "share the prompt's computation among them; mapped in code).",
        low=1, high=MAX_CHOICES,
    )  # fmt: skip
    prompt_logprobs: bool | None = _row(
        "Return the log-probabilities of a raw completion's prompt tokens too (OpenAI's echo "
        "with logprobs; local models; mapped in code)."
    )

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        elif isinstance(self.stop, list):
            object.__setattr__(self, "stop", tuple(self.stop))
        for setting in SETTINGS:
            setting.check(getattr(self, setting.name))

    @property
    def wants_logprobs(self) -> bool:
        """Whether generated tokens' log-probabilities were asked for (``logprobs=True``, or
        ``top_logprobs`` set)."""
        return bool(self.logprobs) or self.top_logprobs is not None

    def merged(self, override: GenerationSettings | None) -> GenerationSettings:
        """These settings with every non-default field of ``override`` laid on top."""
        if override is None:
            return self
        changes: dict[str, object] = {}
        for f in fields(override):
            value = getattr(override, f.name)
            if value is not None and value != ():
                changes[f.name] = value
        return replace(self, **changes)  # type: ignore[arg-type]


def _base_type(hint: object) -> type:
    """``float | None`` → float, ``tuple[str, ...]`` → tuple."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (hint,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
    origin = typing.get_origin(hint) or hint
    assert isinstance(origin, type)
    return origin


def _table() -> tuple[Setting, ...]:
    hints = typing.get_type_hints(GenerationSettings)
    rows: list[Setting] = []
    for f in fields(GenerationSettings):
        row = f.metadata["setting"]
        assert isinstance(row, Setting)
        rows.append(replace(row, name=f.name, kind=_base_type(hints[f.name])))
    return tuple(rows)


SETTINGS: tuple[Setting, ...] = _table()
"""The settings table: one :class:`Setting` per field of :class:`GenerationSettings`, in order."""

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def wire_fields(fmt: str) -> tuple[tuple[Setting, str], ...]:
    """The settings wire format ``fmt`` carries in a plain field, with that field's name."""
    out: list[tuple[Setting, str]] = []
    for setting in SETTINGS:
        name = setting.field_in(fmt)
        if name is not None:
            out.append((setting, name))
    return tuple(out)


def wire_values(settings: GenerationSettings, fmt: str) -> Iterator[tuple[Setting, str, JsonValue]]:
    """The settings ``settings`` sets (not None, not empty) that wire format ``fmt`` carries in
    a plain field: each row, its field's name and the value as JSON (a tuple as a list)."""
    for setting, name in wire_fields(fmt):
        value = getattr(settings, setting.name)
        if value is not None and value != ():
            yield setting, name, list(value) if isinstance(value, tuple) else value


def _check_float(setting: Setting, value: object) -> None:
    if value is None:
        return
    name = setting.name
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"{name} must be a number, got {type(value).__name__}")
    if math.isnan(value) or math.isinf(value):
        raise InvalidRequestError(f"{name} must be a finite number, got {value}")
    low = -math.inf if setting.low is None else float(setting.low)
    high = math.inf if setting.high is None else float(setting.high)
    too_low = value <= low if setting.low_open else value < low
    if too_low or value > high:
        bracket = "(" if setting.low_open else "["
        raise InvalidRequestError(f"{name} must be in {bracket}{low}, {high}], got {value}")


def _check_int(setting: Setting, value: object) -> None:
    if value is None:
        return
    name = setting.name
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{name} must be an integer, got {type(value).__name__}")
    low, high = setting.low, setting.high
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidRequestError(f"{name} must be between {low} and {high}, got {value}")


def _check_stop(setting: Setting, stop: object) -> None:
    if not isinstance(stop, tuple):
        raise InvalidRequestError(
            f"{setting.name} must be a string or a list of strings, got {type(stop).__name__}"
        )
    most = MAX_STOP_SEQUENCES if setting.high is None else int(setting.high)
    if len(stop) > most:
        raise InvalidRequestError(f"at most {most} stop sequences are allowed, got {len(stop)}")
    for s in stop:
        if not isinstance(s, str) or not s:
            raise InvalidRequestError(f"stop sequences must be non-empty strings, got {s!r}")
