"""Gemini ``generationConfig``, ``tools`` and ``toolConfig`` ↔ hearth settings, tools and
tool choice.

Settings: the settings table's Gemini column (:data:`hearth.settings.SETTINGS`), today
temperature, topP, topK, maxOutputTokens (``max_tokens``), stopSequences, seed,
presencePenalty, frequencyPenalty; ``logprobs`` / ``top_logprobs`` ↔ ``responseLogprobs`` /
``logprobs`` (:mod:`hearth.wire.gemini.logprobs`); inbound, ``candidateCount`` ↔ ``n``.
``min_p`` and ``repeat_penalty`` have no Gemini form and are dropped outbound. Thinking:

* ``thinking=True`` ↔ ``thinkingConfig.includeThoughts: true`` (+ ``thinkingBudget``);
* ``thinking=False`` ↔ ``thinkingBudget: 0`` (no thinking; any ``thinking_budget`` is moot);
* ``thinking=None`` with a budget ↔ ``thinkingBudget`` alone; ``-1`` (dynamic) is the default.

Tools go out as ``functionDeclarations`` with ``parametersJsonSchema`` (hearth's parameters are
JSON Schema). Inbound, ``parameters`` (Gemini's OpenAPI-subset schema) is accepted too and turned
into JSON Schema (``"STRING"`` → ``"string"``, ``nullable`` → a ``"null"`` type).

Tool choice: ``auto`` ↔ no ``toolConfig`` (or mode AUTO / VALIDATED), ``required`` ↔ ANY,
``none`` ↔ NONE, a tool's name ↔ ANY with ``allowedFunctionNames: [name]``.

Structured output: ``ChatRequest.response_format`` goes out as ``responseMimeType:
application/json`` plus ``responseJsonSchema`` (see :mod:`hearth.wire.gemini.output`); inbound,
``responseJsonSchema`` or ``responseSchema`` (:func:`response_format_from_wire`).
"""

from __future__ import annotations

from typing import Any

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import JsonObject, JsonValue
from hearth.request import OutputFormat, ToolChoice, ToolSpec
from hearth.settings import MAX_CHOICES, GenerationSettings, wire_fields, wire_values
from hearth.wire.gemini import logprobs as gemini_logprobs
from hearth.wire.gemini import shapes

_GEMINI_FIELDS = wire_fields("gemini")
"""The settings with a ``generationConfig`` field of their own (the settings table)."""
_ATTRIBUTES = {
    field.alias or name: name for name, field in shapes.GenerationConfig.model_fields.items()
}
"""``generationConfig`` field → its attribute on :class:`shapes.GenerationConfig`."""
_SETTING_PATHS = (
    *((setting.name, key) for setting, key in _GEMINI_FIELDS),
    ("thinking_budget", "thinkingConfig.thinkingBudget"),
)
"""Setting → where it is in ``generationConfig``, to name the field in an error."""


# --- hearth → Gemini -------------------------------------------------------------------------


def settings_to_wire(settings: GenerationSettings) -> JsonObject:
    """The ``generationConfig`` object (empty when every setting is left to Gemini)."""
    config: JsonObject = {key: value for _, key, value in wire_values(settings, "gemini")}
    config.update(gemini_logprobs.settings_to_wire(settings))
    thinking = _thinking_to_wire(settings.thinking, settings.thinking_budget)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _thinking_to_wire(thinking: bool | None, budget: int | None) -> JsonObject:
    if thinking is False:
        return {"thinkingBudget": 0}
    config: JsonObject = {}
    if budget is not None:
        config["thinkingBudget"] = budget
    if thinking:
        config["includeThoughts"] = True
    return config


def tools_to_wire(tools: tuple[ToolSpec, ...]) -> list[JsonValue]:
    declarations: list[JsonValue] = []
    for tool in tools:
        declaration: JsonObject = {"name": tool.name}
        if tool.description:
            declaration["description"] = tool.description
        declaration["parametersJsonSchema"] = tool.parameters
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}] if declarations else []


