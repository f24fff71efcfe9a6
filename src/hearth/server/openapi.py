"""The server's OpenAPI 3.1 schema, written by hand: the request bodies each route accepts (the
fields hearth reads; others are ignored) and the answers it gives. Served at /openapi.json and
used by the schemathesis test."""

from __future__ import annotations

from typing import Any

_NUM = {"type": "number"}
_INT = {"type": "integer"}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_OBJ: dict[str, Any] = {"type": "object"}
_STOP = {"anyOf": [_STR, {"type": "array", "items": _STR, "maxItems": 16}]}

_OPENAI_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"anyOf": [_STR, {"type": "array", "items": _OBJ}, {"type": "null"}]},
        "name": _STR,
        "tool_call_id": _STR,
        "tool_calls": {"type": "array", "items": _OBJ},
    },
}
_SAMPLING = {
    "temperature": _NUM, "top_p": _NUM, "top_k": _INT, "min_p": _NUM, "seed": _INT,
    "presence_penalty": _NUM, "frequency_penalty": _NUM, "repeat_penalty": _NUM,
    "max_tokens": _INT, "max_completion_tokens": _INT, "stop": _STOP, "stream": _BOOL, "n": _INT,
    "stream_options": {"type": "object", "properties": {"include_usage": _BOOL}},
}  # fmt: skip
_CHAT = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": _STR,
        "messages": {"type": "array", "items": _OPENAI_MESSAGE},
        "tools": {"type": "array", "items": _OBJ},
        "tool_choice": {"anyOf": [_STR, _OBJ]},
        "response_format": _OBJ,
        **_SAMPLING,
    },
}
_COMPLETION = {
    "type": "object",
    "required": ["model", "prompt"],
    "properties": {
        "model": _STR,
        "prompt": {"anyOf": [_STR, {"type": "array", "items": _STR, "minItems": 1, "maxItems": 1}]},
        "response_format": _OBJ,
        **_SAMPLING,
        "max_tokens": {**_INT, "default": 16},
    },
}
_EMBEDDING = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": _STR,
        "input": {"anyOf": [_STR, {"type": "array", "items": _STR}]},
        "encoding_format": {"enum": ["float", "base64"]},
        "dimensions": _INT,
    },
}
_ANTHROPIC = {
    "type": "object",
    "required": ["model", "max_tokens", "messages"],
    "properties": {
        "model": _STR,
        "max_tokens": _INT,
        "system": {"anyOf": [_STR, {"type": "array", "items": _OBJ}]},
        "messages": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"enum": ["user", "assistant"]},
                    "content": {"anyOf": [_STR, {"type": "array", "items": _OBJ}]},
                },
            },
        },
        "temperature": _NUM,
        "top_p": _NUM,
        "top_k": _INT,
        "stream": _BOOL,
        "stop_sequences": {"type": "array", "items": _STR},
        "tools": {"type": "array", "items": _OBJ},
        "tool_choice": _OBJ,
        "thinking": _OBJ,
    },
}
_GEMINI = {
    "type": "object",
    "required": ["contents"],
    "properties": {
        "contents": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "role": {"enum": ["user", "model"]},
                    "parts": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"text": _STR}},
                    },
                },
            },
        },
        "systemInstruction": _OBJ,
        "tools": {"type": "array", "items": _OBJ},
        "generationConfig": {
            "type": "object",
            "properties": {
                "temperature": _NUM,
                "topP": _NUM,
                "topK": _INT,
                "maxOutputTokens": _INT,
                "stopSequences": {"type": "array", "items": _STR},
                "seed": _INT,
                "responseMimeType": _STR,
                "responseJsonSchema": _OBJ,
            },
        },
    },
}

