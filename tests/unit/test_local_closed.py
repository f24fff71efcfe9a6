"""A local model used after close() says it is closed; it is never silently reloaded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import hearth
from hearth.agent import Agent
from hearth.backends.local.backend import create_backend
from hearth.errors import ModelClosedError


def closed_model(tmp_path: Path) -> hearth.Model:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"not loaded: closing comes first")
    model = hearth.Model(create_backend(str(path)))
    assert not model.loaded
    model.close()
    return model


def test_chat_after_close_raises_closed(tmp_path: Path) -> None:
    model = closed_model(tmp_path)
    with pytest.raises(ModelClosedError, match=r"tiny\.gguf is closed: it was used after close"):
        model.chat("hi")
    with pytest.raises(ModelClosedError):
        list(model.stream("hi"))
    with pytest.raises(ModelClosedError):
        asyncio.run(model.achat("hi"))
    assert not model.loaded


def test_embed_after_close_raises_closed(tmp_path: Path) -> None:
    model = closed_model(tmp_path)
    with pytest.raises(ModelClosedError, match=r"Open it again with hearth\.model"):
        model.embed("a cat")


def test_an_agent_on_a_closed_model_fails_its_turn_with_closed(tmp_path: Path) -> None:
    with pytest.raises(ModelClosedError):
        Agent(closed_model(tmp_path)).run("hi")
