"""Structured output: what shape the answer must take, and reading the answer back.

>>> class City(BaseModel):
...     name: str
...     population: int
>>> m.chat("The largest city in Japan?", response_format=City).parsed
City(name='Tokyo', population=37400000)

``response_format`` accepts

* a pydantic model class (or any type pydantic can validate: a dataclass, a TypedDict,
  ``list[int]``): the answer is validated by pydantic and ``Response.parsed`` is the instance;
* a JSON schema (a dict): the answer is validated with ``jsonschema`` and ``parsed`` is the
  JSON value;
* ``"json"``: any JSON object;
* an :class:`~hearth.request.OutputFormat` (also ``gbnf`` / ``regex`` grammars for local
  models: ``parsed`` is then the text).

Each backend turns the :class:`~hearth.request.OutputFormat` into its own mechanism (OpenAI
``json_schema``, Gemini ``responseJsonSchema``, Anthropic a forced tool, Ollama ``format``,
local models constrained decoding). An answer that does not parse or validate raises
:class:`~hearth.errors.OutputValidationError` with the raw text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from hearth.errors import InvalidRequestError, OutputValidationError
from hearth.messages import JsonObject, JsonValue
from hearth.request import OutputFormat

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from hearth.events import StopReason

OutputSpec: TypeAlias = OutputFormat | JsonObject | Literal["json"] | type[Any]
"""What ``response_format=`` accepts: see the module docstring."""

_HINTS = {
    "max_tokens": "; the answer was cut off at max_tokens, raise max_tokens",
    "content_filter": "; the provider stopped or refused the answer (content_filter)",
}
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class StructuredOutput:
    """An output format and how to read an answer back: with a pydantic ``adapter`` when the
    caller gave a Python type, else with the format's JSON schema."""

    format: OutputFormat
    adapter: TypeAdapter[Any] | None = field(default=None, compare=False)
    check: Callable[[JsonValue], None] | None = field(default=None, compare=False, repr=False)

    def parse(self, text: str, *, stop_reason: StopReason | None = None) -> object:
        """The validated value of the answer ``text``; OutputValidationError when it does not
        parse or validate (``raw`` is ``text``). ``stop_reason`` only improves the message."""
        kind = self.format.kind
        if kind in ("gbnf", "regex"):
            return text
        hint = _HINTS.get(stop_reason or "", "")
        body = _unfence(text)
        if self.adapter is not None:
            return self._parse_typed(body, text, hint)
        try:
            value: JsonValue = json.loads(body)
        except ValueError as exc:
            raise OutputValidationError(
                f"the answer is not valid JSON ({exc}){hint}", raw=text, errors=[str(exc)]
            ) from None
        if kind == "json":
            if not isinstance(value, dict):
                raise OutputValidationError(
                    f"the answer is JSON but not an object (got {type(value).__name__}){hint}",
                    raw=text,
                )
            return value
        if self.check is None:
            return value
        try:
            self.check(value)
        except ValueError as exc:
            raise OutputValidationError(
                f"the answer does not match the {self.format.name!r} schema: {exc}{hint}",
                raw=text,
                errors=[str(exc)],
            ) from None
        return value

    def _parse_typed(self, body: str, raw: str, hint: str) -> object:
        from pydantic import ValidationError

        assert self.adapter is not None
        try:
            return self.adapter.validate_json(body)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(map(str, e['loc'])) or '(answer)'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
            shown = "; ".join(problems[:8])
            raise OutputValidationError(
                f"the answer does not match {self.format.name!r}: {shown}{hint}",
                raw=raw,
                errors=problems,
            ) from None


def structured_output(spec: OutputSpec) -> StructuredOutput:
    """Whatever a caller passes as ``response_format``, as a :class:`StructuredOutput`."""
    if isinstance(spec, OutputFormat):
        # a bad schema fails now, not after the model has answered
        return StructuredOutput(spec, None, _validator(spec))
    if spec == "json":
        return StructuredOutput(OutputFormat("json"))
    if isinstance(spec, dict):
        fmt = OutputFormat("json_schema", schema=spec, name=_schema_name(spec))
        return StructuredOutput(fmt, None, _validator(fmt))
    if isinstance(spec, type) or _is_generic_alias(spec):
        return _from_type(spec)
    raise InvalidRequestError(
        f"response_format must be a pydantic model class (or another type pydantic can "
        f"validate), a JSON schema dict, 'json' or a hearth.OutputFormat; got {spec!r}"
    )


def output_format(spec: OutputSpec) -> OutputFormat:
    """The :class:`~hearth.request.OutputFormat` for ``spec`` (what a ChatRequest carries)."""
    return structured_output(spec).format


def parse_output(text: str, spec: OutputSpec) -> object:
    """Parse and validate ``text`` against ``spec``; raises OutputValidationError."""
    return structured_output(spec).parse(text)


def _from_type(tp: type[Any]) -> StructuredOutput:
    from pydantic import BaseModel, TypeAdapter
    from pydantic.errors import PydanticUserError

    from hearth._schema import clean_schema

    try:
        adapter: TypeAdapter[Any] = TypeAdapter(tp)
        schema = clean_schema(adapter.json_schema())
    except PydanticUserError as exc:
        raise InvalidRequestError(
            f"response_format {tp!r} cannot be described as a JSON schema: {exc}"
        ) from None
    label = getattr(tp, "__name__", "") or "output"
    description = schema.get("description")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        label = tp.__name__
    fmt = OutputFormat(
        "json_schema",
        schema=schema,
        name=_safe_name(label),
        description=description if isinstance(description, str) else "",
    )
    return StructuredOutput(fmt, adapter)


def _schema_name(schema: JsonObject) -> str:
    title = schema.get("title")
    return _safe_name(title) if isinstance(title, str) and title else "output"


def _safe_name(label: str) -> str:
    """A name every wire format accepts: letters, digits, '_' and '-', at most 64."""
    return _NAME_CHARS.sub("_", label)[:64] or "output"


def _unfence(text: str) -> str:
    """The JSON inside a Markdown code fence, which some models wrap answers in."""
    match = _FENCE.match(text)
    return match.group(1) if match else text


def _is_generic_alias(spec: object) -> bool:
    import typing

    return typing.get_origin(spec) is not None


def _validator(fmt: OutputFormat) -> Callable[[JsonValue], None] | None:
    """The jsonschema check of a json_schema format (None for the other kinds)."""
    if fmt.kind != "json_schema" or fmt.schema is None:
        return None
    from hearth._schema import json_validator

    return json_validator(fmt.schema, what=f"response_format {fmt.name!r}")
