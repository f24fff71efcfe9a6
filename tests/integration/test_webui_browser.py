"""A person at the chat page: headless Chromium against ``hearth serve`` on loopback with the
real SmolLM2. The page loads, an answer streams in (its text grows while it is written), a long
one is stopped mid-stream (and the server frees the slot), and after a reload the conversation
is in the list and opens again. Screenshots go to tests/output/ for a person to look at."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from tests.support.browser import chromium, screenshot_path
from tests.support.served import served

from hearth.server import ServerSettings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.integration

QUESTION = "What is the capital of France? Answer in one word."
STORY = "Write a very long story about a dragon who learns to bake bread, with many chapters."
LAST_ANSWER = ".message.assistant:last-child"


def _settings(page: Page, **values: str) -> None:
    if page.locator("#settings").is_hidden():
        page.click("#settings-toggle")
    for name, value in values.items():
        page.fill(f"#{name}", value)


def _growth(page: Page, seconds: float, enough: int) -> list[int]:
    """The answer's text length, sampled while it streams, until it is ``enough`` long (or it
    ended, or ``seconds`` passed: the machine may be busy)."""
    lengths: list[int] = []
    deadline = time.monotonic() + seconds
    streaming = page.locator(f"{LAST_ANSWER}[data-state=streaming]")
    while time.monotonic() < deadline and streaming.count():
        length = len(page.inner_text(f"{LAST_ANSWER} .body"))
        if length and (not lengths or length != lengths[-1]):
            lengths.append(length)
        if lengths and lengths[-1] >= enough:
            break
        time.sleep(0.1)
    return lengths


def _active_requests(url: str) -> float:
    metrics = httpx.get(f"{url}/metrics").text
    found = re.search(r"^hearth_active_requests (\S+)$", metrics, re.M)
    assert found is not None
    return float(found.group(1))


def test_a_person_chats_stops_an_answer_and_finds_the_conversation_again(
    tmp_path: Path,
) -> None:
    settings = ServerSettings(
        models=("local:smollm2",),
        timeout=120,
        store_path=tmp_path / "conversations.db",
        backend_options={"n_threads": 2},
    )
    with served(settings) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        assert page.input_value("#model") == "local:smollm2"

        _settings(page, temperature="0", max_tokens="24")
        page.fill("#prompt", QUESTION)
        page.click("#send")
        page.wait_for_selector(f"{LAST_ANSWER}[data-state=done]", timeout=90_000)
        assert "Paris" in page.inner_text(f"{LAST_ANSWER} .markdown")

        _settings(page, temperature="0.7", seed="7", max_tokens="2000")
        page.fill("#prompt", STORY)
        page.click("#send")
        lengths = _growth(page, 120, enough=150)
        assert page.locator(f"{LAST_ANSWER}[data-state=streaming]").count() == 1, lengths
        assert len(lengths) >= 4 and lengths == sorted(lengths), lengths  # it streams
        assert lengths[-1] >= 150, lengths
        page.screenshot(path=screenshot_path("webui-smollm2-streaming.png"))
        page.click("#stop")
        page.wait_for_selector(f"{LAST_ANSWER}[data-state=stopped]", timeout=10_000)
        stopped = page.inner_text(f"{LAST_ANSWER} .markdown")
        time.sleep(1.0)
        assert page.inner_text(f"{LAST_ANSWER} .markdown") == stopped  # nothing more came
        assert page.inner_text(f"{LAST_ANSWER} .note") == "Stopped."
        assert len(stopped) < 2000 * 2  # far from the 2000 tokens asked for
        deadline = time.monotonic() + 5
        while _active_requests(url) != 0:  # the server cancelled the generation
            assert time.monotonic() < deadline, "the stopped request still holds its slot"
            time.sleep(0.1)

        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        item = page.locator("#conversations li")
        assert item.count() == 1 and QUESTION in item.inner_text()
        item.locator(".open").click()
        page.wait_for_selector(".message:nth-child(4)")
        assert page.locator(".message").count() == 4
        assert page.inner_text(".message.user:first-child .body") == QUESTION
        assert page.locator(f"{LAST_ANSWER}[data-state=stopped]").count() == 1
        assert page.inner_text(f"{LAST_ANSWER} .markdown") == stopped
        shot = screenshot_path("webui-smollm2.png")
        page.screenshot(path=shot)
        print(f"\nscreenshots: {shot} and {shot.with_name('webui-smollm2-streaming.png')}")
