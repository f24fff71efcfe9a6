"""What every remote call shares, chat or embeddings: the URL (the model quoted into the
format's path), the headers (content type, the format's own headers, the key in the format's
auth header) and the JSON body. No I/O."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from hearth.backends.endpoints import ResolvedEndpoint
from hearth.messages import JsonObject
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
