"""The server's OpenAPI 3.1 schema: the request bodies each route accepts (the fields hearth
reads; others are ignored) and the answers it gives. Served at /openapi.json and used by the
schemathesis test. The sampling fields of each format come from the settings table
(:data:`hearth.settings.SETTINGS`: its field names, types, ranges and docs); the rest is written
by hand."""

from __future__ import annotations

from typing import Any

from hearth.settings import Setting, wire_fields
from hearth.wire.formats import get_format

_INT = {"type": "integer"}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_OBJ: dict[str, Any] = {"type": "object"}


def _setting_schema(setting: Setting, max_temperature: float | None) -> dict[str, Any]:
    """One setting's JSON schema: its type and range, with its doc as the description."""
    if setting.kind is tuple:
        schema: dict[str, Any] = {"type": "array", "items": _STR}
        if setting.high is not None:
            schema["maxItems"] = int(setting.high)
        return {**schema, "description": setting.doc}
    schema = {"type": "integer" if setting.kind is int else "number"}
    if setting.low is not None:
        schema["exclusiveMinimum" if setting.low_open else "minimum"] = setting.low
    high = setting.high
    if setting.name == "temperature" and max_temperature is not None:
        high = max_temperature  # the API's own range (see Limits)
    if high is not None:
        schema["maximum"] = high
    return {**schema, "description": setting.doc}


def _sampling_fields(fmt: str, *, openai_aliases: bool = False) -> dict[str, Any]:
    """The setting fields of format ``fmt``'s request (with ``openai_aliases``, the other
    names the OpenAI route accepts too)."""
    limit = get_format(fmt).limits.max_temperature
    out: dict[str, Any] = {}
    for setting, key in wire_fields(fmt):
        aliases = setting.wire.openai_aliases if openai_aliases else ()
        for name in (key, *aliases):
            out[name] = _setting_schema(setting, limit)
    return out


_OPENAI_SETTINGS = _sampling_fields("openai", openai_aliases=True)
_STOP_LIST = dict(_OPENAI_SETTINGS["stop"])
_STOP = {"anyOf": [_STR, _STOP_LIST], "description": _STOP_LIST.pop("description")}
"""OpenAI's ``stop``: one string or a list of them."""
_OPENAI_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"anyOf": [_STR, {"type": "array", "items": _OBJ}, {"type": "null"}]},
        "name": _STR,
        "tool_call_id": _STR,
        "tool_calls": {"type": "array", "items": _OBJ},
        "reasoning_content": _STR,
    },
}
_THINKING = {
    "reasoning_effort": {"enum": ["none", "minimal", "low", "medium", "high"]},
    "chat_template_kwargs": {
        "type": "object",
        "properties": {"enable_thinking": _BOOL},
        "additionalProperties": False,
        "description": "Only enable_thinking: a reasoning model thinks (true) or not (false).",
    },
    "thinking_budget": {
        "type": "integer",
        "minimum": 0,
        "description": "The most tokens a reasoning model may spend thinking (hearth's field).",
    },
}
_SAMPLING = {
    **_OPENAI_SETTINGS, "stop": _STOP, "stream": _BOOL, "n": _INT,
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
        **_THINKING,
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
        "max_tokens": {**_OPENAI_SETTINGS["max_tokens"], "default": 16},
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
        **_sampling_fields("anthropic"),
        "stream": _BOOL,
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
                **_sampling_fields("gemini"),
                "responseMimeType": _STR,
                "responseJsonSchema": _OBJ,
            },
        },
    },
}

