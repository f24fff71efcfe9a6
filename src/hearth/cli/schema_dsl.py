"""``hearth run --schema``: a JSON schema from a file, inline JSON, or llm's concise syntax.

The concise syntax lists fields, separated by commas (or by newlines, when there are any)::

    name, age int, bio: their biography

Each field is ``NAME [TYPE][: DESCRIPTION]``; TYPE is ``str`` (the default), ``int``,
``float`` or ``bool``. Every field is required. It makes one JSON object schema.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject

TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_FIELD = re.compile(r"^(?P<name>[A-Za-z_][\w-]*)(?:\s+(?P<type>\w+))?$")


def load_schema(spec: str) -> JsonObject:
    """The JSON schema ``spec`` names: a file holding JSON or the concise syntax, a JSON
    object, or the concise syntax itself."""
    text = spec
    path = Path(spec)
    if "\n" not in spec and len(spec) < 4096 and path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidRequestError(f"cannot read the schema file {spec}: {exc}") from None
    if text.lstrip().startswith("{"):
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(f"--schema is not valid JSON: {exc}") from None
        if not isinstance(schema, dict):
            raise InvalidRequestError("--schema must be a JSON object")
        return schema
    return concise_schema(text)


def concise_schema(text: str) -> JsonObject:
    """The object schema of the concise syntax ``name, age int, bio: their biography``."""
    parts = text.splitlines() if "\n" in text.strip() else text.split(",")
    properties: JsonObject = {}
    for part in (p.strip() for p in parts):
        if not part:
            continue
        head, colon, description = part.partition(":")
        match = _FIELD.match(head.strip())
        if match is None:
            raise InvalidRequestError(
                f"--schema: cannot read the field {part!r}; write NAME [TYPE][: DESCRIPTION],"
                " e.g. 'name, age int, bio: their biography'"
            )
        kind = match["type"] or "str"
        if kind not in TYPES:
            raise InvalidRequestError(
                f"--schema: unknown type {kind!r} for {match['name']}; use {', '.join(TYPES)}"
            )
        prop: JsonObject = {"type": TYPES[kind]}
        if colon and description.strip():
            prop["description"] = description.strip()
        properties[match["name"]] = prop
    if not properties:
        raise InvalidRequestError("--schema names no fields; e.g. --schema 'name, age int'")
    return {"type": "object", "properties": properties, "required": list(properties)}
