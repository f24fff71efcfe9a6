"""What every remote call shares, chat or embeddings: the URL (the model quoted into the
format's path), the headers (content type, the format's own headers, the key in the format's
auth header) and the JSON body, with the caller's ``extra_body`` merged in. No I/O."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from hearth.backends.endpoints import ResolvedEndpoint
from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, JsonValue
from hearth.wire.base import ChatCodec, HttpFacts


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP POST to make. ``codec``: the codec that reads its answer (chat or raw)."""

    url: str
    params: tuple[tuple[str, str], ...]
    headers: Mapping[str, str] = field(repr=False)  # holds the key
    body: bytes = field(repr=False)
    codec: ChatCodec | None = field(default=None, repr=False)


def url_for(resolved: ResolvedEndpoint, path: str, model: str) -> str:
    """The base URL and ``path``, with ``{model}`` replaced by the URL-quoted model name."""
    quoted = urllib.parse.quote(model.removeprefix("models/"), safe="-._~")
    return resolved.base_url + path.replace("{model}", quoted)


def headers_for(http: HttpFacts, resolved: ResolvedEndpoint, accept: str) -> dict[str, str]:
    """JSON in, ``accept`` out, the format's own headers, and the key where it has one."""
    headers = {"content-type": "application/json", "accept": accept}
    headers.update(http.headers)
    if resolved.api_key is not None:
        headers[http.auth_header] = http.auth_prefix + resolved.api_key.reveal()
    return headers


def json_body(body: JsonObject) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def merge_extra(body: JsonObject, extra: Mapping[str, JsonValue], path: str = "extra_body") -> None:
    """Lay ``extra`` (a request's ``extra_body``) into ``body``, the codec's request body, in
    place. Objects merge key by key, so ``{"options": {"num_ctx": 8192}}`` adds to the
    ``options`` hearth wrote; a field hearth itself set (any value that is not an object on
    both sides) is refused with InvalidRequestError naming its path, since sending the caller's
    value would silently overrule the setting or argument that made it."""
    for key, value in extra.items():
        where = f"{path}.{key}"
        if key not in body:
            body[key] = value
            continue
        mine = body[key]
        if isinstance(mine, dict) and isinstance(value, Mapping):
            body[key] = merged = dict(mine)  # a copy: the codec may share it with the request
            merge_extra(merged, value, where)
            continue
        raise InvalidRequestError(
            f"{where}: hearth sets this field itself (from the request's messages, settings, "
            "tools or output format); use hearth's own argument for it, and extra_body only for "
            "fields hearth does not send"
        )
