"""The chat page in headless Chromium against a live loopback server with scripted models:
Markdown without raw HTML, highlighted code, folded thinking and tool calls, images for vision
models only, the API key dialog, errors, and no CSP violation. (The real model's streaming,
stop and reload are in tests/integration/test_webui_browser.py.)"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
from tests.support.browser import chromium, screenshot_path
from tests.support.served import served

from hearth._secret import Secret
from hearth.backends.base import BackendBase, Capabilities
from hearth.errors import InvalidRequestError
from hearth.events import Done, StreamEvent, TextDelta, ThinkingDelta, ToolCallEvent, Usage
from hearth.messages import ImagePart, ToolCallPart
from hearth.request import ChatRequest
from hearth.server import ServerSettings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

HOSTILE = (
    "Look: <script>window.pwned = 1</script> <img src=x onerror=\"window.pwned = 2\"> "
    "and [a link](javascript:window.pwned=3).\n\n```python\ndef hello():\n    return 42\n```\n"
)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class ByPrompt(BackendBase):
    """Answers by the last user text: a few scripted replies, paced so they stream."""

    def __init__(self, name: str, *, vision: bool = False) -> None:
        self._name = name
        self._vision = vision
        self.requests: list[ChatRequest] = []

    @property
    def name(self) -> str:
        return self._name

    def capabilities(self) -> Capabilities:
        return Capabilities(vision=self._vision, tools=True, thinking=True)

    def _script(self, prompt: str) -> Sequence[StreamEvent | Exception]:
        if "hostile" in prompt:
            return [TextDelta(HOSTILE[i : i + 9]) for i in range(0, len(HOSTILE), 9)]
        if "think" in prompt:
            return [
                ThinkingDelta("First I weigh "),
                ThinkingDelta("the options."),
                TextDelta("Let me check the weather."),
                ToolCallEvent(ToolCallPart("call_1", "get_weather", '{"city": "Paris"}')),
            ]
        if "fail" in prompt:
            return [InvalidRequestError("temperature: the scripted model refuses this")]
        return [TextDelta("Seen "), TextDelta(f"{len(self.requests[-1].messages)} messages.")]

    async def _play(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        for item in self._script(request.messages[-1].text):
            if isinstance(item, Exception):
                raise item
            await anyio.sleep(0.01)
            yield item
        yield Done("end_turn", Usage(3, 3))

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._play(request)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def models() -> dict[str, ByPrompt]:
    return {"fake:text": ByPrompt("fake:text"), "fake:eyes": ByPrompt("fake:eyes", vision=True)}


@pytest.fixture(scope="module")
def url(models: dict[str, ByPrompt], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("webui") / "conversations.db"
    settings = ServerSettings(models=tuple(models), store_path=store)
    with served(settings, backends=models) as base:
        yield base


def _problem(kind: str, text: str) -> bool:
    """A console error other than Chromium's line for an HTTP error answer (a 400 expected)."""
    return kind == "error" and not text.startswith("Failed to load resource")


@pytest.fixture
def page(browser: Browser, url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if _problem(m.type, m.text) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()
    assert problems == []  # no CSP violation, no script error


def ask(page: Page, text: str, *, state: str = "done") -> None:
    page.fill("#prompt", text)
    page.click("#send")
    page.wait_for_selector(f".message.assistant:last-child[data-state={state}]")


def test_model_output_is_markdown_and_never_markup(page: Page) -> None:
    question = 'be hostile <img src=x onerror="window.pwned = 4">'
    ask(page, question)
    answer = page.locator(".message.assistant .markdown")
    assert "<script>window.pwned = 1</script>" in answer.inner_text()
    assert answer.locator("script, img").count() == 0
    assert answer.locator("a").count() == 0  # a javascript: link stays text
    assert answer.locator("pre code .hljs-keyword").first.inner_text() == "def"
    assert page.inner_text(".message.user .body") == question  # the question too is text
    page.wait_for_selector("#conversations li")
    assert page.inner_text("#conversations li .title") == question  # and so is its title
    assert page.locator(".message.user img, #conversations img").count() == 0
    assert page.evaluate("window.pwned") is None


def test_thinking_and_tool_calls_are_folded(page: Page) -> None:
    ask(page, "think first")
    thinking = page.locator(".message.assistant details.thinking")
    call = page.locator(".message.assistant details.tool-call")
    assert thinking.get_attribute("open") is None and call.get_attribute("open") is None
    assert call.locator("summary").inner_text() == "Tool call: get_weather"
    assert not call.locator("pre").is_visible()
    call.locator("summary").click()
    assert '"city": "Paris"' in call.locator("pre").inner_text()
    thinking.locator("summary").click()
    assert thinking.locator(".thinking-text").inner_text() == "First I weigh the options."
    page.screenshot(path=screenshot_path("webui-folded.png"))


def test_images_are_offered_to_vision_models_only(page: Page, models: dict[str, ByPrompt]) -> None:
    page.select_option("#model", "fake:text")
    assert page.locator("#attach").is_disabled()
    page.select_option("#model", "fake:eyes")
    assert page.locator("#attach").is_enabled()
    with page.expect_file_chooser() as chooser:
        page.click("#attach")
    chooser.value.set_files({"name": "dot.png", "mimeType": "image/png", "buffer": PNG})
    page.wait_for_selector("#attachments img")
    ask(page, "what is this")
    parts = models["fake:eyes"].requests[-1].messages[-1].parts
    assert [p for p in parts if isinstance(p, ImagePart)] == [ImagePart(PNG, "image/png")]
    assert page.locator(".message.user img.attached").count() == 1
    assert page.locator("#attachments img").count() == 0


def test_a_failed_answer_shows_the_error_and_gives_the_question_back(page: Page) -> None:
    page.select_option("#model", "fake:text")
    page.fill("#prompt", "please fail")
    page.click("#send")
    page.wait_for_selector("#error:not([hidden])")
    assert "the scripted model refuses this" in page.inner_text("#error")
    assert page.input_value("#prompt") == "please fail"
    assert page.locator(".message").count() == 0


def test_a_new_chat_starts_empty_and_the_old_one_is_in_the_list(page: Page) -> None:
    ask(page, "hello there")
    assert page.inner_text(".message.assistant .markdown") == "Seen 1 messages."
    ask(page, "and again")
    assert page.inner_text(".message.assistant:last-child .markdown") == "Seen 3 messages."
    page.click("#new-chat")
    assert page.locator(".message").count() == 0
    page.wait_for_selector("#conversations li:has-text('hello there')")
    page.click("#conversations li:has-text('hello there') .open")
    page.wait_for_selector(".message.assistant:nth-of-type(4)")
    assert page.locator(".message").count() == 4


def test_the_api_key_is_asked_for_once_and_sent(browser: Browser, tmp_path: Path) -> None:
    model = ByPrompt("fake:text")
    settings = ServerSettings(
        models=("fake:text",), store_path=tmp_path / "c.db", api_key=Secret("sesame")
    )
    with served(settings, backends={"fake:text": model}) as base:
        context = browser.new_context()
        page = context.new_page()
        page.goto(base)
        page.wait_for_selector("#key-dialog[open]")
        page.fill("#key-input", "wrong")
        page.click("#key-ok")
        page.wait_for_selector("#key-message:has-text('That key was refused')")
        page.fill("#key-input", "sesame")
        page.click("#key-ok")
        page.wait_for_selector("body[data-ready=true]")
        ask(page, "hello")
        page.reload()  # the key is kept for the tab: no second question
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("#key-dialog[open]").count() == 0
        assert page.locator("#conversations li").count() == 1
        context.close()
    assert len(model.requests) == 1
