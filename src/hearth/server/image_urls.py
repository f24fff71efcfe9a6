"""``hearth serve --image-url-allow HOST``: image URLs the server fetches for a request.

By default every format takes images inline only, and an ``http(s)`` image URL is a 400 (the
wire modules refuse it: the server fetches nothing on a client's behalf). With an allow-list,
an image URL whose host is on it is fetched here, before the body is parsed, and put back into
the body as the inline image the format knows (a ``data:`` URL for OpenAI's ``image_url`` and
the Responses API's ``input_image``, a ``base64`` source for Anthropic's ``image`` block), so
the wire modules stay pure. What a fetch may do is bounded: ``http``/``https`` only, the host
exactly as listed (no redirects: a redirect is a 400, so it cannot lead elsewhere), at most
:data:`MAX_IMAGE_BYTES` of an ``image/*`` response, :data:`FETCH_TIMEOUT` seconds,
:data:`MAX_URLS` URLs a request. A URL on another host is a 400 that names the allowed hosts.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

import httpx

from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, JsonValue

MAX_IMAGE_BYTES = 20 * 1024 * 1024
FETCH_TIMEOUT = 10.0
MAX_URLS = 16

_Found = tuple[JsonObject, str, str]
"""Where an image URL sits: the object holding it, how to put the image back (the key whose
URL becomes a ``data:`` URL, or :data:`_SOURCE`), the URL."""
_SOURCE = "source object"
"""Put back as a ``{"type": "base64", …}`` source object, in place of the ``{"type": "url"}``
one (the shape of an ``image`` block's ``source``)."""


def remote_images(body: JsonValue) -> Iterator[_Found]:
    """The ``http(s)`` image URLs of a request body: OpenAI ``image_url.url``, Responses
    ``input_image.image_url`` and Anthropic ``source: {"type": "url"}``."""
    if isinstance(body, list):
        for item in body:
            yield from remote_images(item)
        return
    if not isinstance(body, dict):
        return
    kind = body.get("type")
    inner = body.get("image_url")
    if kind == "image_url" and isinstance(inner, dict) and _remote(inner.get("url")):
        yield inner, "url", str(inner["url"])
    elif kind == "input_image" and _remote(inner):
        yield body, "image_url", str(inner)
    source = body.get("source")
    if kind == "image" and isinstance(source, dict) and source.get("type") == "url":
        url = source.get("url")
        yield from [(source, _SOURCE, str(url))] if _remote(url) else []
    for value in body.values():
        if isinstance(value, dict | list):
            yield from remote_images(value)


def _remote(url: object) -> bool:
    return isinstance(url, str) and url.startswith(("http://", "https://"))


async def inline_image_urls(body: JsonObject, allow: Sequence[str]) -> None:
    """Fetch the allowed image URLs of ``body`` and put the images in their place; a URL on
    another host, or a fetch that fails, is an :class:`InvalidRequestError`."""
    found = list(remote_images(body))
    if not found:
        return
    if len(found) > MAX_URLS:
        raise InvalidRequestError(
            f"the request names {len(found)} image URLs; the server fetches at most {MAX_URLS}"
        )
    allowed = {host.lower() for host in allow}
    for _, _, url in found:
        host = (urlsplit(url).hostname or "").lower()
        if host not in allowed:
            raise InvalidRequestError(
                f"image URL {url}: the server fetches images only from "
                f"{', '.join(sorted(allowed))} (--image-url-allow); send the image inline as a "
                "data: URL (data:image/png;base64,…)"
            )
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False) as client:
        for holder, how, url in found:
            media_type, data = await _fetch(client, url)
            _put(holder, how, media_type, data)


async def _fetch(client: httpx.AsyncClient, url: str) -> tuple[str, bytes]:
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                status = response.status_code
                raise InvalidRequestError(f"image URL {url}: the fetch got HTTP {status}")
            media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if not media_type.startswith("image/"):
                raise InvalidRequestError(
                    f"image URL {url}: the response is {media_type or 'untyped'}, not an image"
                )
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_IMAGE_BYTES:
                    raise InvalidRequestError(
                        f"image URL {url}: the image is larger than {MAX_IMAGE_BYTES} bytes"
                    )
    except httpx.HTTPError as exc:
        raise InvalidRequestError(f"image URL {url}: the fetch failed ({exc})") from None
    return media_type, bytes(data)


def _put(holder: JsonObject, how: str, media_type: str, data: bytes) -> None:
    encoded = base64.b64encode(data).decode("ascii")
    if how == _SOURCE:
        holder.clear()
        holder.update({"type": "base64", "media_type": media_type, "data": encoded})
    else:
        holder[how] = f"data:{media_type};base64,{encoded}"
