"""Structured output on Gemini: ``generationConfig.responseMimeType: application/json`` +
``responseJsonSchema``."""

from __future__ import annotations

from hearth.messages import JsonObject
from hearth.request import OutputFormat
from hearth.wire._output import refuse_grammar


def gemini_response_config(fmt: OutputFormat) -> JsonObject:
    """The ``generationConfig`` fields for ``fmt``: the JSON MIME type, and the schema as
    ``responseJsonSchema`` (Gemini's JSON Schema field, which takes ``$ref``, ``anyOf`` and
    numeric bounds that the older OpenAPI-subset ``responseSchema`` does not)."""
    refuse_grammar(fmt, "Gemini")
    config: JsonObject = {"responseMimeType": "application/json"}
    if fmt.kind == "json_schema" and fmt.schema is not None:
        config["responseJsonSchema"] = fmt.schema
    return config
