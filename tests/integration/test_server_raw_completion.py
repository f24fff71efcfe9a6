"""``/v1/completions`` on a loopback ``hearth serve`` with the real SmolLM2, driven by the official
openai SDK: the prompt is continued as raw text (no chat template), streamed and not."""

from __future__ import annotations

import openai
import pytest
from tests.integration.test_server_sdks import base_url, oai

pytestmark = pytest.mark.integration

__all__ = ["base_url", "oai"]  # the module-scoped server and client fixtures

COUNT = "1, 2, 3, 4,"


def test_completion_continues_the_raw_prompt(oai: openai.OpenAI) -> None:
    r = oai.completions.create(model="smollm2", prompt=COUNT, max_tokens=9, temperature=0)
    choice = r.choices[0]
    assert choice.text.startswith(" 5, 6, 7")  # a continuation, not an assistant's reply
    assert choice.finish_reason == "length"
    assert r.object == "text_completion"
    assert r.usage is not None and r.usage.completion_tokens == 9
    # the raw tokens of "1, 2, 3, 4," (the chat template would add ~30 more)
    assert r.usage.prompt_tokens < 15


def test_completion_stream_with_usage_and_stop(oai: openai.OpenAI) -> None:
    stream = oai.completions.create(
        model="local:smollm2",
        prompt=COUNT,
        max_tokens=40,
        temperature=0,
        stop=[" 8"],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == " 5, 6, 7,"
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens < 15 and usage.completion_tokens > 0


def test_completion_special_tokens_and_refusals(oai: openai.OpenAI) -> None:
    prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    r = oai.completions.create(model="smollm2", prompt=prompt, max_tokens=24, temperature=0)
    assert "Paris" in r.choices[0].text and r.choices[0].finish_reason == "stop"
    with pytest.raises(openai.BadRequestError, match="suffix"):
        oai.completions.create(model="smollm2", prompt=COUNT, suffix="end")
    with pytest.raises(openai.BadRequestError, match="context window"):
        oai.completions.create(model="smollm2", prompt="word " * 9000)


def test_completion_without_max_tokens_stops_at_16_as_openai_does(oai: openai.OpenAI) -> None:
    r = oai.completions.create(model="smollm2", prompt="Once upon a time", temperature=0)
    assert r.usage is not None and 0 < r.usage.completion_tokens <= 16
    assert r.choices[0].finish_reason in ("length", "stop")


def test_a_streamed_prompt_over_the_window_is_a_400_before_any_event(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="context window") as info:
        oai.completions.create(model="smollm2", prompt="word " * 9000, stream=True)
    assert info.value.status_code == 400


def test_token_arrays_are_refused_by_name(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="token arrays are not supported"):
        oai.completions.create(model="smollm2", prompt=[16, 17, 18], max_tokens=4)
