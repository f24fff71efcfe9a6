"""Reading the fields of a JSON object with their types checked: every problem is an
:class:`~hearth.errors.InvalidRequestError` whose message starts with the field's path
(``input[2].content[0].type: …``). Pure.

The inbound translators (OpenAI's, the Responses API's) and the OpenAI-style dict messages of
the Python API (:mod:`hearth.dict_messages`) read their bodies with these."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import JsonObject, JsonValue


def type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", int: "an integer", float: "a number",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)  # fmt: skip


def bad(path: str, expected: str, value: object) -> InvalidRequestError:
    return InvalidRequestError(f"{path}: expected {expected}, got {type_name(value)}")


def _get(
    obj: JsonObject, key: str, path: str, check: Callable[[object], bool], expected: str
) -> JsonValue:
    value = obj.get(key)
    if value is not None and not check(value):
        raise bad(f"{path}{key}", expected, value)
    return value


def string(obj: JsonObject, key: str, path: str = "", *, required: bool = False) -> str | None:
    value = _get(obj, key, path, lambda v: isinstance(v, str), "a string")
    if required and value is None:
        raise InvalidRequestError(f"{path}{key}: required")
    return value if isinstance(value, str) else None


def number(obj: JsonObject, key: str, path: str = "") -> float | None:
    value = _get(
        obj, key, path,
        lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number",
    )  # fmt: skip
    return float(value) if isinstance(value, int | float) else None


def integer(obj: JsonObject, key: str, path: str = "") -> int | None:
    value = _get(
        obj, key, path, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"
    )
    return value if isinstance(value, int) else None


def boolean(obj: JsonObject, key: str, path: str = "") -> bool | None:
    value = _get(obj, key, path, lambda v: isinstance(v, bool), "a boolean")
    return value if isinstance(value, bool) else None


def obj(body: JsonObject, key: str, path: str = "") -> JsonObject | None:
    value = _get(body, key, path, lambda v: isinstance(v, dict), "an object")
    return value if isinstance(value, dict) else None


def array(body: JsonObject, key: str, path: str = "") -> list[JsonValue] | None:
    value = _get(body, key, path, lambda v: isinstance(v, list), "an array")
    return value if isinstance(value, list) else None


def objects(items: list[JsonValue], path: str) -> list[JsonObject]:
    """``items`` when every one is an object; else the first that is not, named."""
    out: list[JsonObject] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad(f"{path}[{i}]", "an object", item)
        out.append(item)
    return out


def content_parts(content: JsonValue, path: str) -> Iterator[tuple[str, str, JsonObject]]:
    """The parts of a message's ``content`` array, one at a time: each with its own path
    (``messages[0].content[2].``) and its ``type``, which it must have. ``path`` is the
    message's; content that is not an array is refused (a string is the caller's to take)."""
    if not isinstance(content, list):
        raise bad(f"{path}content", "a string or an array of content parts", content)
    for j, part in enumerate(objects(content, f"{path}content")):
        where = f"{path}content[{j}]."
        yield where, string(part, "type", where, required=True) or "", part


_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?:;[^,;]*)*;base64,(?P<data>.*)$", re.S)


def data_url(url: str, path: str) -> tuple[str, bytes]:
    """An image given inline as a ``data:TYPE;base64,…`` URL: its declared media type and its
    bytes. A remote URL is refused (hearth fetches none); ``path`` names the field."""
    if url.startswith(("http://", "https://")):
        raise UnsupportedFeatureError(
            f"{path}: hearth does not fetch image URLs; send the image inline as a data: URL "
            "(data:image/png;base64,…)"
        )
    found = _DATA_URL.match(url)
    if not found:
        raise InvalidRequestError(f"{path}: expected a data:image/…;base64,… URL")
    try:
        return found["type"], base64.b64decode(found["data"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{path}: the base64 data is malformed") from None
