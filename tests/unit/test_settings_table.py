"""The settings table (hearth.settings.SETTINGS): the mirrors that must stay written out match it,
and what is derived from it — validation, every wire codec's plain fields — follows each row."""

from __future__ import annotations

import math
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from hearth.client import SettingsOverrides
from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, Message
from hearth.request import ChatRequest, ToolSpec
from hearth.settings import (
    FORMAT_COLUMNS,
    SETTINGS,
    SETTINGS_BY_NAME,
    GenerationSettings,
    Setting,
    Wire,
    wire_fields,
)
from hearth.wire.formats import FORMAT_NAMES, get_format
from hearth.wire.gemini import shapes as gemini_shapes

NUMBERS = [s for s in SETTINGS if s.kind in (int, float)]


def _members(hint: object) -> set[object]:
    """The members of a union type (``float | None`` → {float, NoneType}), or {hint}."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return set(typing.get_args(hint))
    return {hint}


def test_the_table_has_one_row_per_field_in_order() -> None:
    assert [s.name for s in SETTINGS] == [f.name for f in fields(GenerationSettings)]
    assert all(isinstance(s, Setting) and s.doc.strip() for s in SETTINGS)
    assert {s.kind for s in SETTINGS} <= {float, int, bool, tuple}


def test_the_wire_columns_are_the_wire_formats() -> None:
    assert set(FORMAT_COLUMNS) <= set(FORMAT_NAMES)
    assert FORMAT_NAMES[: len(FORMAT_COLUMNS)] == FORMAT_COLUMNS  # the first formats, in order
    assert [f.name for f in fields(Wire)][: len(FORMAT_COLUMNS)] == list(FORMAT_COLUMNS)


def test_settings_overrides_match_the_table() -> None:
    """SettingsOverrides is written out for static typing (``**overrides: Unpack[…]``); a new
    row needs its key there, with a type that takes the setting's values."""
    overrides = typing.get_type_hints(SettingsOverrides)
    table = typing.get_type_hints(GenerationSettings)
    missing = [s.name for s in SETTINGS if s.name not in overrides]
    assert not missing, f"add {missing} to SettingsOverrides in hearth/client.py"
    assert list(overrides) == [s.name for s in SETTINGS], "keep SettingsOverrides in table order"
    for name, hint in overrides.items():
        wanted = _members(table[name]) - {type(None)}
        assert wanted <= _members(hint), (name, hint, table[name])


def test_gemini_generation_config_has_a_field_for_each_gemini_setting() -> None:
    """shapes.GenerationConfig (pydantic, written out) validates inbound generationConfig: each
    setting with a Gemini field needs a field of the same alias and a matching type."""
    by_alias = {f.alias or n: f for n, f in gemini_shapes.GenerationConfig.model_fields.items()}
    for setting, key in wire_fields("gemini"):
        assert key in by_alias, f"GenerationConfig lacks {key} ({setting.name})"
        members = _members(by_alias[key].annotation) - {type(None)}
        wanted = list[str] if setting.kind is tuple else setting.kind
        assert members == {wanted}, (key, members)


def test_openai_extensions_and_renames() -> None:
    """The endpoint options that rename an OpenAI field are the ones the codec knows, and the
    llama.cpp samplers go to OpenAI-compatible servers only as extensions."""
    for setting, _ in wire_fields("openai"):
        if setting.wire.openai_option is not None:
            assert setting.wire.openai_option in ("max_tokens_field", "repeat_penalty_field")
    local = {s.name for s, _ in wire_fields("openai") if s.local}
    assert {"top_k", "min_p", "repeat_penalty"} <= local
    assert not local & {"temperature", "top_p", "seed", "max_tokens", "stop"}


def test_cli_flags_are_unique_and_on_numbers() -> None:
    flags = [flag for s in SETTINGS for flag in s.cli]
    assert len(flags) == len(set(flags))
    assert all(s.kind in (int, float) for s in SETTINGS if s.cli)
    assert {"--temperature", "-t", "--max-tokens", "-n", "--seed"} <= set(flags)


# --- validation comes from the rows ---------------------------------------------------------


@pytest.mark.parametrize("setting", NUMBERS, ids=lambda s: s.name)
def test_each_number_is_checked_against_its_range(setting: Setting) -> None:
    assert setting.low is not None and setting.high is not None
    GenerationSettings(**{setting.name: setting.high})  # type: ignore[arg-type]
    if not setting.low_open:
        GenerationSettings(**{setting.name: setting.low})  # type: ignore[arg-type]
    step = 1 if setting.kind is int else 0.5
    for bad in (setting.low - (0 if setting.low_open else step), setting.high + step):
        with pytest.raises(InvalidRequestError, match=f"^{setting.name} must be"):
            GenerationSettings(**{setting.name: bad})  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match=f"^{setting.name} must be a"):
        GenerationSettings(**{setting.name: "1"})  # type: ignore[arg-type]


