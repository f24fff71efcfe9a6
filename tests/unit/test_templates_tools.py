"""Tools in chat templates: the tool list reaches the model, and earlier calls are written in the
syntax the tool-call parser reads back.

tests/fixtures/toolcalls/templates/ holds real chat templates as published with the models
(copied from llama.cpp's models/templates at 1652066e0af45f2313b339670ef9555e8a54e545).
"""

from __future__ import annotations

import json
import keyword
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearth.backends.local.templates import (
    ChatMLTemplate,
    ChatTemplate,
    GemmaTemplate,
    JinjaChatTemplate,
)
from hearth.backends.local.toolcalls import ToolCallParser, ToolFamily
from hearth.backends.local.toolcalls_prompts import gemma_tool_prompt, hermes_tool_prompt
from hearth.events import ToolCallEvent
from hearth.messages import JsonObject, Message, TextPart, ToolCallPart, ToolResultPart
from hearth.request import ToolSpec

TEMPLATES = Path(__file__).parents[1] / "fixtures" / "toolcalls" / "templates"

WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather in a city.",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "array", "items": {"type": "integer"}, "description": "Days ahead"},
        },
        "required": ["city"],
    },
)
CALL = ToolCallPart(
    id="call_0123456789abcdef01234567", name="get_weather", arguments='{"city": "Zürich"}'
)
RESULT = ToolResultPart(call_id=CALL.id, content='{"temp": 21}')
CONVERSATION = [
    Message.system("Be brief."),
    Message.user("Weather in Zürich?"),
    Message.assistant([CALL]),
    Message.tool(RESULT),
]


def parse(family: ToolFamily, text: str) -> list[ToolCallPart]:
    parser = ToolCallParser(family, ["get_weather"])
    events = parser.feed(text) + parser.finish()
    return [e.call for e in events if isinstance(e, ToolCallEvent)]


def load(name: str) -> JinjaChatTemplate:
    return JinjaChatTemplate((TEMPLATES / name).read_text(), bos_token="<s>", eos_token="</s>")


# --- real model templates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "family", "written_call"),
    [
        (
            "Qwen-Qwen2.5-7B-Instruct.jinja",
            "hermes",
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call>',
        ),
        (
            "Qwen-Qwen3-0.6B.jinja",
            "hermes",
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call>',
        ),
        (
            "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja",
            "hermes",
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call>',
        ),
        (
            "meta-llama-Llama-3.1-8B-Instruct.jinja",
            "llama3",
            '{"name": "get_weather", "parameters": {"city": "Zürich"}}',
        ),
        (
            "meta-llama-Llama-3.2-3B-Instruct.jinja",
            "llama3",
            '{"name": "get_weather", "parameters": {"city": "Zürich"}}',
        ),
        (
            "mistralai-Mistral-Nemo-Instruct-2407.jinja",
            "mistral",
            '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Zürich"}, '
            '"id": "ab3e625ed"}]',
        ),
        (
            "Mistral-Small-3.2-24B-Instruct-2506.jinja",
            "mistral",
            '[TOOL_CALLS]get_weather[CALL_ID]ab3e625ed[ARGS]{"city": "Zürich"}',
        ),
        (
            "google-gemma-2-2b-it.jinja",
            "gemma",
            '```tool_code\nget_weather(city="Zürich")\n```',
        ),
        (
            "HuggingFaceTB-SmolLM3-3B.jinja",
            "hermes",
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call>',
        ),
    ],
)
def test_real_templates_show_the_tools_and_write_calls_the_parser_reads_back(
    name: str, family: ToolFamily, written_call: str
) -> None:
    template = load(name)
    prompt = template.render(CONVERSATION, tools=[WEATHER])
    assert template.tool_family == family
    assert "Get the current weather in a city." in prompt
    assert "The city, e.g. Paris" in prompt
    assert written_call in prompt
    [parsed] = parse(family, written_call)
    assert (parsed.name, parsed.parsed_arguments(), parsed.meta) == (
        "get_weather",
        {"city": "Zürich"},
        None,
    )


def test_qwen_gets_the_openai_tool_list_like_hugging_face() -> None:
    prompt = load("Qwen-Qwen2.5-7B-Instruct.jinja").render(CONVERSATION, tools=[WEATHER])
    listed = json.dumps(
        {
            "type": "function",
            "function": {
                "name": WEATHER.name,
                "description": WEATHER.description,
                "parameters": WEATHER.parameters,
            },
        },
        ensure_ascii=False,
    )
    assert prompt.startswith("<|im_start|>system\nBe brief.\n\n# Tools\n\n")
    assert f"<tools>\n{listed}\n</tools>" in prompt
    assert '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>' in prompt


def test_mistral_call_ids_become_the_nine_characters_its_template_demands() -> None:
    prompt = load("Mistral-Small-3.2-24B-Instruct-2506.jinja").render(CONVERSATION)
    assert "[CALL_ID]ab3e625ed[ARGS]" in prompt
    assert "[TOOL_RESULTS]ab3e625ed[TOOL_CONTENT]" in prompt  # the result still matches its call


