"""Headless Chromium for the chat page's tests: Debian's ``chromium`` (``make test`` installs
it) driven by Playwright's Python API, with no browser download.

Without Chromium (or Playwright) the tests fail under CI (``$CI`` set) and are skipped on a
developer's machine, with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

OUTPUT = Path(__file__).resolve().parents[1] / "output"  # tests/output/, ignored by git
INSTALL = "make test installs it; by hand: apt-get install chromium, pip install playwright"


def chromium_path() -> str | None:
    """``$HEARTH_CHROMIUM``, else the first Chromium on the PATH."""
    given = os.environ.get("HEARTH_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed, so the chat page cannot be tested ({INSTALL})")
    pytest.skip(f"{what} is not installed ({INSTALL}); under CI this test fails instead")


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed afterwards."""
    path = chromium_path()
    if path is None:
        _missing("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (the Python package)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI and the developers' machines run tests as root, where Chromium's
        # sandbox refuses to start. The page under test is hearth's own, on loopback.
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def screenshot_path(name: str) -> Path:
    """Where a test saves a screenshot for a person to look at (printed by the test)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT / name
