"""Message content of the Responses API: ``input_text`` / ``input_image`` parts in, and images
out. Images travel inline as ``data:`` URLs; their bytes must be a PNG, JPEG, GIF or WebP
image (what OpenAI accepts), checked by their magic numbers. Pure."""

from __future__ import annotations

import base64

from hearth import json_fields as checks
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import ImagePart, JsonObject, JsonValue, Part, TextPart

DETAIL_META = "responses_detail"
"""ImagePart meta key: the ``detail`` an image came with, when not ``auto``."""

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_DETAILS = ("auto", "low", "high", "original")


def sniff_image_type(data: bytes) -> str | None:
    """The media type of PNG, JPEG, GIF or WebP bytes, from their magic numbers; else None."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def user_content(item: JsonObject, path: str) -> tuple[Part, ...]:
    """A user message's ``content``: a string, or ``input_text`` / ``input_image`` parts."""
    content = item.get("content")
    if isinstance(content, str):
        return (TextPart(content),)
    parts: list[Part] = []
    for where, kind, part in checks.content_parts(content, path):
        if kind == "input_text":
            parts.append(TextPart(checks.string(part, "text", where, required=True) or ""))
        elif kind == "input_image":
            parts.append(image_from_wire(part, where))
        elif kind in ("input_file", "input_audio"):
            raise UnsupportedFeatureError(
                f"{where}type: {kind} content is not supported; send text and inline images"
            )
        else:
            raise InvalidRequestError(
                f"{where}type: unknown content part type {kind!r}; a user message takes "
                "input_text and input_image"
            )
    return tuple(parts)


def text_content(item: JsonObject, path: str, kinds: tuple[str, ...]) -> str:
    """The text of a ``content`` string or array of text parts of the given ``kinds``."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for where, kind, part in checks.content_parts(content, path):
        if kind not in kinds:
            raise InvalidRequestError(
                f"{where}type: {kind!r} content is not allowed here; use {' or '.join(kinds)}"
            )
        key = "refusal" if kind == "refusal" else "text"
        texts.append(checks.string(part, key, where, required=True) or "")
    return "".join(texts)


def image_from_wire(part: JsonObject, where: str) -> ImagePart:
    """An ``input_image`` part: a ``data:`` URL whose bytes are an image."""
    if checks.string(part, "file_id", where):
        raise UnsupportedFeatureError(
            f"{where}file_id: hearth has no Files API; send the image inline as a data: URL "
            "(data:image/png;base64,…)"
        )
    url = checks.string(part, "image_url", where, required=True) or ""
    _, data = checks.data_url(url, f"{where}image_url")
    media_type = sniff_image_type(data)
    if media_type is None:
        raise InvalidRequestError(
            f"{where}image_url: the data is not an image (hearth takes PNG, JPEG, GIF and WebP)"
        )
    detail = checks.string(part, "detail", where)
    if detail is not None and detail not in _DETAILS:
        raise InvalidRequestError(
            f"{where}detail: expected one of {', '.join(_DETAILS)}, got {detail!r}"
        )
    meta = {DETAIL_META: detail} if detail not in (None, "auto") else None
    return ImagePart(data, media_type, meta=meta)


def image_to_wire(part: ImagePart) -> JsonObject:
    detail = (part.meta or {}).get(DETAIL_META)
    encoded = base64.b64encode(part.data).decode("ascii")
    return {
        "type": "input_image",
        "image_url": f"data:{part.media_type};base64,{encoded}",
        "detail": detail if isinstance(detail, str) else "auto",
    }


def user_content_to_wire(parts: list[Part]) -> JsonValue:
    """A user message's ``content``: the text alone, or a list of parts."""
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    out: list[JsonValue] = []
    for part in parts:
        if isinstance(part, TextPart):
            out.append({"type": "input_text", "text": part.text})
        elif isinstance(part, ImagePart):
            out.append(image_to_wire(part))
    return out
