"""``hearth serve`` with a local vision model (SmolLM2 with the tiny random projector of
tests/support/vision_pair.py), an image sent through each of the five formats by its official
client: OpenAI ``image_url`` (a data URL), Anthropic ``image`` blocks, Gemini ``inlineData``,
Responses ``input_image`` and Ollama ``images``. The answers mean nothing; what is asserted is that
the image reached the model (the prompt grows by its tokens), that a file that is not an image
is a 400 naming it, and that the server answers on afterwards."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import ollama
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes
from tests.support.served import served
from tests.support.vision_pair import IMAGE_TOKENS, png_bytes

from hearth._secret import Secret
from hearth.server import ServerSettings

pytestmark = pytest.mark.integration

KEY = "test-key-for-the-vision-sdks"
MODEL = "smollm2"
QUESTION = "What is in this picture?"
IMAGE = png_bytes((200, 30, 30))
B64 = base64.b64encode(IMAGE).decode()
NOT_AN_IMAGE = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x02" * 80).decode()


@pytest.fixture(scope="module")
def base_url(vision_projector: Path) -> Iterator[str]:
    settings = ServerSettings(
        models=("local:smollm2",),
        max_queue=4,
        timeout=120,
        api_key=Secret(KEY),
        backend_options={"n_threads": 2, "n_ctx": 2048, "mmproj": str(vision_projector)},
    )
    with served(settings) as url:
        yield url


@pytest.fixture(scope="module")
def oai(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=KEY, max_retries=0)


def test_the_model_says_it_has_vision(base_url: str) -> None:
    ui = httpx.get(f"{base_url}/ui/api/models", headers={"Authorization": f"Bearer {KEY}"})
    if ui.status_code == 200:  # the chat page's list, where the image button looks
        assert ui.json()["data"][0]["vision"] is True


def test_openai_image_url(oai: openai.OpenAI) -> None:
    def ask(image: str | None) -> int:
        content: list[dict[str, object]] = [{"type": "text", "text": QUESTION}]
        if image is not None:
            content.append({"type": "image_url", "image_url": {"url": image}})
        r = oai.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": content}],
            max_tokens=4,  # type: ignore[misc,list-item]
        )
        assert r.usage is not None and r.usage.completion_tokens > 0
        return r.usage.prompt_tokens

    assert ask(f"data:image/png;base64,{B64}") == ask(None) + IMAGE_TOKENS
    with pytest.raises(openai.BadRequestError, match="image 1: the PNG image cannot be read"):
        ask(f"data:image/png;base64,{NOT_AN_IMAGE}")
    with pytest.raises(openai.BadRequestError, match="data:"):
        ask("https://example.com/cat.png")  # no fetching: a remote URL is refused
    assert ask(None) > 0  # the worker lives on


def test_openai_stream_with_an_image(oai: openai.OpenAI) -> None:
    content = [
        {"type": "text", "text": QUESTION},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}"}},
    ]
    stream = oai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}],  # type: ignore[misc,list-item]
        max_tokens=6, stream=True, stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    assert any(c.choices and c.choices[0].delta.content for c in chunks)
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0


def test_anthropic_image_block(base_url: str) -> None:
    claude = anthropic.Anthropic(base_url=base_url, api_key=KEY, max_retries=0)

    def ask(data: str | None) -> int:
        content: list[dict[str, object]] = [{"type": "text", "text": QUESTION}]
        if data is not None:
            source = {"type": "base64", "media_type": "image/png", "data": data}
            content.insert(0, {"type": "image", "source": source})
        r = claude.messages.create(
            model=MODEL,
            max_tokens=4,
            messages=[{"role": "user", "content": content}],  # type: ignore[misc,list-item]
        )
        assert r.usage.output_tokens > 0
        return r.usage.input_tokens

    assert ask(B64) == ask(None) + IMAGE_TOKENS
    with pytest.raises(anthropic.BadRequestError, match="image 1: the PNG image cannot be read"):
        ask(NOT_AN_IMAGE)


def test_gemini_inline_data(base_url: str) -> None:
    options = gtypes.HttpOptions(base_url=base_url, api_version="v1beta")
    gem = genai.Client(api_key=KEY, http_options=options)
    config = gtypes.GenerateContentConfig(max_output_tokens=4)

    def ask(data: bytes | None) -> int:
        parts: list[gtypes.Part] = [gtypes.Part.from_text(text=QUESTION)]
        if data is not None:
            parts.append(gtypes.Part.from_bytes(data=data, mime_type="image/png"))
        r = gem.models.generate_content(
            model=MODEL, contents=gtypes.Content(role="user", parts=parts), config=config
        )
        assert r.usage_metadata is not None and r.usage_metadata.prompt_token_count is not None
        return r.usage_metadata.prompt_token_count

    assert ask(IMAGE) == ask(None) + IMAGE_TOKENS
    with pytest.raises(genai_errors.ClientError, match="400"):
        ask(base64.b64decode(NOT_AN_IMAGE))


def test_responses_input_image(oai: openai.OpenAI) -> None:
    def ask(image: str | None) -> int:
        content: list[dict[str, object]] = [{"type": "input_text", "text": QUESTION}]
        if image is not None:
            content.append({"type": "input_image", "image_url": image, "detail": "auto"})
        r = oai.responses.create(
            model=MODEL,
            input=[{"role": "user", "content": content}],
            max_output_tokens=16,  # type: ignore[list-item,typeddict-item]
        )
        assert r.usage is not None
        return r.usage.input_tokens

    assert ask(f"data:image/png;base64,{B64}") == ask(None) + IMAGE_TOKENS
    with pytest.raises(openai.BadRequestError, match="image 1: the PNG image cannot be read"):
        ask(f"data:image/png;base64,{NOT_AN_IMAGE}")


def test_ollama_images(base_url: str) -> None:
    client = ollama.Client(host=base_url, headers={"Authorization": f"Bearer {KEY}"})

    def ask(images: list[str] | None) -> int:
        message: dict[str, object] = {"role": "user", "content": QUESTION}
        if images is not None:
            message["images"] = images
        r = client.chat(model=MODEL, messages=[message], options={"num_predict": 4})
        assert r.prompt_eval_count is not None
        return r.prompt_eval_count

    assert ask([B64]) == ask(None) + IMAGE_TOKENS
    with pytest.raises(ollama.ResponseError, match="image 1: the PNG image cannot be read"):
        ask([NOT_AN_IMAGE])
