"""Gemini generateContent translator: documented transcripts decoded as a user would see them,
lossless re-encoding, inbound validation."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from hearth.errors import InvalidRequestError, ProviderError, UnsupportedFeatureError
from hearth.events import StopReason, Usage
from hearth.messages import (
    ImagePart,
    JsonObject,
    Message,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ChatRequest, ToolSpec
from hearth.response import Response
from hearth.settings import GenerationSettings
from hearth.wire.gemini import chat as gemini

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gemini"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def reencode(history: list[Message]) -> JsonObject:
    return gemini.request_to_wire(ChatRequest(tuple(history)), model="m", stream=False)


# --- responses, as a user sees them ----------------------------------------------------------


def test_text_response() -> None:
    r = gemini.response_from_wire(load("response_text.json"))
    assert r.text.startswith("AI learns patterns")
    assert r.stop_reason == "end_turn"
    assert r.usage == Usage(input_tokens=8, output_tokens=19)
    assert r.model == "gemini-2.0-flash"
    assert r.response_id == "mQk3aKvEJ4iSz7IPp5nZ8Qg"
    assert r.tool_calls == ()


def test_function_call_without_id_gets_a_synthetic_one() -> None:
    r = gemini.response_from_wire(load("response_function_call.json"))
    assert r.stop_reason == "tool_use"
    (call,) = r.tool_calls
    assert (call.id, call.name) == ("call_0", "schedule_meeting")
    assert call.parsed_arguments() == {
        "attendees": ["Bob", "Alice"],
        "date": "2025-03-27",
        "time": "10:00",
        "topic": "Q3 planning",
    }
    assert call.arguments.startswith('{"attendees":["Bob","Alice"]')  # compact JSON text
    assert call.meta == {"gemini_synthetic_id": True}


def test_parallel_calls_keep_their_order_and_cached_usage() -> None:
    r = gemini.response_from_wire(load("response_parallel_calls.json"))
    assert [(c.id, c.name) for c in r.tool_calls] == [
        ("call_0", "power_disco_ball"),
        ("call_1", "start_music"),
        ("call_2", "dim_lights"),
    ]
    assert r.tool_calls[2].parsed_arguments() == {"brightness": 0.3}
    assert r.usage == Usage(input_tokens=210, output_tokens=40, cached_tokens=128)


def test_thinking_with_signatures_on_thought_and_function_call() -> None:
    r = gemini.response_from_wire(load("response_thinking_signatures.json"))
    thought, flight, weather = r.message.parts
    assert isinstance(thought, ThinkingPart)
    assert r.thinking.startswith("**Checking the flight**")
    assert thought.signature is not None and thought.signature.startswith("CiIBVKhc")
    assert flight == ToolCallPart(
        "fc_8c1c5a3e",
        "check_flight",
        '{"flight":"AA100","date":"2025-11-20"}',
        signature="CmUBVKhc7k0V3Jc1yB0yNp4vPj2Vt9e8M3pS+v8dWqgS3R8xkqJ8Jw4r5vK6Yt0N2t5kF0hFJb6wYkR7",
    )
    assert weather == ToolCallPart("fc_93ad77b1", "check_weather", '{"airport":"JFK"}')
    assert r.stop_reason == "tool_use"
    # Gemini's candidates count excludes thoughts; hearth's output includes them.
    assert r.usage == Usage(input_tokens=96, output_tokens=222, thinking_tokens=180)


def test_text_parts_stamped_thought_false() -> None:
    r = gemini.response_from_wire(load("response_thought_false.json"))
    first, second = r.message.parts
    assert isinstance(first, TextPart) and isinstance(second, TextPart)
    assert r.text == "The flight AA100 is delayed by 40 minutes; the weather at JFK is clear."
    assert first.signature is not None
    assert first.meta == second.meta == {"gemini_thought": False}
    assert r.thinking == ""


def test_blocked_prompt_is_content_filter_with_no_message() -> None:
    r = gemini.response_from_wire(load("response_prompt_blocked.json"))
    assert r.stop_reason == "content_filter"
    assert r.message.parts == ()
    assert r.usage.input_tokens == 14


def test_safety_finish_is_content_filter() -> None:
    r = gemini.response_from_wire(load("response_safety_finish.json"))
    assert (r.stop_reason, r.text, r.usage.input_tokens) == ("content_filter", "", 22)


def test_unknown_parts_fields_and_finish_reasons_are_tolerated() -> None:
    r = gemini.response_from_wire(load("response_unknown_fields.json"))
    assert r.message.parts == (TextPart("The answer is 4."),)  # code parts skipped; one candidate
    assert r.stop_reason == "end_turn"
    assert r.usage == Usage(input_tokens=35, output_tokens=12)


@pytest.mark.parametrize(
    ("finish", "calls", "expected"),
    [
        ("STOP", False, "end_turn"),
        ("STOP", True, "tool_use"),
        ("MAX_TOKENS", False, "max_tokens"),
        ("MAX_TOKENS", True, "max_tokens"),
        ("SAFETY", False, "content_filter"),
        ("RECITATION", False, "content_filter"),
        ("BLOCKLIST", False, "content_filter"),
        ("PROHIBITED_CONTENT", False, "content_filter"),
        ("SPII", False, "content_filter"),
        ("IMAGE_SAFETY", False, "content_filter"),
        ("MALFORMED_FUNCTION_CALL", False, "tool_error"),
        ("UNEXPECTED_TOOL_CALL", False, "tool_error"),
        ("TOO_MANY_TOOL_CALLS", False, "tool_error"),
        ("TOOL_USE", True, "tool_use"),
        ("OTHER", True, "tool_use"),
        ("OTHER", False, "end_turn"),
        ("LANGUAGE", False, "end_turn"),
        (None, False, "end_turn"),
    ],
)
def test_finish_reasons(finish: str | None, calls: bool, expected: str) -> None:
    part: JsonObject = {"functionCall": {"name": "f", "args": {}}} if calls else {"text": "x"}
    candidate: JsonObject = {"content": {"parts": [part], "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    response = gemini.response_from_wire({"candidates": [candidate]})
    assert (response.stop_reason, response.stop_detail) == (expected, finish)


def test_a_malformed_function_call_is_a_tool_error_with_gemini_s_reason() -> None:
    body: JsonObject = {
        "candidates": [
            {
                "finishReason": "MALFORMED_FUNCTION_CALL",
                "finishMessage": "Malformed function call: print(default_api.get_weather(",
                "index": 0,
            }
        ]
    }
    response = gemini.response_from_wire(body)
    assert response.stop_reason == "tool_error"
    assert response.stop_detail == "MALFORMED_FUNCTION_CALL"
    assert response.message.parts == ()
    out: Any = gemini.response_to_wire(response, model="gem", response_id="r")
    assert out["candidates"][0]["finishReason"] == "MALFORMED_FUNCTION_CALL"


def test_stop_detail_is_written_back_when_it_means_the_same_stop_reason() -> None:
    def written(stop: StopReason, detail: str | None) -> str:
        response = Response(Message.assistant("x"), stop, Usage(), stop_detail=detail)
        out: Any = gemini.response_to_wire(response, model="gem", response_id="r")
        return str(out["candidates"][0]["finishReason"])

    assert written("content_filter", "RECITATION") == "RECITATION"
    assert written("end_turn", "LANGUAGE") == "LANGUAGE"
    assert written("end_turn", "MAX_TOKENS") == "STOP"  # says another stop reason
    assert written("end_turn", "end_turn") == "STOP"  # another provider's reason
    assert written("tool_error", None) == "MALFORMED_FUNCTION_CALL"


def test_a_blocked_prompt_keeps_its_block_reason() -> None:
    r = gemini.response_from_wire(load("response_prompt_blocked.json"))
    assert r.stop_reason == "content_filter" and r.stop_detail is not None


def test_malformed_provider_response_names_the_field() -> None:
    body: JsonObject = {"candidates": [{"content": {"parts": [{"text": 5}]}}]}
    with pytest.raises(ProviderError, match=r"candidates\[0\]\.content\.parts\[0\]\.text"):
        gemini.response_from_wire(body)


# --- lossless: decode → history → re-encode, byte for byte -----------------------------------


@pytest.mark.parametrize(
    "fixture",
    [
        "response_thinking_signatures.json",
        "response_thought_false.json",
        "response_function_call.json",
        "response_parallel_calls.json",
        "response_text.json",
    ],
)
def test_model_parts_survive_history_byte_for_byte(fixture: str) -> None:
    wire_parts = load(fixture)["candidates"][0]["content"]["parts"]
    answer = gemini.response_from_wire(load(fixture)).message
    history = [Message.user("go"), answer]
    if answer.tool_calls:
        history.append(Message.tool(*(ToolResultPart(c.id, "ok") for c in answer.tool_calls)))
    body = reencode(history)
    contents: list[Any] = body["contents"]  # type: ignore[assignment]
    assert contents[1]["role"] == "model"
    assert dumps(contents[1]["parts"]) == dumps(wire_parts)


def test_results_for_calls_without_ids_go_back_by_name_without_ids() -> None:
    answer = gemini.response_from_wire(load("response_parallel_calls.json")).message
    results = [ToolResultPart(c.id, f"done {c.name}") for c in answer.tool_calls]
    results[1] = ToolResultPart(answer.tool_calls[1].id, "speaker broken", is_error=True)
    body = reencode([Message.user("party!"), answer, Message.tool(*results)])
    contents: list[Any] = body["contents"]  # type: ignore[assignment]
    assert contents[2] == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "name": "power_disco_ball",
                    "response": {"result": "done power_disco_ball"},
                }
            },
            {"functionResponse": {"name": "start_music", "response": {"error": "speaker broken"}}},
            {"functionResponse": {"name": "dim_lights", "response": {"result": "done dim_lights"}}},
        ],
    }


def test_results_for_calls_with_ids_carry_the_id() -> None:
    answer = gemini.response_from_wire(load("response_thinking_signatures.json")).message
    call = answer.tool_calls[0]
    body = reencode([Message.user("?"), answer, Message.tool(ToolResultPart(call.id, "late"))])
    contents: list[Any] = body["contents"]  # type: ignore[assignment]
    assert contents[2]["parts"] == [
        {
            "functionResponse": {
                "name": "check_flight",
                "response": {"result": "late"},
                "id": "fc_8c1c5a3e",
            }
        }
    ]


def test_inbound_request_reencodes_model_turn_byte_for_byte() -> None:
    body = load("request_full.json")
    request = gemini.request_from_wire(body, model="models/gemini-2.5-flash").request
    out = gemini.request_to_wire(request, model="gemini-2.5-flash", stream=True)
    contents: list[Any] = out["contents"]  # type: ignore[assignment]
    assert dumps(contents[1]["parts"]) == dumps(body["contents"][1]["parts"])
    assert dumps(contents[2]["parts"]) == dumps(body["contents"][2]["parts"])


# --- requests: inbound -----------------------------------------------------------------------


def test_inbound_request_full() -> None:
    wire = gemini.request_from_wire(load("request_full.json"), model="models/gemini-2.5-flash")
    assert (wire.model, wire.stream) == ("gemini-2.5-flash", False)
    req = wire.request
    system, user, model, results, picture = req.messages
    assert system == Message.system("You are a travel assistant. Be brief.")
    assert user.text.startswith("Is AA100 on time")
    assert model.role == "assistant"
    assert model.parts[0] == ThinkingPart("Let me check both.", "CiIBVKhc7oDPpCdf")
    flight, weather = model.tool_calls
    assert (flight.id, flight.signature, weather.id) == ("call_0", "CmUBVKhc7k0V3Jc1", "call_1")
    assert results.role == "tool"
    first, second = results.tool_results
    # responses without ids are matched to the unanswered calls by name
    assert (first.call_id, first.name, first.content) == (
        "call_0",
        "check_flight",
        "delayed 40 min",
    )
    assert (second.call_id, second.is_error) == ("call_1", False)
    assert json.loads(second.content) == {"temperature_c": 18, "sky": "clear"}
    assert picture.role == "user" and picture.images == (
        ImagePart(b"\x89PNG\r\n\x1a\n", "image/png"),
    )
    flight_tool, weather_tool = req.tools
    assert flight_tool.parameters == {
        "type": "object",
        "properties": {
            "flight": {"type": "string", "description": "Flight number"},
            "date": {"type": ["string", "null"]},
        },
        "required": ["flight"],
    }
    assert weather_tool.description == "Weather at an airport."
    assert req.tool_choice == "check_weather"
    assert req.settings == GenerationSettings(
        temperature=0.7,
        top_p=0.95,
        top_k=40,
        max_tokens=1024,
        stop=("END",),
        seed=42,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        thinking=True,
        thinking_budget=2048,
    )


def test_stream_flag_and_model_from_url() -> None:
    body: JsonObject = {"contents": [{"parts": [{"text": "hi"}]}]}
    wire = gemini.request_from_wire(body, model="gemini-2.0-flash", stream=True)
    assert (wire.model, wire.stream) == ("gemini-2.0-flash", True)
    assert wire.request.messages == (Message.user("hi"),)  # role defaults to user


def test_legacy_function_role_is_a_tool_turn() -> None:
    body: JsonObject = {
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}, "id": "x"}}]},
            {"role": "function", "parts": [{"functionResponse": {"name": "f", "id": "x"}}]},
        ]
    }
    tool = gemini.request_from_wire(body, model="m").request.messages[1]
    assert tool == Message.tool(
        ToolResultPart("x", "{}", name="f", meta={"gemini_raw_response": True})
    )


@pytest.mark.parametrize(
    ("body", "error", "needle"),
    [
        ({"contents": []}, InvalidRequestError, r"^contents: at least one"),
        ({}, InvalidRequestError, r"contents: Field required"),
        ({"contents": [{"role": "robot", "parts": [{"text": "x"}]}]}, InvalidRequestError,
         r"contents\[0\]\.role: expected 'user' or 'model', got 'robot'"),
        ({"contents": [{"role": "user", "parts": []}]}, InvalidRequestError,
         r"contents\[0\]\.parts: a content needs at least one part"),
        ({"contents": [{"parts": [{"text": ["x"]}]}]}, InvalidRequestError,
         r"contents\[0\]\.parts\[0\]\.text: Input should be a valid string"),
        ({"contents": [{"parts": [{}]}]}, InvalidRequestError,
         r"contents\[0\]\.parts\[0\]: a part needs one of text"),
        ({"contents": [{"parts": [{"functionCall": {"name": "f"}}]}]}, InvalidRequestError,
         r"contents\[0\]\.parts\[0\]\.functionCall: only a model turn"),
        ({"contents": [{"role": "model", "parts": [{"functionResponse": {"name": "f"}}]}]},
         InvalidRequestError, r"contents\[0\]\.parts\[0\]\.functionResponse: only a user turn"),
        ({"contents": [{"parts": [{"text": "x", "thought": True}]}]}, InvalidRequestError,
         r"contents\[0\]\.parts\[0\]\.thought: only a model turn"),
        ({"contents": [{"role": "model", "parts": [{"functionCall": {"args": {}}}]}]},
         InvalidRequestError, r"contents\[0\]\.parts\[0\]\.functionCall\.name: Field required"),
        ({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "@@@"}}]}]},
         InvalidRequestError, r"contents\[0\]\.parts\[0\]\.inlineData\.data: not valid base64"),
        ({"contents": [{"parts": [{"inlineData": {"mimeType": "audio/wav", "data": "AA=="}}]}]},
         UnsupportedFeatureError, r"contents\[0\]\.parts\[0\]\.inlineData\.mimeType"),
        ({"contents": [{"parts": [{"fileData": {"fileUri": "https://x/y.png"}}]}]},
         UnsupportedFeatureError, r"contents\[0\]\.parts\[0\]\.fileData"),
        ({"contents": [{"parts": [{"executableCode": {"code": "1"}}]}]},
         UnsupportedFeatureError, r"contents\[0\]\.parts\[0\]: unsupported part kind executable"),
        ({"contents": [{"parts": [{"text": "x"}]}],
          "systemInstruction": {"parts": [{"inlineData": {"mimeType": "image/png", "data": ""}}]}},
         InvalidRequestError, r"systemInstruction\.parts\[0\]"),
        ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": "hot"}},
         InvalidRequestError, r"generationConfig\.temperature: Input should be a valid number"),
        ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"topP": 3}},
         InvalidRequestError, r"generationConfig\.topP: top_p must be in"),
        ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"stopSequences": [""]}},
         InvalidRequestError, r"generationConfig\.stopSequences: stop sequences must be"),
        ({"contents": [{"parts": [{"text": "x"}]}],
          "generationConfig": {"thinkingConfig": {"thinkingBudget": -5}}},
         InvalidRequestError, r"generationConfig\.thinkingConfig\.thinkingBudget: must be -1"),
        ({"contents": [{"parts": [{"text": "x"}]}],
          "generationConfig": {"responseMimeType": "text/x.enum"}},
         UnsupportedFeatureError, r"generationConfig\.responseMimeType"),
        ({"contents": [{"parts": [{"text": "x"}]}],
          "generationConfig": {"responseSchema": {"type": "OBJECT"}}},
         InvalidRequestError, r"generationConfig\.responseSchema"),
        ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 0}},
         InvalidRequestError, r"generationConfig\.candidateCount: must be between 1 and 32"),
        ({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"googleSearch": {}}]},
         UnsupportedFeatureError, r"tools\[0\]: only functionDeclarations.*googleSearch"),
        ({"contents": [{"parts": [{"text": "x"}]}],
          "tools": [{"functionDeclarations": [{"name": "f", "parameters": {},
                                                "parametersJsonSchema": {}}]}]},
         InvalidRequestError, r"tools\[0\]\.functionDeclarations\[0\]: give either"),
        ({"contents": [{"parts": [{"text": "x"}]}],
          "tools": [{"functionDeclarations": [{"name": "f"}, {"name": "f"}]}]},
         InvalidRequestError, r"tools: function 'f' is declared more than once"),
        ({"contents": [{"parts": [{"text": "x"}]}],
          "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}},
         InvalidRequestError, r"toolConfig\.functionCallingConfig\.mode: expected AUTO"),
        ({"contents": [{"parts": [{"text": "x"}]}],
          "toolConfig": {"functionCallingConfig": {"mode": "ANY",
                                                   "allowedFunctionNames": ["nope"]}}},
         InvalidRequestError, r"allowedFunctionNames: 'nope' names no declared function"),
        ({"contents": [{"parts": [{"text": "x"}]}],
          "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}],
          "toolConfig": {"functionCallingConfig": {"mode": "ANY",
                                                   "allowedFunctionNames": ["a", "b"]}}},
         UnsupportedFeatureError, r"allowedFunctionNames: hearth can force one function"),
        ([1, 2], InvalidRequestError, r"body: Input should be a valid dictionary"),
    ],
)  # fmt: skip
def test_bad_inbound_bodies_name_the_field(body: Any, error: type[Exception], needle: str) -> None:
    with pytest.raises(error, match=needle):
        gemini.request_from_wire(body, model="m")


def test_inbound_request_needs_a_model() -> None:
    with pytest.raises(InvalidRequestError, match="model: Gemini names the model in the URL"):
        gemini.request_from_wire({"contents": [{"parts": [{"text": "x"}]}]})


@pytest.mark.parametrize(
    ("tool_config", "expected"),
    [
        (None, "auto"),
        ({"functionCallingConfig": {"mode": "AUTO"}}, "auto"),
        ({"functionCallingConfig": {"mode": "VALIDATED"}}, "auto"),
        ({"functionCallingConfig": {"mode": "NONE"}}, "none"),
        ({"functionCallingConfig": {"mode": "ANY"}}, "required"),
        (
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b", "a"]}},
            "required",
        ),
        ({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}}, "b"),
    ],
)
def test_inbound_tool_choice(tool_config: JsonObject | None, expected: str) -> None:
    body: JsonObject = {
        "contents": [{"parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b"}]}],
    }
    if tool_config is not None:
        body["toolConfig"] = tool_config
    request = gemini.request_from_wire(body, model="m").request
    assert request.tool_choice == expected
    assert request.tools[0] == ToolSpec("a")  # no parameters → an empty object schema


@pytest.mark.parametrize(
    ("config", "thinking", "budget"),
    [
        ({"thinkingBudget": 0}, False, None),
        ({"thinkingBudget": -1}, None, None),
        ({"thinkingBudget": 512}, None, 512),
        ({"includeThoughts": True}, True, None),
        ({"includeThoughts": True, "thinkingBudget": -1}, True, None),
        ({"includeThoughts": False, "thinkingBudget": 64}, None, 64),
    ],
)
def test_inbound_thinking_config(
    config: JsonObject, thinking: bool | None, budget: int | None
) -> None:
    body: JsonObject = {
        "contents": [{"parts": [{"text": "x"}]}],
        "generationConfig": {"thinkingConfig": config},
    }
    settings = gemini.request_from_wire(body, model="m").request.settings
    assert (settings.thinking, settings.thinking_budget) == (thinking, budget)


# --- requests: outbound ----------------------------------------------------------------------


SCHEMA: JsonObject = {"type": "object", "properties": {"q": {"type": "string"}}}


def test_outbound_request_shape() -> None:
    call = ToolCallPart("c1", "lookup", '{"q": "x"}')
    request = ChatRequest(
        (
            Message.system("Be terse."),
            Message.user([TextPart("look at"), ImagePart(b"\x00\x01", "image/jpeg")]),
            Message.assistant([ThinkingPart("hmm", "sig"), call]),
            Message.tool(ToolResultPart("c1", "found")),
        ),
        GenerationSettings(temperature=0.2, min_p=0.1, repeat_penalty=1.1, max_tokens=50,
                           stop=("##",), thinking=False),
        (ToolSpec("lookup", "Look it up.", SCHEMA),),
        "required",
    )  # fmt: skip
    assert gemini.request_to_wire(request, model="gemini-2.5-pro", stream=True) == {
        "contents": [
            {"role": "user", "parts": [
                {"text": "look at"},
                {"inlineData": {"mimeType": "image/jpeg", "data": "AAE="}},
            ]},
            {"role": "model", "parts": [
                {"text": "hmm", "thought": True, "thoughtSignature": "sig"},
                {"functionCall": {"name": "lookup", "args": {"q": "x"}, "id": "c1"}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse":
                    {"name": "lookup", "response": {"result": "found"}, "id": "c1"}},
            ]},
        ],
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "tools": [{"functionDeclarations": [{
            "name": "lookup",
            "description": "Look it up.",
            "parametersJsonSchema": SCHEMA,
        }]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        # min_p and repeat_penalty have no Gemini form; thinking=False is a zero budget
        "generationConfig": {
            "temperature": 0.2,
            "maxOutputTokens": 50,
            "stopSequences": ["##"],
            "thinkingConfig": {"thinkingBudget": 0},
        },
    }  # fmt: skip


def test_outbound_tool_choice_forms() -> None:
    tools = (ToolSpec("a"), ToolSpec("b"))

    def config(choice: str) -> object:
        req = ChatRequest((Message.user("x"),), tools=tools, tool_choice=choice)
        return gemini.request_to_wire(req, model="m", stream=False).get("toolConfig")

    assert config("auto") is None
    assert config("none") == {"functionCallingConfig": {"mode": "NONE"}}
    assert config("b") == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}}


def test_outbound_thinking_forms() -> None:
    def thinking(**kwargs: Any) -> object:
        req = ChatRequest((Message.user("x"),), GenerationSettings(**kwargs))
        config: Any = gemini.request_to_wire(req, model="m", stream=False).get("generationConfig")
        return None if config is None else config.get("thinkingConfig")

    assert thinking() is None
    assert thinking(thinking=True) == {"includeThoughts": True}
    assert thinking(thinking=True, thinking_budget=100) == {
        "thinkingBudget": 100,
        "includeThoughts": True,
    }
    assert thinking(thinking_budget=100) == {"thinkingBudget": 100}


def test_outbound_system_message_after_the_start_is_refused() -> None:
    req = ChatRequest((Message.user("x"), Message.system("late")))
    with pytest.raises(InvalidRequestError, match=r"messages\[1\]: Gemini takes system"):
        gemini.request_to_wire(req, model="m", stream=False)


def test_outbound_tool_result_without_a_name_or_call_is_refused() -> None:
    req = ChatRequest((Message.user("x"), Message.tool(ToolResultPart("ghost", "boo"))))
    with pytest.raises(InvalidRequestError, match=r"messages\[1\]\.parts\[0\].*'ghost'.*name"):
        gemini.request_to_wire(req, model="m", stream=False)


def test_outbound_tool_result_name_comes_from_the_call_and_explicit_name_wins() -> None:
    req = ChatRequest(
        (
            Message.user("x"),
            Message.assistant([ToolCallPart("a", "alpha"), ToolCallPart("b", "beta")]),
            Message.tool(ToolResultPart("a", "1"), ToolResultPart("b", "2", name="renamed")),
        )
    )
    contents: Any = gemini.request_to_wire(req, model="m", stream=False)["contents"]
    names = [p["functionResponse"]["name"] for p in contents[2]["parts"]]
    assert names == ["alpha", "renamed"]


def test_outbound_empty_turn_is_refused_and_redacted_thinking_dropped() -> None:
    redacted = ThinkingPart("", "anthropic-data", redacted=True)
    req = ChatRequest((Message.user("x"), Message.assistant([redacted, TextPart("ok")])))
    contents: Any = gemini.request_to_wire(req, model="m", stream=False)["contents"]
    assert contents[1]["parts"] == [{"text": "ok"}]
    empty = ChatRequest((Message.user("x"), Message.assistant([redacted])))
    with pytest.raises(InvalidRequestError, match=r"messages\[1\]: .*at least one part"):
        gemini.request_to_wire(empty, model="m", stream=False)


def test_outbound_tool_call_with_bad_arguments_is_refused() -> None:
    req = ChatRequest((Message.user("x"), Message.assistant(ToolCallPart("a", "f", "{oops"))))
    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        gemini.request_to_wire(req, model="m", stream=False)


def test_raw_function_response_objects_round_trip() -> None:
    body: Any = {
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
            {"parts": [{"functionResponse": {"name": "f", "response": {"a": [1, {"b": None}]}}}]},
        ]
    }
    request = gemini.request_from_wire(body, model="m").request
    call = request.messages[0].tool_calls[0]
    assert (call.arguments, call.meta) == (
        "{}",
        {"gemini_synthetic_id": True, "gemini_no_args": True},
    )
    out = gemini.request_to_wire(request, model="m", stream=False)
    assert dumps(out["contents"]) == dumps(
        [{"role": "model", "parts": body["contents"][0]["parts"]},
         {"role": "user", "parts": body["contents"][1]["parts"]}]
    )  # fmt: skip


# --- responses: outbound (the server) --------------------------------------------------------


def test_response_to_wire() -> None:
    response = Response(
        Message.assistant([ThinkingPart("t", "s"), TextPart("hi"), ToolCallPart("c", "f", "{}")]),
        "tool_use",
        Usage(input_tokens=10, output_tokens=7, cached_tokens=4, thinking_tokens=3),
    )
    assert gemini.response_to_wire(response, model="gem", response_id="r1") == {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "t", "thought": True, "thoughtSignature": "s"},
                        {"text": "hi"},
                        {"functionCall": {"name": "f", "args": {}, "id": "c"}},
                    ],
                    "role": "model",
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 4,
            "totalTokenCount": 17,
            "cachedContentTokenCount": 4,
            "thoughtsTokenCount": 3,
        },
        "modelVersion": "gem",
        "responseId": "r1",
    }


def test_empty_filtered_response_to_wire_has_no_content() -> None:
    response = Response(Message.assistant([]), "content_filter", Usage(3, 0))
    body: Any = gemini.response_to_wire(response, model="gem", response_id="r")
    assert body["candidates"] == [{"finishReason": "SAFETY", "index": 0}]
    assert gemini.response_from_wire(body).stop_reason == "content_filter"


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n-pixels-").decode()


def test_an_image_the_model_returns_is_kept_and_goes_back_byte_for_byte() -> None:
    parts: list[Any] = [
        {"text": "Here is your cat:"},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"inlineData": {"mimeType": "audio/wav", "data": "AAAA"}},  # no hearth part: skipped
    ]
    body: JsonObject = {"candidates": [{"content": {"parts": parts, "role": "model"}}]}
    answer = gemini.response_from_wire(body).message
    assert answer.parts == (
        TextPart("Here is your cat:"),
        ImagePart(b"\x89PNG\r\n\x1a\n-pixels-", "image/png"),
    )
    out: Any = gemini.request_to_wire(
        ChatRequest((Message.user("draw a cat"), answer)), model="m", stream=False
    )
    assert json.dumps(out["contents"][1]["parts"]) == json.dumps(parts[:2])


def test_a_model_turn_with_an_image_is_accepted_inbound() -> None:
    body: Any = {
        "contents": [
            {"role": "user", "parts": [{"text": "draw a cat"}]},
            {"role": "model", "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}}]},
            {"role": "user", "parts": [{"text": "bigger"}]},
        ]
    }
    request = gemini.request_from_wire(body, model="m").request
    assert isinstance(request.messages[1].parts[0], ImagePart)
