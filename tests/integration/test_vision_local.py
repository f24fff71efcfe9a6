"""Images through a local vision model, end to end, on a synthetic pair: the real SmolLM2 with a
tiny random projector (tests/support/vision_pair.py). The answers mean nothing, so the tests
assert the mechanics: the image is encoded (the prompt grows by its tokens), the prefix cache
keeps two images apart, a bad image is refused and the worker lives on, and streaming,
cancelling and batching work with images in flight; then the CLI (``hearth run -a``,
``hearth chat`` ``/attach``) on a ``[[models]]`` entry with an ``mmproj``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.vision_pair import (
    GEMMA3_IMAGE_TOKENS,
    IMAGE_TOKENS,
    png_bytes,
    write_gemma3_projector,
    write_projector,
)

import hearth
from hearth.errors import (
    InvalidModelFileError,
    InvalidRequestError,
    ModelLoadError,
    UnsupportedFeatureError,
)
from hearth.events import Done, TextDelta
from hearth.messages import ImagePart, Message, TextPart

pytestmark = pytest.mark.integration

QUESTION = "What is in this picture?"
RED, BLUE, GREEN = png_bytes((255, 0, 0)), png_bytes((0, 0, 255)), png_bytes((0, 255, 0))


def asking(*images: bytes, text: str = QUESTION) -> list[Message]:
    parts = [TextPart(text), *(ImagePart(data, "image/png") for data in images)]
    return [Message.user(parts)]


@pytest.fixture(scope="module")
def eyes(vision_projector: Path) -> Iterator[hearth.Model]:
    with hearth.model(
        "local:smollm2", mmproj=str(vision_projector), n_threads=2, n_ctx=2048, prefix_cache=1024
    ) as m:
        yield m


def test_the_pair_has_vision(eyes: hearth.Model, smollm2: hearth.Model) -> None:
    assert eyes.capabilities().vision
    assert not smollm2.capabilities().vision


def test_an_image_adds_its_tokens_to_the_prompt(eyes: hearth.Model) -> None:
    text = eyes.chat(asking(), max_tokens=4, temperature=0)
    one = eyes.chat(asking(RED), max_tokens=4, temperature=0)
    two = eyes.chat(asking(RED, BLUE), max_tokens=4, temperature=0)
    assert one.usage.input_tokens == text.usage.input_tokens + IMAGE_TOKENS
    assert two.usage.input_tokens == text.usage.input_tokens + 2 * IMAGE_TOKENS
    assert eyes.count_tokens(asking(RED, BLUE)) == two.usage.input_tokens
    assert one.usage.output_tokens > 0


def test_the_prefix_cache_keeps_two_images_apart(eyes: hearth.Model) -> None:
    first = eyes.chat(asking(GREEN), max_tokens=3, temperature=0)
    again = eyes.chat(asking(GREEN), max_tokens=3, temperature=0)
    other = eyes.chat(asking(BLUE), max_tokens=3, temperature=0)
    total = first.usage.input_tokens
    # the same image again: its KV is reused, up to the prompt's last token
    assert again.usage.cached_tokens == total - 1
    # the same text with another image: nothing at or past the image is reused
    image_at = _image_start(eyes, asking(BLUE))
    assert other.usage.cached_tokens <= image_at < total - 1


def _image_start(m: hearth.Model, messages: list[Message]) -> int:
    """The position of the first image in the prompt (its pseudo tokens are negative)."""
    from hearth.request import ChatRequest

    backend = m.backend
    request = ChatRequest(tuple(messages))
    tokens, images = backend._prompt(request, backend._plan(request))  # type: ignore[attr-defined]
    images.close()
    return next(i for i, t in enumerate(tokens) if t < 0)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"%PDF-1.4 a document", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x07" * 64, "cannot be read"),
        (png_bytes((1, 2, 3), size=(4000, 4000))[:5000], "cannot be"),
    ],
)
def test_a_bad_image_is_refused_and_the_worker_lives_on(
    eyes: hearth.Model, data: bytes, match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=f"image 1: .*{match}"):
        eyes.chat(asking(data), max_tokens=3)
    assert eyes.chat(asking(RED), max_tokens=3).usage.output_tokens > 0


def test_text_that_holds_the_marker_is_refused_beside_an_image(eyes: hearth.Model) -> None:
    with pytest.raises(InvalidRequestError, match="image marker"):
        eyes.chat(asking(RED, text="look: <__media__>"), max_tokens=3)
    assert eyes.chat("say <__media__>", max_tokens=3).usage.output_tokens > 0  # no image: text


def test_a_stream_with_an_image(eyes: hearth.Model) -> None:
    events = list(eyes.stream(asking(BLUE), max_tokens=8, temperature=0))
    assert any(isinstance(e, TextDelta) for e in events)
    done = events[-1]
    assert isinstance(done, Done) and done.usage.output_tokens > 0


def test_an_async_stream_with_an_image(eyes: hearth.Model) -> None:
    async def ask() -> hearth.Response:
        return await eyes.achat(asking(RED), max_tokens=4, temperature=0)

    assert asyncio.run(ask()).usage.input_tokens == eyes.count_tokens(asking(RED))


def test_cancelling_a_stream_with_an_image(eyes: hearth.Model) -> None:
    with eyes.stream(asking(RED, BLUE), max_tokens=200, temperature=1.0, seed=3) as stream:
        for event in stream:
            if isinstance(event, TextDelta):
                break
    scheduler = eyes.backend._scheduler  # type: ignore[attr-defined]
    for _ in range(200):
        if not scheduler.running:
            break
        threading.Event().wait(0.05)
    assert not scheduler.running
    assert eyes.chat(asking(GREEN), max_tokens=3).usage.output_tokens > 0


def test_requests_with_and_without_images_batch_together(eyes: hearth.Model) -> None:
    results: dict[str, hearth.Response] = {}
    errors: list[BaseException] = []

    def ask(name: str, prompt: str | list[Message]) -> None:
        try:
            results[name] = eyes.chat(prompt, max_tokens=24, temperature=0.7, seed=1)
        except BaseException as exc:
            errors.append(exc)

    jobs = {
        "text": "Write a short poem about the sea.",
        "red": asking(RED, text="Describe it."),
        "blue": asking(BLUE, text="Describe the image in detail."),
        "both": asking(RED, GREEN, text="Compare these."),
    }
    threads = [threading.Thread(target=ask, args=item) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert set(results) == set(jobs)
    base = eyes.count_tokens(jobs["text"])
    assert results["text"].usage.input_tokens == base
    for name in ("red", "blue", "both"):
        assert results[name].usage.input_tokens == eyes.count_tokens(jobs[name])
        assert results[name].usage.output_tokens > 0
    assert eyes.count_tokens(jobs["both"]) - eyes.count_tokens(asking(text="Compare these.")) == (
        2 * IMAGE_TOKENS
    )


def test_too_many_images_are_refused(eyes: hearth.Model) -> None:
    with pytest.raises(InvalidRequestError, match="17 images; a local model takes at most 16"):
        eyes.chat(asking(*[RED] * 17), max_tokens=2)


def test_a_model_without_a_projector_refuses_images(smollm2: hearth.Model) -> None:
    with pytest.raises(UnsupportedFeatureError, match=r"no vision support.*mmproj"):
        smollm2.chat(asking(RED), max_tokens=2)


def test_a_projector_for_another_model_is_a_load_error(tmp_path: Path) -> None:
    narrow = write_projector(tmp_path / "narrow.gguf", llm_embd=64)
    m = hearth.model("local:smollm2", mmproj=str(narrow), n_threads=2, n_ctx=256)
    with pytest.raises(ModelLoadError, match=r"projector .*narrow\.gguf.*n_embd"):
        m.backend.load()  # type: ignore[attr-defined]
    m.close()


def test_a_file_that_is_not_a_projector_is_refused(smollm2: hearth.Model) -> None:
    weights = smollm2.backend.fetch()  # type: ignore[attr-defined]
    m = hearth.model("local:smollm2", mmproj=str(weights), n_threads=2, n_ctx=256)
    with pytest.raises(InvalidModelFileError, match="not a vision projector"):
        m.backend.load()  # type: ignore[attr-defined]
    m.close()


def test_a_projector_checksum_that_disagrees_is_refused(vision_projector: Path) -> None:
    m = hearth.model(
        "local:smollm2", mmproj=str(vision_projector), mmproj_sha256="0" * 64, n_ctx=256
    )
    with pytest.raises(hearth.HearthError, match=r"(?i)sha-?256|checksum"):
        m.backend.load()  # type: ignore[attr-defined]
    m.close()


# --- the CLI -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory, vision_projector: Path) -> dict[str, str]:
    """A config whose ``[[models]]`` entry ``eyes`` is SmolLM2's file with the projector."""
    from hearth.catalog.entries import find_entry
    from hearth.catalog.store import ModelStore

    weights = ModelStore().path_for(find_entry("smollm2"))
    folder = tmp_path_factory.mktemp("cli")
    config = folder / "config.toml"
    config.write_text(
        f'[[models]]\nname = "eyes"\npath = "{weights}"\nmmproj = "{vision_projector}"\n'
    )
    (folder / "red.png").write_bytes(RED)
    env = {k: v for k, v in os.environ.items() if k != "HEARTH_DEBUG"}
    return {**env, "HEARTH_CONFIG": str(config), "HEARTH_TEST_FOLDER": str(folder)}


