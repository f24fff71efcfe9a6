"""Raw text completion on the real SmolLM2 and Gemma 3: the prompt is continued as it is, with
no chat template, through the Python API and the CLI."""

from __future__ import annotations

import asyncio
import os

import pytest
from tests.integration.test_cli_local import run

import hearth
from hearth import Message
from hearth.backends.local.backend import LocalBackend
from hearth.errors import ContextLengthExceededError
from hearth.messages import JsonObject
from hearth.request import ChatRequest

pytestmark = pytest.mark.integration

COUNT = "1, 2, 3, 4,"
STORY = "Once upon a time"


def _backend(m: hearth.Model) -> LocalBackend:
    assert isinstance(m.backend, LocalBackend)
    return m.backend


def test_the_prompt_is_tokenized_as_it_is_not_templated(smollm2: hearth.Model) -> None:
    backend = _backend(smollm2)
    engine = backend.engine
    im_start = engine.tokenize("<|im_start|>", add_special=False)
    assert len(im_start) == 1  # a special token, so the check below means something
    raw = backend.prompt_tokens(ChatRequest(prompt=STORY))
    chat = backend.prompt_tokens(ChatRequest((Message.user(STORY),)))
    assert raw == engine.tokenize(STORY, add_special=False)  # SmolLM2's vocab adds no BOS
    assert im_start[0] not in raw and im_start[0] in chat
    r = smollm2.complete(STORY, max_tokens=8, temperature=0)
    assert r.usage.input_tokens == len(raw) < len(chat)


def test_the_model_continues_the_text(smollm2: hearth.Model) -> None:
    r = smollm2.complete(COUNT, max_tokens=12, temperature=0, seed=1)
    assert r.text.startswith(" 5, 6, 7")  # a continuation, not an assistant's reply
    assert r.stop_reason == "max_tokens" and r.usage.output_tokens == 12
    chat = smollm2.chat(COUNT, max_tokens=12, temperature=0, seed=1)
    assert not chat.text.startswith(" 5")


def test_stop_strings_end_a_raw_completion(smollm2: hearth.Model) -> None:
    r = smollm2.complete(COUNT, max_tokens=40, temperature=0, stop=[" 8"])
    assert r.text == " 5, 6, 7,"
    assert r.stop_reason == "stop_sequence" and r.stop_sequence == " 8"


def test_special_token_text_is_read_as_tokens_and_end_of_turn_stops(
    smollm2: hearth.Model,
) -> None:
    prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    r = smollm2.complete(prompt, max_tokens=32, temperature=0)
    assert "Paris" in r.text and "<|im_end|>" not in r.text
    assert r.stop_reason == "end_turn"  # <|im_end|> is an end-of-generation token


def test_stream_and_async_equal_the_plain_call(smollm2: hearth.Model) -> None:
    plain = smollm2.complete(STORY, max_tokens=20, temperature=0.8, seed=7)
    with smollm2.stream_complete(STORY, max_tokens=20, temperature=0.8, seed=7) as s:
        pieces = list(s.text_stream)
        streamed = s.response
    assert len(pieces) > 1 and "".join(pieces) == plain.text
    assert streamed.usage.input_tokens == plain.usage.input_tokens

    async def go() -> str:
        r = await smollm2.acomplete(STORY, max_tokens=20, temperature=0.8, seed=7)
        return r.text

    assert asyncio.run(go()) == plain.text
    assert streamed.usage.cached_tokens > 0  # the prefix cache reused the first run


def test_closing_a_raw_stream_early_stops_it(smollm2: hearth.Model) -> None:
    with smollm2.stream_complete(STORY, max_tokens=500, temperature=0.8, seed=3) as s:
        first = next(iter(s.text_stream))
    assert first
    after = smollm2.complete(COUNT, max_tokens=4, temperature=0)  # the engine is free again
    assert after.text.startswith(" 5")


def test_a_raw_completion_can_be_constrained(smollm2: hearth.Model) -> None:
    schema: JsonObject = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    r = smollm2.complete('The capital of France as JSON: {"city": "', response_format=schema)
    assert isinstance(r.parsed, dict) and set(r.parsed) == {"city"}


def test_a_prompt_over_the_window_is_a_clear_error(smollm2_small_ctx: hearth.Model) -> None:
    with pytest.raises(ContextLengthExceededError, match="context window holds 128") as info:
        smollm2_small_ctx.complete("word " * 200)
    assert info.value.prompt_tokens is not None and info.value.prompt_tokens > 128
    assert info.value.context_length == 128


def test_gemma_gets_its_bos_once(gemma: hearth.Model) -> None:
    backend = _backend(gemma)
    bos = backend.engine.bos_id
    tokens = backend.raw_tokens("The capital of France is")
    assert tokens[0] == bos and tokens.count(bos) == 1
    assert backend.raw_tokens("<bos>The capital of France is") == tokens
    r = gemma.complete("The capital of France is", max_tokens=8, temperature=0)
    assert r.usage.input_tokens == len(tokens)
    assert "Paris" in r.text or "capital" in r.text  # it continues the sentence


# -- the CLI ---------------------------------------------------------------------------------------


def test_cli_raw_continues_the_text() -> None:
    done = run("run", "--raw", "--temperature", "0", "--max-tokens", "12", COUNT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(" 5, 6, 7")


def test_cli_raw_on_a_remote_model_is_one_error_line() -> None:
    env_key = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = "sk-test-not-used"
    try:
        done = run("run", "--raw", "-m", "openai:gpt-4o-mini", STORY)
    finally:
        if env_key is None:
            del os.environ["OPENAI_API_KEY"]
        else:
            os.environ["OPENAI_API_KEY"] = env_key
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "only available on local text-generation models" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_cli_raw_refuses_a_system_prompt() -> None:
    done = run("run", "--raw", "--system", "be brief", STORY)
    assert done.returncode == 1
    assert "--system" in done.stderr and "Traceback" not in done.stderr


def test_a_stop_string_spanning_several_tokens_ends_the_text(smollm2: hearth.Model) -> None:
    backend = _backend(smollm2)
    assert len(backend.engine.tokenize("6, 7", add_special=False)) > 1
    r = smollm2.complete(COUNT, max_tokens=40, temperature=0, stop=["6, 7"])
    assert r.text == " 5, " and r.stop_sequence == "6, 7"


def test_a_raw_prompt_and_a_chat_share_the_prefix_cache(smollm2: hearth.Model) -> None:
    """The chat template's own text, sent raw, is the same tokens as the chat (so one may reuse
    the other's cached prefix, and the answers agree)."""
    backend = _backend(smollm2)
    chat = ChatRequest((Message.user("What is the capital of France?"),))
    assert backend._template is not None
    text = backend._template.render(chat.messages, add_generation_prompt=True)
    assert backend.raw_tokens(text) == backend.prompt_tokens(chat)
    first = smollm2.chat("What is the capital of France?", max_tokens=8, temperature=0)
    raw = smollm2.complete(text, max_tokens=8, temperature=0)
    assert raw.text == first.text
    assert raw.usage.cached_tokens >= raw.usage.input_tokens - 1
    longer = smollm2.complete(text + raw.text, max_tokens=4, temperature=0)
    assert longer.usage.cached_tokens >= raw.usage.input_tokens - 1
