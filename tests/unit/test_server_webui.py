"""The chat page's server side: the page and its files (same origin, no CDN, a strict CSP) and
the JSON API it uses for models and conversations, with FakeBackend behind it."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hearth._secret import Secret
from hearth.backends.base import Capabilities
from hearth.backends.testing import FakeBackend
from hearth.config.schema import Config
from hearth.server import ServerSettings, create_app
from hearth.store import ConversationStore

STATIC = Path(__file__).parents[2] / "src" / "hearth" / "server" / "webui" / "static"
USER = {"role": "user", "parts": [{"kind": "text", "text": "What is  the capital\nof France?"}]}
ANSWER = {
    "role": "assistant",
    "parts": [
        {"kind": "thinking", "text": "An easy one."},
        {"kind": "text", "text": "**Paris**"},
        {"kind": "tool_call", "id": "c1", "name": "look_up", "arguments": '{"q": "France"}'},
    ],
}


def client(tmp_path: Path, *, vision: bool = False, **settings: object) -> TestClient:
    fake = FakeBackend([], capabilities=Capabilities(vision=vision, tools=True))
    app = create_app(
        ServerSettings(models=("fake:one",), store_path=tmp_path / "c.db", **settings),  # type: ignore[arg-type]
        config=Config(path=Path("/dev/null")),
        backends={"fake:one": fake},
    )
    return TestClient(app, headers={"accept": BROWSER_ACCEPT})


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.inline_handlers += [name for name, _ in attrs if name.startswith("on")]
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(str(values[name]))
        if tag == "script":
            self._in_script = "src" not in values

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


# --- the page ----------------------------------------------------------------------------------


def test_the_page_is_served_at_the_root_with_a_strict_csp(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        r = c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe" not in csp and "http" not in csp  # no inline code, no other host
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<title>hearth</title>" in r.text


def test_every_asset_of_the_page_comes_from_hearth_and_none_is_inline(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        page = _Assets()
        page.feed(c.get("/").text)
        assert page.inline_scripts == 0 and page.inline_handlers == []
        assert page.urls, "the page links its scripts and styles"
        for url in page.urls:
            assert url.startswith("/ui/static/"), url
            r = c.get(url)
            assert r.status_code == 200, url
            assert "content-security-policy" in r.headers
        modules = [c.get(f"/ui/static/{name}").text for name in ("app.js", "api.js", "render.js")]
    imports = [m for text in modules for m in re.findall(r'from "([^"]+)"', text)]
    assert imports and all(i.startswith("./") for i in imports)  # nothing from elsewhere


def test_the_vendored_libraries_and_their_licences_ship_in_the_package() -> None:
    vendor = STATIC / "vendor"
    licences = (vendor / "THIRD_PARTY_LICENSES.txt").read_text()
    for name in ("markdown-it 15.0.3 (MIT)", "highlight.js 11.12.0 (BSD-3-Clause)", "entities"):
        assert name in licences
    assert (vendor / "markdown-it.umd.min.js").stat().st_size > 50_000
    assert (vendor / "highlight.min.js").read_text().startswith("/*!\n  Highlight.js v11.12.0")


def test_the_vendored_files_are_those_the_vendor_readme_names() -> None:
    vendor = STATIC / "vendor"
    readme = (vendor / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", readme, re.M)
    assert len(rows) == 4
    for name, digest in rows:
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name


def test_markdown_is_rendered_with_raw_html_off() -> None:
    """The page's renderer passes html: false to markdown-it, so tags in model output are text."""
    render = (STATIC / "render.js").read_text()
    assert re.search(r"window\.markdownit\(\{\s*html: false,", render)
    assert "innerHTML" not in (STATIC / "app.js").read_text()


