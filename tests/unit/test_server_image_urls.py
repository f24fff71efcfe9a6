"""``hearth serve --image-url-allow HOST``: image URLs on an allowed host are fetched (from a
loopback server here) and reach the model as inline images, in OpenAI's, the Responses API's and
Anthropic's shapes; any other URL, a redirect, a non-image and a failed fetch are 400s; without
an allow-list, image URLs are refused as before."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient
from tests.support.loopback import LoopbackServer, Received, Reply

from hearth.backends.base import Capabilities
from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.events import Done, TextDelta, Usage
from hearth.messages import ImagePart
from hearth.server import ServerSettings, create_app
from hearth.server.image_urls import remote_images

HELLO: Script = [TextDelta("Hello"), Done("end_turn", Usage(3, 1))]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


PNG = png()


def images() -> LoopbackServer:
    """A loopback server with an image, a redirect and a web page."""

    def handle(request: Received) -> Reply:
        if request.path == "/cat.png":
            return Reply(200, PNG, (("content-type", "image/png"),))
        if request.path == "/moved.png":
            return Reply(302, b"", (("location", "http://elsewhere.example/cat.png"),))
        if request.path == "/page.html":
            return Reply(200, b"<html></html>", (("content-type", "text/html"),))
        return Reply(404, b"")

    return LoopbackServer(handle)


def client(allow: tuple[str, ...]) -> tuple[TestClient, FakeBackend]:
    fake = FakeBackend([HELLO] * 4, capabilities=Capabilities(vision=True))
    app = create_app(
        ServerSettings(models=("fake",), image_url_allow=allow),
        config=Config(path=Path("/dev/null")),
        backends={"fake": fake},
    )
    return TestClient(app), fake


def openai(url: str) -> dict[str, object]:
    content = [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": url}}]
    return {"model": "fake", "messages": [{"role": "user", "content": content}]}


def sent_images(fake: FakeBackend) -> list[ImagePart]:
    return [p for m in fake.requests[-1].messages for p in m.parts if isinstance(p, ImagePart)]


def test_the_image_urls_of_each_shape_are_found() -> None:
    body = {
        "messages": [
            {"content": [{"type": "image_url", "image_url": {"url": "https://a/1.png"}}]},
            {"content": [{"type": "image", "source": {"type": "url", "url": "http://b/2.png"}}]},
            {"content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,"}}]},
        ],
        "input": [{"content": [{"type": "input_image", "image_url": "https://c/3.png"}]}],
    }
    assert [url for _, _, url in remote_images(body)] == [  # type: ignore[arg-type]
        "https://a/1.png", "http://b/2.png", "https://c/3.png",
    ]  # fmt: skip


def test_an_allowed_url_is_fetched_and_inlined_in_each_format() -> None:
    with images() as server:
        http, fake = client(("127.0.0.1",))
        r = http.post("/v1/chat/completions", json=openai(f"{server.url}/cat.png"))
        assert r.status_code == 200, r.text
        assert sent_images(fake) == [ImagePart(PNG, "image/png")]

        source = {"type": "url", "url": f"{server.url}/cat.png"}
        block = [{"type": "image", "source": source}, {"type": "text", "text": "hi"}]
        body = {"model": "fake", "max_tokens": 8, "messages": [{"role": "user", "content": block}]}
        r = http.post("/v1/messages", json=body)
        assert r.status_code == 200, r.text
        assert sent_images(fake) == [ImagePart(PNG, "image/png")]

        part = {"type": "input_image", "image_url": f"{server.url}/cat.png"}
        body = {"model": "fake", "input": [{"role": "user", "content": [part]}]}
        r = http.post("/v1/responses", json=body)
        assert r.status_code == 200, r.text
        assert [p.data for p in sent_images(fake)] == [PNG]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/moved.png", "HTTP 302"),
        ("/page.html", "text/html, not an image"),
        ("/missing.png", "HTTP 404"),
    ],
)
def test_a_fetch_that_does_not_give_an_image_is_a_400(path: str, message: str) -> None:
    with images() as server:
        http, fake = client(("127.0.0.1",))
        r = http.post("/v1/chat/completions", json=openai(f"{server.url}{path}"))
        assert r.status_code == 400 and message in r.json()["error"]["message"]
        assert fake.requests == []


def test_a_url_on_another_host_is_a_400_naming_the_allowed_ones() -> None:
    http, fake = client(("images.example.com",))
    r = http.post("/v1/chat/completions", json=openai("https://evil.example/x.png"))
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "only from images.example.com (--image-url-allow)" in message
    assert fake.requests == []


def test_without_an_allow_list_image_urls_are_refused() -> None:
    http, fake = client(())
    r = http.post("/v1/chat/completions", json=openai("https://images.example.com/x.png"))
    assert r.status_code == 400 and "does not fetch image URLs" in r.json()["error"]["message"]
    assert fake.requests == []