def hearth_cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("hearth")
    return subprocess.run(
        [str(exe), *args], input=stdin, capture_output=True, text=True, timeout=300, env=env,
        check=False,
    )  # fmt: skip


def test_run_attaches_an_image(cli_env: dict[str, str]) -> None:
    image = Path(cli_env["HEARTH_TEST_FOLDER"]) / "red.png"
    args = ("run", "-m", "local:eyes", "--max-tokens", "4", "--json", "--no-log")
    plain = hearth_cli(cli_env, *args, QUESTION)
    seen = hearth_cli(cli_env, *args, "-a", str(image), QUESTION)
    assert plain.returncode == 0 and seen.returncode == 0, (plain.stderr, seen.stderr)
    before, after = json.loads(plain.stdout), json.loads(seen.stdout)
    assert after["usage"]["input_tokens"] == before["usage"]["input_tokens"] + IMAGE_TOKENS


def test_run_takes_a_projector_for_a_gguf_path(
    cli_env: dict[str, str], vision_projector: Path
) -> None:
    from hearth.catalog.entries import find_entry
    from hearth.catalog.store import ModelStore

    weights = ModelStore().path_for(find_entry("smollm2"))
    folder = Path(cli_env["HEARTH_TEST_FOLDER"])
    args = ("run", "-m", str(weights), "--mmproj", str(vision_projector), "--max-tokens", "3")
    done = hearth_cli(cli_env, *args, "--json", "--no-log", "-a", str(folder / "red.png"), "Hi")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["usage"]["output_tokens"] > 0


