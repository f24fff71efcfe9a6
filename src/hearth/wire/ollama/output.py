"""Structured output on Ollama: ``format``, the schema or ``"json"``."""

from __future__ import annotations

from hearth.messages import JsonValue
from hearth.request import OutputFormat
from hearth.wire._output import refuse_grammar


def ollama_format(fmt: OutputFormat) -> JsonValue:
    """Ollama's ``format``: the JSON schema, or ``"json"`` for any JSON."""
    refuse_grammar(fmt, "Ollama")
    if fmt.kind == "json_schema" and fmt.schema is not None:
        return fmt.schema
    return "json"