def test_the_messages_keep_their_wording() -> None:
    with pytest.raises(InvalidRequestError, match=r"^temperature must be in \[0.0, 100.0\], got"):
        GenerationSettings(temperature=101)
    with pytest.raises(InvalidRequestError, match=r"^repeat_penalty must be in \(0.0, 100.0\]"):
        GenerationSettings(repeat_penalty=0)
    with pytest.raises(InvalidRequestError, match=r"^max_tokens must be between 1 and 1048576"):
        GenerationSettings(max_tokens=0)
    with pytest.raises(InvalidRequestError, match=r"^thinking must be true or false"):
        GenerationSettings(thinking="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match=r"^stop must be a string or a list"):
        GenerationSettings(stop=None)  # type: ignore[arg-type]


# --- every wire format carries each of its plain settings, both ways -----------------------


def _sample(setting: Setting) -> object:
    """A valid value of ``setting`` that is not its lower bound."""
    if setting.kind is tuple:
        return ("END",)
    if setting.kind is bool:
        return False
    assert setting.low is not None and setting.high is not None
    if setting.kind is int:
        return int(setting.low) + 1
    return (setting.low + min(setting.high, setting.low + 1.0)) / 2


def _settings_part(fmt: str, body: JsonObject) -> JsonObject:
    where = {"gemini": "generationConfig", "ollama": "options"}.get(fmt)
    part = body if where is None else body[where]
    assert isinstance(part, dict)
    return part


CASES = [
    pytest.param(fmt, setting, key, id=f"{fmt}-{setting.name}")
    for fmt in FORMAT_COLUMNS
    for setting, key in wire_fields(fmt)
]


@pytest.mark.parametrize(("fmt", "setting", "key"), CASES)
def test_each_wire_field_goes_out_and_comes_back(fmt: str, setting: Setting, key: str) -> None:
    value = _sample(setting)
    settings = GenerationSettings(**{setting.name: value})  # type: ignore[arg-type]
    tools = (ToolSpec("t", "", {"type": "object"}),)  # parallel_tool_calls goes only with tools
    request = ChatRequest((Message.user("hi"),), settings, tools=tools)
    wire = get_format(fmt)
    body = wire.chat.request_to_wire(
        request, model="m", stream=False, options={"sampler_extensions": True}
    )
    sent = _settings_part(fmt, body)
    assert sent[key] == (list(value) if isinstance(value, tuple) else value)  # type: ignore[arg-type]
    assert wire.serve is not None
    back = wire.serve.request_from_wire(body, model="m").request.settings
    assert getattr(back, setting.name) == value


def test_a_local_setting_is_an_openai_extension() -> None:
    request = ChatRequest((Message.user("hi"),), GenerationSettings(top_k=5, min_p=0.1))
    body = get_format("openai").chat.request_to_wire(request, model="m", stream=False, options={})
    assert "top_k" not in body and "min_p" not in body


def test_an_endpoint_option_renames_an_openai_field() -> None:
    settings = GenerationSettings(max_tokens=7, repeat_penalty=1.1)
    request = ChatRequest((Message.user("hi"),), settings)
    options = {
        "sampler_extensions": True,
        "max_tokens_field": "max_tokens",
        "repeat_penalty_field": "repetition_penalty",
    }
    body = get_format("openai").chat.request_to_wire(
        request, model="m", stream=False, options=options
    )
    assert (body["max_tokens"], body["repetition_penalty"]) == (7, 1.1)
    assert "max_completion_tokens" not in body and "repeat_penalty" not in body
    assert SETTINGS_BY_NAME["max_tokens"].wire.openai_aliases == ("max_tokens",)


def test_sample_values_are_valid() -> None:
    for setting in SETTINGS:
        if setting.kind is not bool:
            value = _sample(setting)
            assert not (isinstance(value, float) and math.isnan(value))
            GenerationSettings(**{setting.name: value})  # type: ignore[arg-type]


def test_the_openapi_schema_lists_each_setting_field_with_its_range() -> None:
    from hearth.server.openapi import openapi_schema

    paths = openapi_schema()["paths"]

    def body(path: str) -> dict[str, Any]:
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        return dict(schema["properties"])

    gemini = body("/v1beta/models/{target}")["generationConfig"]
    where = {
        "openai": body("/v1/chat/completions"),
        "anthropic": body("/v1/messages"),
        "gemini": gemini["properties"],
    }
    for fmt, properties in where.items():
        for setting, key in wire_fields(fmt):
            assert properties[key]["description"] == setting.doc, (fmt, key)
    top_p = dict(where["openai"]["top_p"], description=None)
    assert top_p == {"type": "number", "minimum": 0.0, "maximum": 1.0, "description": None}
    assert where["anthropic"]["temperature"]["maximum"] == 1.0  # Anthropic's own range
    assert where["openai"]["repetition_penalty"]["exclusiveMinimum"] == 0.0


ENGINE = Path(__file__).parents[2] / "src" / "hearth" / "backends" / "local" / "sampler.py"
ELSEWHERE = {"max_tokens", "thinking_budget"}  # the scheduler and the templates use these


def test_each_sampling_number_has_its_engine_line() -> None:
    """A new sampler row is one row plus the line in the local engine's sampler chain that
    uses it (docs/adding-a-setting.md); without that line local models would ignore it."""
    sampler = ENGINE.read_text(encoding="utf-8").split("class Sampler", 1)[1]
    for setting in NUMBERS:
        if setting.name not in ELSEWHERE:
            assert f"s.{setting.name}" in sampler, f"the sampler chain never reads {setting.name}"