def test_a_missing_static_file_is_a_404(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        assert c.get("/ui/static/nope.js").status_code == 404
        assert c.get("/ui/static/../webui/page.py").status_code == 404


def test_the_page_can_be_left_out(tmp_path: Path) -> None:
    with client(tmp_path, web_ui=False) as c:
        root = c.get("/")  # Ollama's liveness answer: no page
        assert root.text == "Ollama is running" and "html" not in root.headers["content-type"]
        assert c.get("/ui/api/conversations").status_code == 404
        assert c.get("/ui/static/app.js").status_code == 404
    assert not (tmp_path / "c.db").exists()


# --- models ------------------------------------------------------------------------------------


@pytest.mark.parametrize("vision", [True, False])
def test_the_page_learns_whether_a_model_takes_images(tmp_path: Path, vision: bool) -> None:
    with client(tmp_path, vision=vision) as c:
        r = c.get("/ui/api/models")
    assert r.status_code == 200
    assert r.json() == {
        "data": [{
            "id": "fake:one", "status": "ready", "chat": True, "vision": vision, "tools": True,
            "thinking": False, "context_length": None,
        }]
    }  # fmt: skip


# --- conversations -----------------------------------------------------------------------------


def test_a_conversation_is_saved_listed_loaded_continued_and_deleted(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        assert c.get("/ui/api/conversations").json() == {"data": []}
        r = c.post(
            "/ui/api/conversations",
            json={"model": "fake:one", "system": "Be brief.", "messages": [USER, ANSWER],
                  "stop_reason": "end_turn"},
        )  # fmt: skip
        assert r.status_code == 201
        cid = r.json()["id"]
        listed = c.get("/ui/api/conversations").json()["data"]
        assert [(x["id"], x["title"], x["model"], x["turns"]) for x in listed] == [
            (cid, "What is the capital of France?", "fake:one", 1)
        ]
        more = {"role": "user", "parts": [{"kind": "text", "text": "And Spain?"}]}
        stopped = {"role": "assistant", "parts": [{"kind": "text", "text": "Mad"}]}
        r = c.post(
            f"/ui/api/conversations/{cid}/turns",
            json={"messages": [more, stopped], "stop_reason": "cancelled"},
        )
        assert r.json() == {"id": cid, "turn": 1}
        loaded = c.get(f"/ui/api/conversations/{cid}").json()
        assert loaded["system"] == "Be brief."
        assert loaded["messages"] == [USER, ANSWER, more, stopped]
        assert loaded["stop_reasons"] == ["end_turn", "cancelled"]
        assert c.delete(f"/ui/api/conversations/{cid}").status_code == 204
        assert c.get(f"/ui/api/conversations/{cid}").status_code == 404
    with ConversationStore(tmp_path / "c.db") as store:  # the path from the settings
        assert store.list() == []


def test_conversations_from_the_cli_are_listed_too(tmp_path: Path) -> None:
    from hearth.messages import Message

    with ConversationStore(tmp_path / "c.db") as store:
        cid = store.start([Message.user("hi"), Message.assistant("hello")], title="from chat")
    with client(tmp_path) as c:
        listed = c.get("/ui/api/conversations").json()["data"]
        loaded = c.get(f"/ui/api/conversations/{cid}").json()
    assert [x["title"] for x in listed] == ["from chat"]
    assert [m["parts"][0]["text"] for m in loaded["messages"]] == ["hi", "hello"]


def test_an_image_round_trips(tmp_path: Path) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n-not-really").decode()
    image = {"kind": "image", "media_type": "image/png", "data": png}
    user = {"role": "user", "parts": [{"kind": "text", "text": "What is this?"}, image]}
    with client(tmp_path, vision=True) as c:
        cid = c.post("/ui/api/conversations", json={"messages": [user]}).json()["id"]
        assert c.get(f"/ui/api/conversations/{cid}").json()["messages"] == [user]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "messages: required, a non-empty array of messages"),
        ({"messages": []}, "messages: required"),
        ({"messages": [{"role": "system", "parts": [{"kind": "text", "text": "x"}]}]},
         "messages[0].role: the system prompt is the conversation's 'system' field"),
        ({"messages": [{"role": "user", "parts": [{"kind": "video"}]}]}, "unknown part kind"),
        ({"messages": [USER], "stop_reason": "tired"}, "stop_reason: expected one of end_turn"),
        ({"messages": [USER], "model": 3}, "model: expected a string or null"),
    ],
)  # fmt: skip
def test_a_bad_body_is_a_400_that_says_what_is_wrong(
    tmp_path: Path, body: dict[str, object], message: str
) -> None:
    with client(tmp_path) as c:
        r = c.post("/ui/api/conversations", json=body)
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]


def test_unknown_and_prefix_ids_are_404s_never_a_guess(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        cid = c.post("/ui/api/conversations", json={"messages": [USER]}).json()["id"]
        for ref in ("nope", cid[:4]):
            assert c.get(f"/ui/api/conversations/{ref}").status_code == 404
            assert c.delete(f"/ui/api/conversations/{ref}").status_code == 404
            turn = c.post(f"/ui/api/conversations/{ref}/turns", json={"messages": [USER]})
            assert turn.status_code == 404
        assert len(c.get("/ui/api/conversations").json()["data"]) == 1


def test_a_body_over_the_limit_is_a_413(tmp_path: Path) -> None:
    big = {"messages": [{"role": "user", "parts": [{"kind": "text", "text": "x" * 5000}]}]}
    with client(tmp_path, max_body=4096) as c:
        assert c.post("/ui/api/conversations", json=big).status_code == 413


def test_the_store_is_opened_only_when_the_page_uses_it(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        c.get("/")
        c.get("/v1/models")
        assert not (tmp_path / "c.db").exists()
        c.get("/ui/api/conversations")
        assert (tmp_path / "c.db").exists()


def test_a_store_that_cannot_be_opened_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "c.db").mkdir()  # a directory where the database should be
    with client(tmp_path) as c:
        r = c.get("/ui/api/conversations")
    assert r.status_code == 500
    assert f"the conversation store {tmp_path / 'c.db'} cannot be opened" in r.json()["error"][
        "message"
    ]


# --- the key -----------------------------------------------------------------------------------


def test_with_a_key_the_api_needs_it_but_the_page_does_not(tmp_path: Path) -> None:
    paths = ("/ui/api/models", "/ui/api/conversations")
    with client(tmp_path, api_key=Secret("sesame")) as c:
        assert c.get("/").status_code == 200
        assert c.get("/ui/static/app.js").status_code == 200
        for path in paths:
            r = c.get(path)
            assert r.status_code == 401 and "API key" in r.json()["error"]["message"]
        assert c.post("/ui/api/conversations", json={"messages": [USER]}).status_code == 401
        assert not (tmp_path / "c.db").exists()  # nothing read or written without the key
        for path in paths:
            assert c.get(path, headers={"Authorization": "Bearer sesame"}).status_code == 200


def test_the_root_is_the_page_for_a_browser_and_ollamas_liveness_for_its_clients(
    tmp_path: Path,
) -> None:
    with client(tmp_path) as c:
        page = c.get("/")
        ollama = c.get("/", headers={"accept": "*/*"})
    assert page.headers["content-type"].startswith("text/html")
    assert ollama.text == "Ollama is running"