def tool_choice_to_wire(choice: ToolChoice) -> JsonObject | None:
    """The ``toolConfig`` object, or None for ``auto`` (Gemini's default)."""
    if choice == "auto":
        return None
    if choice == "none":
        config: JsonObject = {"mode": "NONE"}
    elif choice == "required":
        config = {"mode": "ANY"}
    else:
        config = {"mode": "ANY", "allowedFunctionNames": [choice]}
    return {"functionCallingConfig": config}


# --- Gemini → hearth -------------------------------------------------------------------------


def settings_from_wire(config: shapes.GenerationConfig | None) -> GenerationSettings:
    if config is None:
        return GenerationSettings()
    _refuse_unsupported(config)
    thinking, budget = _thinking_from_wire(config.thinking_config)
    values: dict[str, Any] = {
        setting.name: getattr(config, _ATTRIBUTES[key]) for setting, key in _GEMINI_FIELDS
    }
    values["stop"] = tuple(values["stop"] or ())
    values["logprobs"], values["top_logprobs"] = gemini_logprobs.settings_from_wire(config)
    values["n"] = config.candidate_count if config.candidate_count != 1 else None
    try:
        return GenerationSettings(**values, thinking=thinking, thinking_budget=budget)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{_setting_path(str(exc))}: {exc}") from None


def _setting_path(message: str) -> str:
    for name, wire in _SETTING_PATHS:
        if message.startswith(f"{name} "):
            return f"generationConfig.{wire}"
    if "stop sequence" in message:
        return "generationConfig.stopSequences"
    return "generationConfig"


def response_format_from_wire(config: shapes.GenerationConfig | None) -> OutputFormat | None:
    """``responseMimeType: application/json`` with ``responseJsonSchema`` (JSON schema) or
    ``responseSchema`` (Gemini's OpenAPI subset) → a json_schema format; without a schema → any
    JSON; ``text/plain`` or nothing → None. A schema needs the JSON MIME type, as Gemini says."""
    if config is None:
        return None
    mime = config.response_mime_type
    schema_field = "responseJsonSchema" if config.response_json_schema is not None else (
        "responseSchema" if config.response_schema is not None else None)  # fmt: skip
    if mime in (None, "text/plain"):
        if schema_field is not None:
            raise InvalidRequestError(
                f"generationConfig.{schema_field}: needs responseMimeType 'application/json'"
            )
        return None
    if mime != "application/json":
        raise UnsupportedFeatureError(
            f"generationConfig.responseMimeType: {mime!r} is not supported; use "
            "'application/json' or 'text/plain'"
        )
    if schema_field is None:
        return OutputFormat("json")
    raw = config.response_json_schema if schema_field == "responseJsonSchema" else (
        config.response_schema)  # fmt: skip
    if not isinstance(raw, dict):
        raise InvalidRequestError(f"generationConfig.{schema_field}: expected an object")
    schema = raw if schema_field == "responseJsonSchema" else openapi_to_json_schema(raw)
    from hearth._schema import check_schema

    check_schema(schema, what=f"generationConfig.{schema_field}")
    return OutputFormat("json_schema", schema=schema)


def _refuse_unsupported(config: shapes.GenerationConfig) -> None:
    """Settings that would change the answer are refused by name, never silently dropped."""
    count = config.candidate_count
    if count is not None and not 1 <= count <= MAX_CHOICES:
        raise InvalidRequestError(
            f"generationConfig.candidateCount: must be between 1 and {MAX_CHOICES}, got {count}"
        )
    modalities = [m.upper() for m in config.response_modalities or ()]
    if any(m != "TEXT" for m in modalities):
        raise UnsupportedFeatureError(
            f"generationConfig.responseModalities: hearth answers with text only, got "
            f'{config.response_modalities!r}; use ["TEXT"]'
        )
    if config.speech_config is not None:
        raise UnsupportedFeatureError(
            "generationConfig.speechConfig: hearth does not produce speech; leave it out"
        )