_RESPONSES = {
    "type": "object",
    "required": ["model"],
    "properties": {
        "model": _STR,
        "input": {"anyOf": [_STR, {"type": "array", "items": _OBJ}]},
        "instructions": _STR,
        "tools": {"type": "array", "items": _OBJ},
        "tool_choice": {"anyOf": [_STR, _OBJ]},
        "parallel_tool_calls": _BOOL,
        "text": _OBJ,
        "reasoning": _OBJ,
        "max_output_tokens": _INT,
        "temperature": _NUM,
        "top_p": _NUM,
        "metadata": {"type": "object", "additionalProperties": _STR},
        "user": _STR,
        "store": _BOOL,
        "background": _BOOL,
        "previous_response_id": _STR,
        "include": {"type": "array", "items": _STR},
        "stream": _BOOL,
    },
}

_ERRORS = {
    str(code): {"description": text, "content": {"application/json": {"schema": _OBJ}}}
    for code, text in (
        (400, "invalid request"), (401, "missing or wrong API key"), (404, "unknown model"),
        (413, "body too large"), (429, "queue full; see Retry-After"),
        (503, "not ready"), (504, "deadline passed"),
    )
}  # fmt: skip


def _post(body: dict[str, Any], summary: str, *, sse: bool = True) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _OBJ}}
    if sse:
        content["text/event-stream"] = {"schema": _STR}
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"200": {"description": "the answer", "content": content}, **_ERRORS},
        }
    }


def _get(summary: str, *, errors: bool = True) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": summary}}
    if errors:
        responses.update(_ERRORS)
    return {"get": {"summary": summary, "responses": responses}}


def _stored(*methods: str, params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Operations on one stored response (``{response_id}`` in the path)."""
    response_id = {"name": "response_id", "in": "path", "required": True, "schema": _STR}
    out: dict[str, Any] = {}
    for method in methods:
        out[method] = {
            "summary": f"{method.upper()} a stored response",
            "parameters": [response_id, *(params or [])],
            "responses": {"200": {"description": "the stored response"}, **_ERRORS},
        }
    return out


_ITEM_QUERY = [
    {"name": "limit", "in": "query", "required": False, "schema": _INT},
    {"name": "order", "in": "query", "required": False, "schema": {"enum": ["asc", "desc"]}},
    {"name": "after", "in": "query", "required": False, "schema": _STR},
]
_GEMINI_TARGET = "^[A-Za-z0-9._-]+:(generateContent|streamGenerateContent)$"


def openapi_schema() -> dict[str, Any]:
    """The schema, built fresh on each call (it is small)."""
    model_param = {"name": "model", "in": "path", "required": True, "schema": _STR}
    gemini = {
        "name": "target", "in": "path", "required": True,
        "schema": {"type": "string", "pattern": _GEMINI_TARGET},
    }  # fmt: skip
    generate = _post(_GEMINI, "Gemini generateContent / streamGenerateContent")
    generate["post"]["parameters"] = [
        gemini,
        {"name": "alt", "in": "query", "required": False, "schema": {"enum": ["sse", "json"]}},
    ]
    one_model = _get("one OpenAI model")
    one_model["get"]["parameters"] = [model_param]
    return {
        "openapi": "3.1.0",
        "info": {"title": "hearth serve", "version": "1"},
        "paths": {
            "/v1/chat/completions": _post(_CHAT, "OpenAI chat completions"),
            "/v1/completions": _post(
                _COMPLETION, "OpenAI legacy completions: raw text, no chat template"
            ),
            "/v1/embeddings": _post(_EMBEDDING, "OpenAI embeddings", sse=False),
            "/v1/models": _get("OpenAI model list"),
            "/v1/models/{model}": one_model,
            "/v1/responses": _post(_RESPONSES, "OpenAI Responses (stored, chained, background)"),
            "/v1/responses/{response_id}": _stored("get", "delete"),
            "/v1/responses/{response_id}/input_items": _stored("get", params=_ITEM_QUERY),
            "/v1/responses/{response_id}/cancel": _stored("post"),
            "/v1/messages": _post(_ANTHROPIC, "Anthropic messages"),
            "/v1beta/models": _get("Gemini model list"),
            "/v1beta/models/{target}": generate,
            "/health": _get("liveness", errors=False),
            "/ready": _get("readiness: every model loaded", errors=False),
            "/metrics": _get("Prometheus metrics"),
        },
    }
