"""Chat templates: exact prompts for ChatML, Gemma and a real GGUF template, and the sandbox."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from hearth.backends.local.templates import (
    ChatMLTemplate,
    ChatTemplate,
    GemmaTemplate,
    JinjaChatTemplate,
    TemplateError,
    select_template,
)
from hearth.errors import ConfigurationError, InvalidRequestError, UnsupportedFeatureError
from hearth.messages import ImagePart, Message, TextPart, ThinkingPart, ToolCallPart, ToolResultPart

# SmolLM2-135M-Instruct's chat template (tokenizer_config.json / GGUF tokenizer.chat_template).
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SMOL_DEFAULT_SYSTEM = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n"
)

CONVERSATION = [
    Message.system("Be brief."),
    Message.user("Hi"),
    Message.assistant("Hello!"),
    Message.user("What is 2+2?"),
]

CALL = ToolCallPart(id="c1", name="get_weather", arguments='{"city": "Zürich", "days": 2}')
RESULT = ToolResultPart(call_id="c1", content='{"temp": 21}')
TOOL_CONVERSATION = [
    Message.user("Weather?"),
    Message.assistant([TextPart("Let me check."), CALL]),
    Message.tool(RESULT),
]


# --- SmolLM2's own Jinja template ---------------------------------------------------------------


def test_smollm2_template_adds_its_default_system_prompt() -> None:
    template = JinjaChatTemplate(SMOLLM2_TEMPLATE, bos_token="<|im_start|>")
    assert template.render([Message.user("Hi")]) == (
        SMOL_DEFAULT_SYSTEM + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert template.stop_strings == ("<|im_end|>",)


def test_smollm2_template_multi_turn_with_system() -> None:
    template = JinjaChatTemplate(SMOLLM2_TEMPLATE)
    assert template.render(CONVERSATION, add_generation_prompt=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
    )


def test_smollm2_template_agrees_with_builtin_chatml() -> None:
    jinja = JinjaChatTemplate(SMOLLM2_TEMPLATE)
    assert jinja.render(CONVERSATION) == ChatMLTemplate().render(CONVERSATION)


# --- ChatML -------------------------------------------------------------------------------------


def test_chatml_exact_prompt() -> None:
    assert ChatMLTemplate().render(CONVERSATION) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert ChatMLTemplate().stop_strings == ("<|im_end|>",)


def test_chatml_tool_call_and_result() -> None:
    assert ChatMLTemplate().render(TOOL_CONVERSATION, add_generation_prompt=False) == (
        "<|im_start|>user\nWeather?<|im_end|>\n"
        "<|im_start|>assistant\nLet me check.\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}\n'
        "</tool_call><|im_end|>\n"
        '<|im_start|>tool\n{"temp": 21}<|im_end|>\n'
    )


def test_chatml_tool_results_inside_a_user_message_keep_their_order() -> None:
    message = Message.user([RESULT, TextPart("Thanks, now summarise.")])
    assert ChatMLTemplate().render([message], add_generation_prompt=False) == (
        '<|im_start|>tool\n{"temp": 21}<|im_end|>\n'
        "<|im_start|>user\nThanks, now summarise.<|im_end|>\n"
    )


def test_thinking_is_dropped_from_the_prompt() -> None:
    message = Message.assistant([ThinkingPart("secret reasoning"), TextPart("4")])
    prompt = ChatMLTemplate().render([Message.user("2+2?"), message])
    assert "secret" not in prompt
    assert "<|im_start|>assistant\n4<|im_end|>\n" in prompt


# --- Gemma --------------------------------------------------------------------------------------


def test_gemma_folds_system_into_first_user_turn() -> None:
    prompt = GemmaTemplate().render([Message.system("Be brief."), Message.user("Hi")])
    assert prompt == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
    )
    assert GemmaTemplate().stop_strings == ("<end_of_turn>",)


def test_gemma_multi_turn_exact() -> None:
    assert GemmaTemplate(bos_token="<B>").render(CONVERSATION, add_generation_prompt=False) == (
        "<B><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello!<end_of_turn>\n"
        "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
    )


def test_gemma_strips_whitespace_like_the_official_template() -> None:
    prompt = GemmaTemplate().render([Message.user("  Hi \n")], add_generation_prompt=False)
    assert prompt == "<bos><start_of_turn>user\nHi<end_of_turn>\n"


def test_gemma_system_alone_becomes_a_user_turn() -> None:
    prompt = GemmaTemplate().render([Message.system("Be brief.")])
    assert prompt == "<bos><start_of_turn>user\nBe brief.<end_of_turn>\n<start_of_turn>model\n"


@pytest.mark.parametrize(
    ("messages", "where"),
    [
        ([Message.assistant("a")], "message 0 is a assistant message"),
        ([Message.system("s"), Message.assistant("a")], "message 1 is a assistant message"),
    ],
)
def test_gemma_conversations_start_with_a_user_turn(messages: list[Message], where: str) -> None:
    with pytest.raises(TemplateError) as caught:
        GemmaTemplate().render(messages)
    message = str(caught.value)
    assert message.startswith("chat template error: Conversation roles must alternate")
    assert where in message
    assert isinstance(caught.value, InvalidRequestError)


def test_gemma_merges_consecutive_turns_of_one_side() -> None:
    prompt = GemmaTemplate().render(
        [Message.user("a"), Message.user("b"), Message.assistant("c"), Message.assistant("d")],
        add_generation_prompt=False,
    )
    assert prompt == (
        "<bos><start_of_turn>user\na\n\nb<end_of_turn>\n<start_of_turn>model\nc\n\nd<end_of_turn>\n"
    )


def test_gemma_merges_tool_results_with_the_user_message_after_them() -> None:
    prompt = GemmaTemplate().render([*TOOL_CONVERSATION, Message.user("Go on.")])
    assert prompt.endswith(
        '<start_of_turn>user\n```tool_output\n{"temp": 21}\n```\n\nGo on.<end_of_turn>\n'
        "<start_of_turn>model\n"
    )


def test_gemma_system_message_must_come_first() -> None:
    with pytest.raises(TemplateError, match="message 1 is a system message"):
        GemmaTemplate().render([Message.user("a"), Message.system("late")])


def test_gemma_tool_call_and_output_blocks() -> None:
    assert GemmaTemplate().render(TOOL_CONVERSATION) == (
        "<bos><start_of_turn>user\nWeather?<end_of_turn>\n"
        "<start_of_turn>model\nLet me check.\n"
        '```tool_code\nget_weather(city="Zürich", days=2)\n```<end_of_turn>\n'
        '<start_of_turn>user\n```tool_output\n{"temp": 21}\n```<end_of_turn>\n'
        "<start_of_turn>model\n"
    )


def test_gemma_tool_code_writes_python_literals() -> None:
    call = ToolCallPart(id="x", name="f", arguments='{"on": true, "n": null, "xs": [1.5, "a"]}')
    prompt = GemmaTemplate().render([Message.user("go"), Message.assistant([call])])
    assert '```tool_code\nf(on=True, n=None, xs=[1.5, "a"])\n```' in prompt


# --- shared behaviour ---------------------------------------------------------------------------

ALL_TEMPLATES: list[ChatTemplate] = [
    ChatMLTemplate(),
    GemmaTemplate(),
    JinjaChatTemplate(SMOLLM2_TEMPLATE),
]


@pytest.mark.parametrize("template", ALL_TEMPLATES, ids=lambda t: t.name)
def test_images_are_refused_by_text_only_models(template: ChatTemplate) -> None:
    image = ImagePart(data=b"\x89PNG", media_type="image/png")
    with pytest.raises(UnsupportedFeatureError, match="no vision support: message 0"):
        template.render([Message.user([TextPart("What is this?"), image])])


@pytest.mark.parametrize("template", ALL_TEMPLATES, ids=lambda t: t.name)
def test_malformed_tool_call_arguments_are_reported(template: ChatTemplate) -> None:
    bad = ToolCallPart(id="c9", name="f", arguments="{not json")
    with pytest.raises(InvalidRequestError, match="'c9' to 'f' has arguments that are not valid"):
        template.render([Message.user("go"), Message.assistant([bad])])


# --- Jinja: what the template sees ----------------------------------------------------------


def test_jinja_messages_match_hugging_face_shapes() -> None:
    # a template that reads tool_calls gets them as dicts only (see test_templates_tools.py)
    template = JinjaChatTemplate("{{ messages | tojson }}{# tool_calls #}")
    rendered = json.loads(template.render([Message.system("S"), *TOOL_CONVERSATION]))
    assert rendered == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": '{"temp": 21}'},
    ]


def test_jinja_globals_and_flags() -> None:
    source = (
        "{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ tools is none }}|"
        "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m.content }}"
        "{% endfor %}"
    )
    template = JinjaChatTemplate(source, bos_token="<s>", eos_token="</s>")
    rendered = template.render(
        [Message.user("a"), Message.assistant("b")], add_generation_prompt=False
    )
    assert rendered == "<s>|</s>|False|True|a"


def test_jinja_trims_blocks_like_hugging_face() -> None:
    source = (
        "{% for m in messages %}\n    {% if true %}\n[{{ m.content }}]\n    {% endif %}\n"
        "{% endfor %}"
    )
    assert JinjaChatTemplate(source).render([Message.user("a"), Message.user("b")]) == "[a]\n[b]\n"


def test_jinja_tojson_is_plain_json_like_hugging_face() -> None:
    template = JinjaChatTemplate("{{ {'t': messages[0].content} | tojson(indent=2) }}")
    assert template.render([Message.user("<b>é & ü</b>")]) == '{\n  "t": "<b>é & ü</b>"\n}'


def test_jinja_strftime_now() -> None:
    before = datetime.now().strftime("%Y-%m")
    rendered = JinjaChatTemplate("{{ strftime_now('%Y-%m') }}").render([])
    assert rendered in {before, datetime.now().strftime("%Y-%m")}


def test_jinja_generation_tag_renders_its_body() -> None:
    source = "{% generation %}<{{ messages[0].content }}>{% endgeneration %}"
    assert JinjaChatTemplate(source).render([Message.user("x")]) == "<x>"


@pytest.mark.parametrize(
    ("source", "stops"),
    [
        (SMOLLM2_TEMPLATE, ("<|im_end|>",)),
        ("{{ '<start_of_turn>' }}{{ '<end_of_turn>' }}", ("<end_of_turn>",)),
        ("{{ '<|start_header_id|>' }}{{ '<|eot_id|>' }}", ("<|eot_id|>",)),
        ("[INST] {{ m }} [/INST]{{ '</s>' }}", ("</s>",)),
        ("{{ messages[0].content }}", ()),
    ],
)
def test_jinja_stop_strings_come_from_the_source(source: str, stops: tuple[str, ...]) -> None:
    assert JinjaChatTemplate(source).stop_strings == stops


# --- Jinja: errors and the sandbox ----------------------------------------------------------


def test_raise_exception_message_reaches_the_user() -> None:
    source = (
        "{% for m in messages %}\n"
        "{% if m.role == 'system' %}\n"
        "{{ raise_exception('System role not supported') }}\n"
        "{% endif %}\n"
        "{% endfor %}"
    )
    with pytest.raises(TemplateError) as caught:
        JinjaChatTemplate(source).render([Message.system("s")])
    assert str(caught.value) == (
        "chat template error: the model's chat template rejected the conversation: "
        "System role not supported (template line 3)"
    )


def test_template_that_does_not_compile_is_refused_at_construction() -> None:
    with pytest.raises(TemplateError, match=r"does not compile: .* \(template line 2\)"):
        JinjaChatTemplate("ok\n{% for m in %}{% endfor %}")


def test_empty_template_is_refused() -> None:
    with pytest.raises(TemplateError, match="the template is empty"):
        JinjaChatTemplate("  \n")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ messages[0].nope.deeper }}", "not defined"),
        ("{{ messages[0].content + 3 }}", "TypeError"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ nope | tojson }}", "TypeError"),
    ],
)
def test_render_failures_become_template_errors(source: str, problem: str) -> None:
    with pytest.raises(TemplateError, match=f"^chat template error: .*{problem}"):
        JinjaChatTemplate(source).render([Message.user("x")])


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ ''|attr('__class__') }}",
        "{{ messages.append(1) }}",
        "{{ messages[0].update({'role': 'system'}) }}",
        "{{ raise_exception.__globals__ }}",
    ],
)
def test_sandbox_refuses_escapes(source: str) -> None:
    with pytest.raises(TemplateError, match=r"^chat template error: the template tried something"):
        JinjaChatTemplate(source).render([Message.user("x")])


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 100000000 }}",
        "{% set ns = namespace(s='ab') %}{% for _ in range(40) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}{{ ns.s | length }}",
        "{{ 7 ** 1000000 }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '%999999999s'|format('x') }}",
        "{{ 'x'|center(999999999) }}",
        "{{ 'x'.ljust(999999999) }}",
        "{{ 'x'.zfill(999999999) }}",
        "{{ ('x' * 4000000).replace('x', 'yy') }}",
        "{{ ('x' * 4000000)|replace('x', 'yy') }}",
        "{{ ('a\n' * 2000000)|indent(8) }}",
        "{{ ('x' * 100000).join(['ab'] * 100) }}",
    ],
)
def test_sandbox_refuses_to_build_huge_values(source: str) -> None:
    with pytest.raises(TemplateError, match="sandbox forbids"):
        JinjaChatTemplate(source).render([])


def test_bounded_string_operations_still_work_at_sensible_sizes() -> None:
    source = (
        "{{ '%05d' % 42 }} {{ '{:>6}'.format('ab') }} {{ 'ab'|center(6) }} {{ 'x'.ljust(3) }}|"
        "{{ 'a-b'.replace('-', '+') }} {{ 'a-b'|replace('-', '=') }} {{ ', '.join(['p', 'q']) }}"
    )
    assert JinjaChatTemplate(source).render([]) == "00042     ab   ab   x  |a+b a=b p, q"


def test_output_is_bounded() -> None:
    source = "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}"
    with pytest.raises(TemplateError, match="rendered more than 4194304 characters"):
        JinjaChatTemplate(source).render([])


ENDLESS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


@pytest.mark.parametrize(
    "source",
    [
        ENDLESS,
        "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{{ loop.index if loop.last }}"
        "{% endfor %}{% endfor %}",
        # a template cannot shadow the loop counter: it is no template variable
        "{% set hearth_budgeted = range %}" + ENDLESS,
        "{% macro f() %}{% for i in range(100000) %}{{ i if i < 0 }}{% endfor %}{% endmacro %}"
        "{% for i in range(100000) %}{{ f() }}{% endfor %}",
        "{% for k in range(100000) %}{% for m in messages %}{{ m.role if 0 }}{% endfor %}"
        "{% endfor %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
        "{% endfor %}",
    ],
)
def test_a_template_that_loops_without_end_fails_within_its_time_budget(source: str) -> None:
    start = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        JinjaChatTemplate(source, max_seconds=0.3).render([Message.user("x")])
    assert time.monotonic() - start < 2.0
    assert str(caught.value).startswith(
        "chat template error: the template did not finish within its budget of 0.3 s (it loops "
        "without end, or far longer than any chat template needs): the model's chat template is "
        "broken or hostile"
    )


def test_the_step_budget_counts_loop_iterations_calls_and_lookups() -> None:
    source = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    messages = [Message.user(str(i)) for i in range(10)]
    assert JinjaChatTemplate(source, max_steps=100).render(messages) == "0123456789"
    with pytest.raises(TemplateError, match="within its budget of 15 steps"):
        JinjaChatTemplate(source, max_steps=15).render(messages)


def test_a_real_template_renders_a_full_context_of_messages_well_inside_the_budget() -> None:
    messages = [Message.user("hello") if i % 2 else Message.assistant("hi") for i in range(8192)]
    start = time.monotonic()
    prompt = JinjaChatTemplate(SMOLLM2_TEMPLATE).render(messages)
    assert prompt.count("<|im_start|>") == 8194 and time.monotonic() - start < 2.0


def test_a_recursive_loop_or_macro_without_end_is_an_error_not_a_crash() -> None:
    for source in (
        "{% for x in range(10) recursive %}{{ loop(range(10)) }}{% endfor %}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    ):
        with pytest.raises(TemplateError, match="RecursionError"):
            JinjaChatTemplate(source).render([])


# --- selection ------------------------------------------------------------------------------


def test_catalogue_family_wins_over_the_gguf_template() -> None:
    chosen = select_template(
        gguf_template=SMOLLM2_TEMPLATE,
        architecture="llama",
        family="gemma",
        bos_token="<bos>",
        eos_token="<eos>",
    )
    assert isinstance(chosen, GemmaTemplate)
    chosen = select_template(
        gguf_template=SMOLLM2_TEMPLATE,
        architecture="gemma3",
        family="chatml",
        bos_token="",
        eos_token="",
    )
    assert isinstance(chosen, ChatMLTemplate)


def test_gguf_template_is_used_without_a_family() -> None:
    chosen = select_template(
        gguf_template=SMOLLM2_TEMPLATE,
        architecture="llama",
        family=None,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
    )
    assert isinstance(chosen, JinjaChatTemplate)
    assert chosen.render([Message.user("Hi")]).startswith(SMOL_DEFAULT_SYSTEM)


@pytest.mark.parametrize("gguf", [None, "", "  "])
def test_gemma_architecture_without_template_gets_gemma(gguf: str | None) -> None:
    chosen = select_template(
        gguf_template=gguf,
        architecture="gemma3",
        family=None,
        bos_token="<B>",
        eos_token="",
    )
    assert isinstance(chosen, GemmaTemplate)
    assert chosen.render([Message.user("x")]).startswith("<B><start_of_turn>user\n")


def test_anything_else_gets_chatml() -> None:
    chosen = select_template(
        gguf_template=None,
        architecture="llama",
        family=None,
        bos_token="",
        eos_token="",
    )
    assert isinstance(chosen, ChatMLTemplate)


def test_unknown_family_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown chat template family 'llama2'"):
        select_template(
            gguf_template=None,
            architecture=None,
            family="llama2",  # type: ignore[arg-type]
            bos_token="",
            eos_token="",
        )


def test_broken_gguf_template_is_not_silently_replaced() -> None:
    with pytest.raises(TemplateError, match="does not compile"):
        select_template(
            gguf_template="{% if %}",
            architecture="llama",
            family=None,
            bos_token="",
            eos_token="",
        )