def test_a_template_that_ignores_tools_gets_the_hermes_text_and_inline_calls() -> None:
    smol = (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
    template = JinjaChatTemplate(smol)
    assert template.tool_family == "hermes"
    prompt = template.render(CONVERSATION, tools=[WEATHER])
    assert prompt.startswith(f"<|im_start|>system\nBe brief.\n\n{hermes_tool_prompt([WEATHER])}")
    assert '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather"' in prompt
    assert prompt == ChatMLTemplate().render(CONVERSATION, tools=[WEATHER])


def test_a_gemma_template_hands_tool_conversations_to_the_builtin_gemma_format() -> None:
    template = load("google-gemma-2-2b-it.jinja")
    plain = [Message.user("Hi")]
    assert (
        template.render(plain) == "<s><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    )
    assert template.render(CONVERSATION, tools=[WEATHER]) == GemmaTemplate("<s>").render(
        CONVERSATION, tools=[WEATHER]
    )


def test_jinja_templates_without_tools_see_none() -> None:
    template = JinjaChatTemplate("{{ tools | tojson }}")
    assert template.render([Message.user("x")]) == "null"
    listed = json.loads(template.render([Message.user("x")], tools=[WEATHER]))
    assert listed[0]["function"]["name"] == "get_weather"


# --- built-in templates ---------------------------------------------------------------------------


def test_chatml_puts_the_hermes_tool_text_after_the_system_message() -> None:
    prompt = ChatMLTemplate().render(
        [Message.system("Be brief."), Message.user("Hi")], tools=[WEATHER]
    )
    assert prompt == (
        f"<|im_start|>system\nBe brief.\n\n{hermes_tool_prompt([WEATHER])}<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    alone = ChatMLTemplate().render([Message.user("Hi")], tools=[WEATHER])
    assert alone.startswith(f"<|im_start|>system\n{hermes_tool_prompt([WEATHER])}<|im_end|>\n")
    assert ChatMLTemplate().tool_family == "hermes"


def test_hermes_tool_text_lists_each_tool_as_json_and_shows_the_call_format() -> None:
    text = hermes_tool_prompt([WEATHER, ToolSpec("now")])
    lines = text.splitlines()
    tools = lines[lines.index("<tools>") + 1 : lines.index("</tools>")]
    assert [json.loads(t)["function"]["name"] for t in tools] == ["get_weather", "now"]
    assert (
        '<tool_call>\n{"name": <function-name>, "arguments": <arguments-json-object>}\n</tool_call>'
        in text
    )


def test_gemma_preamble_lists_tools_as_python_stubs() -> None:
    assert gemma_tool_prompt([WEATHER, ToolSpec("now")]).endswith(
        "The following Python functions are available:\n\n"
        "```python\n"
        'def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = None, '
        "days: list[int] = None):\n"
        '    """Get the current weather in a city.\n'
        "\n"
        "    Args:\n"
        "      city: The city, e.g. Paris\n"
        "      unit:\n"
        "      days: Days ahead\n"
        '    """\n'
        "\n"
        "def now():\n"
        '    """now\n'
        '    """\n'
        "```"
    )


def test_gemma_folds_system_and_preamble_into_the_first_user_turn() -> None:
    prompt = GemmaTemplate().render(CONVERSATION, tools=[WEATHER])
    assert prompt == (
        "<bos><start_of_turn>user\n"
        f"Be brief.\n\n{gemma_tool_prompt([WEATHER])}\n\nWeather in Zürich?<end_of_turn>\n"
        '<start_of_turn>model\n```tool_code\nget_weather(city="Zürich")\n```<end_of_turn>\n'
        '<start_of_turn>user\n```tool_output\n{"temp": 21}\n```<end_of_turn>\n'
        "<start_of_turn>model\n"
    )
    assert "```tool_code" in gemma_tool_prompt([WEATHER])
    assert "```tool_output" in gemma_tool_prompt([WEATHER])
    assert GemmaTemplate().tool_family == "gemma"


# --- broken calls in the history ------------------------------------------------------------------

BROKEN_JSON = ToolCallPart(
    id="c1",
    name="get_weather",
    arguments='{"name": "get_weather", "arguments": {"city": "Paris"}',
    meta={"error": "the tool call is not valid JSON"},
)
BROKEN_CODE = ToolCallPart(
    id="c2",
    name="get_weather",
    arguments='get_weather("Paris")',
    meta={"error": "get_weather() got positional arguments"},
)


@pytest.mark.parametrize(
    ("template", "call", "shown"),
    [
        (ChatMLTemplate(), BROKEN_JSON, f"<tool_call>\n{BROKEN_JSON.arguments}\n</tool_call>"),
        (GemmaTemplate(), BROKEN_CODE, '```tool_code\nget_weather("Paris")\n```'),
        (
            load("Qwen-Qwen2.5-7B-Instruct.jinja"),
            BROKEN_JSON,
            '"arguments": ' + json.dumps(BROKEN_JSON.arguments),
        ),
    ],
    ids=["chatml", "gemma", "jinja"],
)
def test_a_call_the_parser_marked_broken_is_shown_as_written(
    template: ChatTemplate, call: ToolCallPart, shown: str
) -> None:
    error = ToolResultPart(call_id=call.id, content="error: bad call", is_error=True)
    conversation = [Message.user("go"), Message.assistant([call]), Message.tool(error)]
    assert shown in template.render(conversation, tools=[WEATHER])


# --- what a template writes, the parser reads -----------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s)
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([(ChatMLTemplate(), "hermes"), (GemmaTemplate(), "gemma")]),
    st.dictionaries(identifiers, json_values, max_size=4),
)
def test_calls_written_by_a_template_parse_back_to_the_same_call(
    pair: tuple[ChatTemplate, ToolFamily], arguments: JsonObject
) -> None:
    template, family = pair
    call = ToolCallPart(id="c", name="get_weather", arguments=json.dumps(arguments))
    conversation = [Message.user("go"), Message.assistant([TextPart("Ok."), call])]
    prompt = template.render(conversation, add_generation_prompt=False)
    model_turn = prompt.split("model\n" if family == "gemma" else "assistant\n")[-1]
    end = "<end_of_turn>" if family == "gemma" else "<|im_end|>"
    [parsed] = parse(family, model_turn.split(end)[0])
    assert parsed.name == "get_weather"
    assert parsed.meta is None
    assert parsed.parsed_arguments() == arguments