def test_run_refuses_a_file_that_is_no_image(cli_env: dict[str, str]) -> None:
    fake = Path(cli_env["HEARTH_TEST_FOLDER"]) / "fake.png"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x01" * 100)
    done = hearth_cli(cli_env, "run", "-m", "local:eyes", "--no-log", "-a", str(fake), "hi")
    assert done.returncode == 1
    assert done.stderr.startswith("error: image 1: the PNG image cannot be read")
    assert "Traceback" not in done.stderr


def test_chat_attaches_with_a_slash_command(cli_env: dict[str, str]) -> None:
    image = Path(cli_env["HEARTH_TEST_FOLDER"]) / "red.png"
    script = f"/attach {image}\n/attach\n{QUESTION}\n/attach nowhere.png\n/bye\n"
    done = hearth_cli(
        cli_env, "chat", "-m", "local:eyes", "--no-save", "--max-tokens", "4", stdin=script
    )
    assert done.returncode == 0, done.stderr
    assert f"attached {image} (image); it goes with your next message" in done.stderr
    assert f"attached to the next message: {image}" in done.stderr
    assert "error: cannot read nowhere.png" in done.stderr
    assert done.stdout.strip()


# --- Gemma 3's projector: image tokens between markers, decoded with non-causal attention -------


@pytest.fixture(scope="module")
def gemma_projector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gemma3_projector(tmp_path_factory.mktemp("gemma3") / "mmproj-gemma3.gguf")


def test_a_gemma3_projector_wraps_and_caches_its_images(gemma_projector: Path) -> None:
    with hearth.model(
        "local:gemma3-270m", mmproj=str(gemma_projector), n_threads=2, n_ctx=1024,
        prefix_cache=512,
    ) as m:  # fmt: skip
        assert m.capabilities().vision
        text = m.chat(asking(), max_tokens=3, temperature=0)
        red = m.chat(asking(RED), max_tokens=3, temperature=0)
        wrappers = len(m.tokenize("<start_of_image><end_of_image>"))
        assert red.usage.input_tokens == text.usage.input_tokens + GEMMA3_IMAGE_TOKENS + wrappers
        again = m.chat(asking(RED), max_tokens=3, temperature=0)
        assert again.usage.cached_tokens == red.usage.input_tokens - 1
        blue = m.chat(asking(BLUE), max_tokens=3, temperature=0)
        assert blue.usage.cached_tokens <= _image_start(m, asking(BLUE))  # not into the image


def test_a_non_causal_image_larger_than_a_batch_is_refused(gemma_projector: Path) -> None:
    with hearth.model(
        "local:gemma3-270m", mmproj=str(gemma_projector), n_threads=2, n_ctx=512, n_batch=12,
        slots=2,
    ) as m:  # fmt: skip
        with pytest.raises(InvalidRequestError, match=r"16 tokens needs n_batch >= 16"):
            m.chat(asking(RED), max_tokens=3)
        assert m.chat("Hello", max_tokens=3).usage.output_tokens > 0