_NUMBER = {"type": "number"}
_OLLAMA_OPTIONS = {
    "type": "object",
    "properties": {
        **_sampling_fields("ollama"),
        "num_predict": _INT,  # also Ollama's -1 (no limit) and -2 (fill the context)
        "num_ctx": _INT, "mirostat": _INT, "typical_p": _NUMBER, "repeat_last_n": _INT,
        "num_gpu": _INT,
    },
}  # fmt: skip
_OLLAMA_COMMON = {
    "model": _STR,
    "stream": _BOOL,
    "format": {"anyOf": [{"enum": ["", "json"]}, _OBJ]},
    "options": _OLLAMA_OPTIONS,
    "think": {"anyOf": [_BOOL, {"enum": ["low", "medium", "high"]}]},
    "keep_alive": {"anyOf": [_NUMBER, _STR]},
}
_OLLAMA_CHAT = {
    "type": "object",
    "required": ["model"],
    "properties": {
        **_OLLAMA_COMMON,
        "messages": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {
                    "role": {"enum": ["system", "user", "assistant", "tool"]},
                    "content": _STR,
                    "thinking": _STR,
                    "images": {"type": "array", "items": _STR},
                    "tool_calls": {"type": "array", "items": _OBJ},
                    "tool_name": _STR,
                },
            },
        },
        "tools": {"type": "array", "items": _OBJ},
    },
}
_OLLAMA_GENERATE = {
    "type": "object",
    "required": ["model"],
    "properties": {
        **_OLLAMA_COMMON,
        "prompt": _STR,
        "system": _STR,
        "raw": _BOOL,
        "images": {"type": "array", "items": _STR},
        "template": _STR,
        "suffix": _STR,
    },
}
_OLLAMA_EMBED = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": _STR,
        "input": {"anyOf": [_STR, {"type": "array", "items": _STR}]},
        "truncate": _BOOL,
        "dimensions": _INT,
        "keep_alive": {"anyOf": [_NUMBER, _STR]},
    },
}
_OLLAMA_EMBEDDINGS = {
    "type": "object",
    "required": ["model", "prompt"],
    "properties": {"model": _STR, "prompt": _STR},
}
_OLLAMA_MODEL = {"type": "object", "required": ["model"], "properties": {"model": _STR}}
_OLLAMA_PULL = {
    "type": "object",
    "required": ["model"],
    "properties": {"model": _STR, "stream": _BOOL, "insecure": _BOOL},
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
        "temperature": _OPENAI_SETTINGS["temperature"],
        "top_p": _OPENAI_SETTINGS["top_p"],
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


def _post(
    body: dict[str, Any],
    summary: str,
    *,
    sse: bool = True,
    ndjson: bool = False,
    method: str = "post",
) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _OBJ}}
    if sse:
        content["text/event-stream"] = {"schema": _STR}
    if ndjson:
        content["application/x-ndjson"] = {"schema": _STR}
    return {
        method: {
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
    generate_v1 = _post(_GEMINI, "Gemini generateContent / streamGenerateContent (API v1 path)")
    generate_v1["post"]["parameters"] = [
        {**gemini, "name": "model"},
        generate["post"]["parameters"][1],
    ]
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
            "/v1/responses": _post(_RESPONSES, "OpenAI Responses (stored, chained, background)"),
            "/v1/responses/{response_id}": _stored("get", "delete"),
            "/v1/responses/{response_id}/input_items": _stored("get", params=_ITEM_QUERY),
            "/v1/responses/{response_id}/cancel": _stored("post"),
            "/v1/messages": _post(_ANTHROPIC, "Anthropic messages"),
            "/v1beta/models": _get("Gemini model list"),
            "/v1beta/models/{target}": generate,
            "/v1/models/{model}": {**one_model, **generate_v1},
            **_ollama_paths(),
            "/health": _get("liveness", errors=False),
            "/ready": _get("readiness: every model loaded", errors=False),
            "/metrics": _get("Prometheus metrics"),
        },
    }


def _ollama_paths() -> dict[str, Any]:
    """Ollama's native API (streams are NDJSON)."""
    return {
        "/api/chat": _post(_OLLAMA_CHAT, "Ollama chat", sse=False, ndjson=True),
        "/api/generate": _post(_OLLAMA_GENERATE, "Ollama generate", sse=False, ndjson=True),
        "/api/embed": _post(_OLLAMA_EMBED, "Ollama embed", sse=False),
        "/api/embeddings": _post(_OLLAMA_EMBEDDINGS, "Ollama embeddings (legacy)", sse=False),
        "/api/show": _post(_OLLAMA_MODEL, "Ollama show: one model's details", sse=False),
        "/api/pull": _post(_OLLAMA_PULL, "Ollama pull into hearth's store", sse=False, ndjson=True),
        "/api/delete": _post(
            _OLLAMA_MODEL, "Ollama delete from hearth's store", sse=False, method="delete"
        ),
        "/api/tags": _get("Ollama: the served models"),
        "/api/ps": _get("Ollama: the loaded models"),
        "/api/version": _get("Ollama API version"),
        "/": _get("liveness, as Ollama's clients check it", errors=False),
    }
