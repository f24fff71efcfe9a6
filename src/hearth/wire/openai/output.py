"""Structured output on OpenAI's APIs: ``response_format`` ``{"type": "json_schema",
"json_schema": {name, schema, strict}}`` (``strict: true`` only when the schema meets strict
mode's rules: see :func:`strict_compatible`) or ``{"type": "json_object"}``."""

from __future__ import annotations

from hearth.messages import JsonObject, JsonValue
from hearth.request import OutputFormat
from hearth.wire._output import refuse_grammar

# Keywords OpenAI's strict mode rejects; a schema using one is sent with strict: false.
_NOT_STRICT = frozenset(
    {"allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
     "patternProperties", "unevaluatedProperties", "propertyNames"}
)  # fmt: skip
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")


def openai_response_format(fmt: OutputFormat) -> JsonObject:
    """Chat Completions' ``response_format`` for ``fmt``."""
    refuse_grammar(fmt, "an OpenAI-compatible API")
    if fmt.kind == "json" or fmt.schema is None:
        return {"type": "json_object"}
    spec: JsonObject = {"name": fmt.name}
    if fmt.description:
        spec["description"] = fmt.description
    spec["schema"] = fmt.schema
    spec["strict"] = strict_compatible(fmt.schema)
    return {"type": "json_schema", "json_schema": spec}


def strict_compatible(schema: JsonObject) -> bool:
    """Whether OpenAI's strict mode takes ``schema`` as it is: an object at the root, every
    object closed (``additionalProperties: false``) with all its properties required, and
    none of the keywords strict mode rejects. Hearth never rewrites a caller's schema to fit:
    one that does not qualify goes out with ``strict: false`` (the model is then guided, not
    bound, and hearth's own validation of the answer still applies)."""
    return schema.get("type") == "object" and _strict(schema)


def _strict(node: JsonValue) -> bool:
    if isinstance(node, list):
        return all(_strict(n) for n in node)
    if not isinstance(node, dict):
        return True
    if _NOT_STRICT.intersection(node):
        return False
    if "properties" in node or node.get("type") == "object":
        props = node.get("properties", {})
        required = node.get("required", [])
        if not isinstance(props, dict) or not isinstance(required, list):
            return False
        if node.get("additionalProperties") is not False or set(required) != set(props):
            return False
    children: list[JsonValue] = [node.get(k) for k in _SUBSCHEMA_LISTS if k in node]
    for key in _SUBSCHEMA_MAPS:
        sub = node.get(key)
        if isinstance(sub, dict):
            children.extend(sub.values())
    if "items" in node:
        children.append(node["items"])
    return all(_strict(c) for c in children)
