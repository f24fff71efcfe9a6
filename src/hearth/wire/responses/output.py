"""Structured output on the Responses API: ``text.format``, both directions.

``{"type": "json_schema", "name", "schema", "description", "strict"}`` (flat, unlike Chat
Completions' nested ``json_schema``) ↔ ``OutputFormat("json_schema", schema, name=…,
description=…)``; ``{"type": "json_object"}`` ↔ ``OutputFormat("json")``; ``{"type": "text"}``
is no format. Outbound, ``strict`` is true only when the schema meets strict mode's rules
(:func:`hearth.wire.openai.output.strict_compatible`); grammars are refused. Pure."""

from __future__ import annotations

from hearth import json_fields as checks
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import JsonObject
from hearth.request import OutputFormat
from hearth.wire._output import refuse_grammar
from hearth.wire.openai.output import strict_compatible

_VERBOSITY = ("medium",)


def format_to_wire(fmt: OutputFormat) -> JsonObject:
    """``text.format`` for ``fmt``."""
    refuse_grammar(fmt, "the Responses API")
    if fmt.kind == "json" or fmt.schema is None:
        return {"type": "json_object"}
    out: JsonObject = {"type": "json_schema", "name": fmt.name}
    if fmt.description:
        out["description"] = fmt.description
    out["schema"] = fmt.schema
    out["strict"] = strict_compatible(fmt.schema)
    return out


def format_from_wire(body: JsonObject) -> OutputFormat | None:
    """The body's ``text.format`` as an OutputFormat (None for text); ``text.verbosity``
    other than ``medium`` is refused (hearth cannot tune it)."""
    text = checks.obj(body, "text")
    if text is None:
        return None
    verbosity = checks.string(text, "verbosity", "text.")
    if verbosity is not None and verbosity not in _VERBOSITY:
        raise UnsupportedFeatureError(
            f"text.verbosity: hearth cannot tune an answer's verbosity (got {verbosity!r}); "
            "leave it out, or ask for the length you want in the instructions"
        )
    fmt = checks.obj(text, "format", "text.")
    if fmt is None:
        return None
    kind = checks.string(fmt, "type", "text.format.", required=True)
    if kind == "text":
        return None
    if kind == "json_object":
        return OutputFormat("json")
    if kind != "json_schema":
        raise InvalidRequestError(
            f"text.format.type: expected text, json_object or json_schema, got {kind!r}"
        )
    where = "text.format."
    name = checks.string(fmt, "name", where, required=True) or "output"
    schema = checks.obj(fmt, "schema", where)
    if schema is None:
        raise InvalidRequestError(f"{where}schema: required for type json_schema")
    checks.boolean(fmt, "strict", where)
    from hearth._schema import check_schema

    check_schema(schema, what=f"{where}schema")
    return OutputFormat(
        "json_schema",
        schema=schema,
        name=name,
        description=checks.string(fmt, "description", where) or "",
    )
