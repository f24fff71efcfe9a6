"""The validation table: every bad input gets a clear 4xx in the API's own error format, never a
500, and the backend never sees it. Prompt-over-context is a 400 with token counts even for
streams, before any SSE byte; an error after streaming began is an error event, then the end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hearth.backends.base import Capabilities
from hearth.backends.local.engine import EngineError
from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.errors import ContextLengthExceededError
from hearth.events import Done, TextDelta, Usage
from hearth.server import ServerSettings, create_app

HELLO: Script = [TextDelta("Hello"), Done("end_turn", Usage(3, 1))]
WINDOW = 2048


def make(*scripts: Script, max_body: int = 64 * 1024) -> tuple[TestClient, FakeBackend]:
    fake = FakeBackend(list(scripts), capabilities=Capabilities(context_length=WINDOW))
    app = create_app(
        ServerSettings(models=("fake",), max_body=max_body),
        config=Config(path=Path("/dev/null")),
        backends={"fake": fake},
    )
    return TestClient(app), fake


# Each API: (path for model M, a valid body, how to change it, how to read the error type).
Body = dict[str, object]


def openai_body(**extra: object) -> Body:
    return {"model": "fake", "messages": [{"role": "user", "content": "hi"}], **extra}


def anthropic_body(**extra: object) -> Body:
    return {
        "model": "fake",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


def gemini_body(**config: object) -> Body:
    body: Body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    if config:
        body["generationConfig"] = config
    return body


def openai_kind(r: object) -> str:
    return str(r.json()["error"]["type"])  # type: ignore[attr-defined]


def anthropic_kind(r: object) -> str:
    body = r.json()  # type: ignore[attr-defined]
    assert body["type"] == "error"
    return str(body["error"]["type"])


def gemini_kind(r: object) -> str:
    return str(r.json()["error"]["status"])  # type: ignore[attr-defined]


OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
GEMINI = "/v1beta/models/fake:generateContent"

NAN = b'{"model":"fake","messages":[{"role":"user","content":"hi"}],"temperature":NaN}'
GEMINI_9 = "/v1beta/models/gemini-9:generateContent"
OA, AN, GE = (
    (OPENAI, openai_kind, {400: "invalid_request_error", 404: "invalid_request_error"}),
    (ANTHROPIC, anthropic_kind, {400: "invalid_request_error", 404: "not_found_error"}),
    (GEMINI, gemini_kind, {400: "INVALID_ARGUMENT", 404: "NOT_FOUND"}),
)
COMPLETIONS = ("/v1/completions", OA[1], OA[2])
RS = ("/v1/responses", OA[1], OA[2])


def responses_body(**extra: object) -> Body:
    return {"model": "fake", "input": "hi", **extra}


NOT_AN_IMAGE = [{"role": "user", "content": [
    {"type": "input_image", "image_url": "data:image/png;base64,aGVsbG8="}]}]  # fmt: skip
ORPHAN_OUTPUT = [{"type": "function_call_output", "call_id": "call_x", "output": "y"}]
BAD_SCHEMA_OA = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "objekt"}}}
BAD_SCHEMA_GE = {"responseMimeType": "application/json", "responseJsonSchema": {"type": "objekt"}}
# (id, API, body (a dict, or raw bytes), status[, path])
TABLE: list[tuple[str, tuple[str, Callable[[object], str], dict[int, str]], object, int]] = [
    ("oa-malformed", OA, b'{"model": "fake", "messages": [', 400),
    ("oa-wrong-type", OA, openai_body(messages="hi"), 400),
    ("oa-bad-role", OA, openai_body(messages=[{"role": "wizard", "content": "x"}]), 400),
    ("oa-empty", OA, openai_body(messages=[]), 400),
    ("oa-max-tokens-0", OA, openai_body(max_tokens=0), 400),
    ("oa-max-tokens-huge", OA, openai_body(max_tokens=10**9), 400),
    ("oa-over-window", OA, openai_body(max_tokens=WINDOW + 1), 400),
    ("oa-nan", OA, NAN, 400),
    ("oa-temp-range", OA, openai_body(temperature=-1), 400),
    ("oa-top-p-range", OA, openai_body(top_p=7), 400),
    ("oa-n", OA, openai_body(n=2), 400),
    ("oa-not-object", OA, b"[1, 2]", 400),
    ("oa-unknown-model", OA, openai_body(model="gpt-9"), 404),
    ("an-malformed", AN, b"{", 400),
    ("an-wrong-type", AN, anthropic_body(max_tokens="many"), 400),
    ("an-bad-role", AN, anthropic_body(messages=[{"role": "system", "content": "x"}]), 400),
    ("an-empty", AN, anthropic_body(messages=[]), 400),
    ("an-max-tokens-0", AN, anthropic_body(max_tokens=0), 400),
    ("an-max-tokens-huge", AN, anthropic_body(max_tokens=10**9), 400),
    ("an-temp-range", AN, anthropic_body(temperature=3.5e300), 400),
    ("an-unknown-model", AN, anthropic_body(model="claude-9"), 404),
    ("ge-malformed", GE, b"{]", 400),
    ("ge-wrong-type", GE, {"contents": "hi"}, 400),
    ("ge-bad-role", GE, {"contents": [{"role": "god", "parts": [{"text": "x"}]}]}, 400),
    ("ge-empty", GE, {"contents": []}, 400),
    ("ge-max-tokens-0", GE, gemini_body(maxOutputTokens=0), 400),
    ("ge-top-p-range", GE, gemini_body(topP=-0.5), 400),
    # each API's own temperature range, not only hearth's wider one
    ("oa-temp-over-2", OA, openai_body(temperature=50), 400),
    ("an-temp-over-1", AN, anthropic_body(temperature=1.5), 400),
    ("ge-temp-over-2", GE, gemini_body(temperature=3), 400),
    ("ge-unknown-model", (GEMINI_9, GE[1], GE[2]), gemini_body(), 404),
    # fields hearth cannot honour are refused by name, never silently ignored
    ("oa-logit-bias", OA, openai_body(logit_bias={"50256": -100}), 400),
    ("oa-top-logprobs", OA, openai_body(top_logprobs=3), 400),
    ("oa-functions", OA, openai_body(functions=[{"name": "f", "parameters": {}}]), 400),
    ("oa-audio-out", OA, openai_body(modalities=["text", "audio"]), 400),
    ("cp-logprobs", COMPLETIONS, {"model": "fake", "prompt": "x", "logprobs": 2}, 400),
    ("cp-logit-bias", COMPLETIONS, {"model": "fake", "prompt": "x", "logit_bias": {"1": 5}}, 400),
    ("an-output-format", AN, anthropic_body(output_format={"type": "json_schema"}), 400),
    ("an-mcp", AN, anthropic_body(mcp_servers=[{"type": "url", "url": "https://x"}]), 400),
    ("ge-logprobs", GE, gemini_body(responseLogprobs=True, logprobs=21), 400),
    ("ge-logprobs-alone", GE, gemini_body(logprobs=3), 400),
    ("ge-audio-out", GE, gemini_body(responseModalities=["AUDIO"]), 400),
    ("ge-cached", GE, {**gemini_body(), "cachedContent": "cachedContents/abc"}, 400),
    # a tool call demanded with no tool to call (OpenAI answers 400 too)
    ("oa-required-no-tools", OA, openai_body(tool_choice="required"), 400),
    ("an-any-no-tools", AN, anthropic_body(tool_choice={"type": "any"}), 400),
    (
        "ge-any-no-tools",
        GE,
        {**gemini_body(), "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}},
        400,
    ),
    # an invalid response schema is the client's mistake, for every model
    ("oa-bad-schema", OA, openai_body(response_format=BAD_SCHEMA_OA), 400),
    # the Responses API: OpenAI's error format, its own bad inputs
    ("rs-malformed", RS, b'{"model": "fake", "input": [', 400),
    ("rs-wrong-type", RS, responses_body(input=7), 400),
    ("rs-unknown-item", RS, responses_body(input=[{"type": "teleport"}]), 400),
    ("rs-orphan-call-output", RS, responses_body(input=ORPHAN_OUTPUT), 400),
    ("rs-no-previous", RS, responses_body(previous_response_id="resp_nope"), 400),
    ("rs-not-an-image", RS, responses_body(input=NOT_AN_IMAGE), 400),
    ("rs-builtin-tool", RS, responses_body(tools=[{"type": "web_search"}]), 400),
    ("rs-truncation-auto", RS, responses_body(truncation="auto"), 400),
    ("rs-temp-over-2", RS, responses_body(temperature=3), 400),
    ("rs-max-output-0", RS, responses_body(max_output_tokens=0), 400),
    ("rs-bad-schema", RS, responses_body(
        text={"format": {"type": "json_schema", "name": "x", "schema": {"type": "objekt"}}}), 400),
    ("rs-unknown-model", RS, responses_body(model="gpt-9"), 404),
    ("ge-bad-schema", GE, gemini_body(**BAD_SCHEMA_GE), 400),
]
CASES = [
    pytest.param(api[0], body, status, api[1], api[2][status], id=name)
    for name, api, body, status in TABLE
]


@pytest.mark.parametrize(("path", "body", "status", "kind", "expected"), CASES)
def test_bad_input_is_a_clear_4xx_in_the_apis_format(
    path: str, body: object, status: int, kind: Callable[[object], str], expected: str
) -> None:
    c, fake = make(HELLO)
    with c:
        if isinstance(body, bytes):
            r = c.post(path, content=body, headers={"content-type": "application/json"})
        else:
            r = c.post(path, json=body)
        assert r.status_code == status, r.text
        assert kind(r) == expected
        assert fake.requests == []
        # the server is still fine afterwards
        ok = c.post(OPENAI, json=openai_body())
        assert ok.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "kind"),
    [
        (OPENAI, openai_body(), openai_kind),
        (ANTHROPIC, anthropic_body(), anthropic_kind),
        (GEMINI, gemini_body(), gemini_kind),
        (RS[0], responses_body(), openai_kind),
    ],
)
def test_oversized_body_is_413(path: str, body: Body, kind: Callable[[object], str]) -> None:
    c, fake = make(HELLO, max_body=2048)
    padded = {**body, "padding": "x" * 4096}
    with c:
        r = c.post(path, json=padded)
    assert r.status_code == 413
    kind(r)  # in the API's own error shape
    assert fake.requests == []


TOO_LONG: Script = [ContextLengthExceededError(5000, WINDOW)]


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        (OPENAI, openai_body(stream=True), "5000"),
        (OPENAI, openai_body(), "5000"),
        (ANTHROPIC, anthropic_body(stream=True), "5000 tokens > 2048"),
        ("/v1beta/models/fake:streamGenerateContent?alt=sse", gemini_body(), "(5000)"),
        (RS[0], responses_body(stream=True), "5000"),
        (RS[0], responses_body(), "5000"),
    ],
)
def test_prompt_over_context_is_a_400_with_counts_before_any_sse_byte(
    path: str, body: Body, needle: str
) -> None:
    c, _ = make(TOO_LONG)
    with c:
        r = c.post(path, json=body)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    assert needle in r.text and str(WINDOW) in r.text


def test_openai_error_after_streaming_began_is_an_error_chunk_then_the_end() -> None:
    c, _ = make([TextDelta("partial"), EngineError("llama_decode failed")], HELLO)
    with c:
        r = c.post(OPENAI, json=openai_body(stream=True))
        after = c.post(OPENAI, json=openai_body())
    assert r.status_code == 200
    frames = r.text.strip().split("\n\n")
    assert "partial" in frames[1]
    last = json.loads(frames[-1].removeprefix("data: "))
    assert "llama_decode failed" in last["error"]["message"]
    assert after.status_code == 200  # the server still answers


def test_anthropic_error_after_streaming_began_is_an_error_event() -> None:
    c, _ = make([TextDelta("partial"), EngineError("boom")])
    with c:
        r = c.post(ANTHROPIC, json=anthropic_body(stream=True))
    frames = r.text.strip().split("\n\n")
    assert frames[0].startswith("event: message_start")
    assert frames[-1].startswith("event: error")
    assert json.loads(frames[-1].split("data: ", 1)[1])["error"]["type"] == "api_error"


def test_a_bug_in_a_backend_is_a_500_in_format_not_a_crash() -> None:
    c, _ = make([RuntimeError("unexpected"), *[]], HELLO)
    with c:
        r = c.post(OPENAI, json=openai_body())
        again = c.post(OPENAI, json=openai_body())
    assert r.status_code == 500
    assert "unexpected" not in r.text  # internals stay in the server log
    assert r.json()["error"]["type"] == "server_error"
    assert again.status_code == 200


# --- Ollama's native API: {"error": "..."} with Ollama's status codes -------------------------


def ollama_chat(**extra: object) -> Body:
    return {"model": "fake", "messages": [{"role": "user", "content": "hi"}], **extra}


def ollama_generate(**extra: object) -> Body:
    return {"model": "fake", "prompt": "hi", **extra}


NOT_AN_IMAGE = "aGVsbG8gd29ybGQ="  # "hello world"
OLLAMA_TABLE: list[tuple[str, str, object, int, str]] = [
    ("chat-malformed", "/api/chat", b'{"model": "fake", "messages": [', 400, "not valid JSON"),
    ("chat-not-object", "/api/chat", b"[1]", 400, "JSON object"),
    ("chat-no-model", "/api/chat", {"messages": []}, 400, "model"),
    ("chat-bad-role", "/api/chat", ollama_chat(messages=[{"role": "god"}]), 400, "role"),
    ("chat-unknown-model", "/api/chat", ollama_chat(model="llama9"), 404, "not found"),
    ("chat-num-ctx", "/api/chat", ollama_chat(options={"num_ctx": WINDOW + 1}), 400, "num_ctx"),
    ("chat-num-ctx-0", "/api/chat", ollama_chat(options={"num_ctx": 0}), 400, "num_ctx"),
    ("chat-num-predict", "/api/chat", ollama_chat(options={"num_predict": -7}), 400, "num_predict"),
    ("chat-num-predict-0", "/api/chat", ollama_chat(options={"num_predict": 0}), 400,
     "num_predict"),
    ("chat-over-window", "/api/chat", ollama_chat(options={"num_predict": WINDOW + 1}), 400,
     "num_predict"),
    ("chat-not-an-image", "/api/chat", ollama_chat(messages=[
        {"role": "user", "content": "x", "images": [NOT_AN_IMAGE]}]), 400, "images[0]"),
    ("chat-mirostat", "/api/chat", ollama_chat(options={"mirostat": 2}), 400, "mirostat"),
    ("chat-temperature", "/api/chat", ollama_chat(options={"temperature": -1}), 400,
     "temperature"),
    ("chat-options-type", "/api/chat", ollama_chat(options={"top_k": "many"}), 400, "top_k"),
    ("chat-format", "/api/chat", ollama_chat(format="xml"), 400, "format"),
    ("chat-bad-schema", "/api/chat", ollama_chat(format={"type": "objekt"}), 400, "format"),
    ("chat-think", "/api/chat", ollama_chat(think="lots"), 400, "think"),
    ("chat-keep-alive", "/api/chat", ollama_chat(keep_alive="soon"), 400, "keep_alive"),
    ("chat-logprobs", "/api/chat", ollama_chat(logprobs=True, top_logprobs=21), 400,
     "top_logprobs"),
    ("gen-top-logprobs", "/api/generate", ollama_generate(top_logprobs=3), 400, "top_logprobs"),
    ("gen-template", "/api/generate", ollama_generate(template="{{ .Prompt }}"), 400, "template"),
    ("gen-suffix", "/api/generate", ollama_generate(suffix="y"), 400, "suffix"),
    ("gen-context", "/api/generate", ollama_generate(context=[1, 2]), 400, "context"),
    ("gen-raw-system", "/api/generate", ollama_generate(raw=True, system="s"), 400, "system"),
    ("gen-not-an-image", "/api/generate", ollama_generate(images=[NOT_AN_IMAGE]), 400,
     "images[0]"),
    ("gen-unknown-model", "/api/generate", ollama_generate(model="llama9"), 404, "not found"),
    ("embed-no-input", "/api/embed", {"model": "fake"}, 400, "input"),
    ("embed-wrong-type", "/api/embed", {"model": "fake", "input": 3}, 400, "input"),
    ("embed-unknown-model", "/api/embed", {"model": "llama9", "input": "x"}, 404, "not found"),
    ("show-no-model", "/api/show", {}, 400, "model"),
    ("show-unknown-model", "/api/show", {"model": "llama9"}, 404, "not found"),
    ("pull-no-model", "/api/pull", {"stream": False}, 400, "model"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [pytest.param(p, b, s, n, id=i) for i, p, b, s, n in OLLAMA_TABLE],
)
def test_ollama_bad_input_is_a_4xx_in_ollamas_error_shape(
    path: str, body: object, status: int, needle: str
) -> None:
    c, fake = make(HELLO)
    with c:
        if isinstance(body, bytes):
            r = c.post(path, content=body, headers={"content-type": "application/json"})
        else:
            r = c.post(path, json=body)
        assert r.status_code == status, r.text
        assert set(r.json()) == {"error"} and needle in r.json()["error"]
        assert fake.requests == []
        assert c.post("/api/chat", json=ollama_chat()).status_code == 200


def test_ollama_oversized_body_is_413() -> None:
    c, fake = make(HELLO, max_body=2048)
    with c:
        r = c.post("/api/chat", json=ollama_chat(pad="x" * 4096))
    assert r.status_code == 413 and set(r.json()) == {"error"}
    assert fake.requests == []


def test_ollama_prompt_over_context_is_a_400_before_any_line() -> None:
    c, _ = make(TOO_LONG)
    with c:
        r = c.post("/api/chat", json=ollama_chat())
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
    assert "5000" in r.json()["error"]


def test_ollama_error_after_streaming_began_is_an_error_line() -> None:
    c, _ = make([TextDelta("partial"), EngineError("llama_decode failed")])
    with c:
        r = c.post("/api/chat", json=ollama_chat())
    got = [json.loads(line) for line in r.text.splitlines()]
    assert got[0]["message"]["content"] == "partial"  # type: ignore[index]
    assert "llama_decode failed" in str(got[-1]["error"]) and got[-1]["status"] == 500
def test_tool_choice_required_without_tools_says_what_is_missing() -> None:
    c, fake = make(HELLO)
    with c:
        r = c.post(OPENAI, json=openai_body(tool_choice="required"))
    assert r.status_code == 400 and fake.requests == []
    assert r.json()["error"]["message"] == (
        "tool_choice 'required' needs at least one tool in the request; send tools, or use "
        "tool_choice auto or none"
    )