def _thinking_from_wire(config: shapes.ThinkingConfig | None) -> tuple[bool | None, int | None]:
    if config is None:
        return None, None
    budget = config.thinking_budget
    if budget is not None and budget < -1:
        raise InvalidRequestError(
            "generationConfig.thinkingConfig.thinkingBudget: must be -1 (dynamic) or at least "
            f"0, got {budget}"
        )
    if budget == -1:
        budget = None
    if config.include_thoughts:
        return True, budget
    if budget == 0:
        return False, None
    return None, budget


def tools_from_wire(tools: list[shapes.Tool] | None) -> tuple[ToolSpec, ...]:
    specs: list[ToolSpec] = []
    for i, tool in enumerate(tools or ()):
        if tool.function_declarations is None:
            kinds = ", ".join(sorted(tool.model_extra or {})) or "an empty tool"
            raise UnsupportedFeatureError(
                f"tools[{i}]: only functionDeclarations are supported, got {kinds}"
            )
        for j, declaration in enumerate(tool.function_declarations):
            path = f"tools[{i}].functionDeclarations[{j}]"
            specs.append(_declaration_from_wire(declaration, path))
    names = [spec.name for spec in specs]
    for name in names:
        if names.count(name) > 1:
            raise InvalidRequestError(f"tools: function {name!r} is declared more than once")
    return tuple(specs)


def _declaration_from_wire(declaration: shapes.FunctionDeclaration, path: str) -> ToolSpec:
    if declaration.parameters is not None and declaration.parameters_json_schema is not None:
        raise InvalidRequestError(
            f"{path}: give either parameters or parametersJsonSchema, not both"
        )
    description = declaration.description or ""
    if declaration.parameters_json_schema is not None:
        return ToolSpec(declaration.name, description, declaration.parameters_json_schema)
    if declaration.parameters is not None:
        return ToolSpec(
            declaration.name, description, openapi_to_json_schema(declaration.parameters)
        )
    return ToolSpec(declaration.name, description)


def openapi_to_json_schema(schema: JsonObject) -> JsonObject:
    """Gemini's OpenAPI-subset schema as JSON Schema: type names in lower case and
    ``nullable: true`` folded into the type."""
    out: JsonObject = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            out[key] = {
                name: openapi_to_json_schema(sub) if isinstance(sub, dict) else sub
                for name, sub in value.items()
            }
        elif key == "items" and isinstance(value, dict):
            out[key] = openapi_to_json_schema(value)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [openapi_to_json_schema(s) if isinstance(s, dict) else s for s in value]
        elif key != "nullable":
            out[key] = value
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def tool_choice_from_wire(config: shapes.ToolConfig | None, names: list[str]) -> ToolChoice:
    calling = config.function_calling_config if config is not None else None
    if calling is None:
        return "auto"
    path = "toolConfig.functionCallingConfig"
    mode = (calling.mode or "AUTO").upper()
    if mode in ("AUTO", "VALIDATED", "MODE_UNSPECIFIED"):
        return "auto"
    if mode == "NONE":
        return "none"
    if mode != "ANY":
        raise InvalidRequestError(
            f"{path}.mode: expected AUTO, ANY, NONE or VALIDATED, got {calling.mode!r}"
        )
    allowed = calling.allowed_function_names or []
    for name in allowed:
        if name not in names:
            raise InvalidRequestError(
                f"{path}.allowedFunctionNames: {name!r} names no declared function"
            )
    if len(allowed) == 1:
        return allowed[0]
    if not allowed or set(allowed) == set(names):
        return "required"
    raise UnsupportedFeatureError(
        f"{path}.allowedFunctionNames: hearth can force one function or any of them, "
        f"not a subset of {len(allowed)}"
    )
