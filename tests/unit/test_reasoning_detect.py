"""Which local models reason, in which syntax, and how ``thinking`` shapes their prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.backends.local.reasoning import HARMONY, THINK_TAGS, detect_thinking
from hearth.backends.local.templates import JinjaChatTemplate
from hearth.catalog.entries import CatalogEntry, PathSource
from hearth.config.parse import parse_config
from hearth.config.schema import Config
from hearth.errors import ConfigurationError, UnsupportedFeatureError
from hearth.messages import Message

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reasoning"

# The generation-prompt ends of real templates, cut down to what detection reads.
QWEN3 = (
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"
)
R1_DISTILL = "{% if add_generation_prompt %}{{'<\uff5cAssistant\uff5c><think>\\n'}}{% endif %}"
GPT_OSS = "{{- '<|start|>assistant<|channel|>analysis<|message|>' }} final"
CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"


def test_templates_tell_the_syntax_and_the_off_switch() -> None:
    qwen = detect_thinking(QWEN3, "qwen3-0.6b")
    assert qwen is not None and (qwen.open, qwen.close) == ("<think>", "</think>")
    assert qwen.off_switch == "enable_thinking"
    r1 = detect_thinking(R1_DISTILL, "model")
    assert r1 is not None and r1.off_switch == "empty_block"
    assert detect_thinking(GPT_OSS, "gpt-oss-20b") == HARMONY
    assert detect_thinking(CHATML, "smollm2") is None
    assert detect_thinking(None, "smollm2") is None


def test_a_reasoning_name_without_a_template_still_reasons() -> None:
    assert detect_thinking(None, "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M") == THINK_TAGS
    assert detect_thinking(None, "qwq-32b") == THINK_TAGS


def test_the_catalogue_overrides_the_template() -> None:
    assert detect_thinking(QWEN3, "qwen3", tags=()) is None  # "not a reasoning model"
    custom = detect_thinking(CHATML, "x", tags=("<reasoning>", "</reasoning>"))
    assert custom is not None and (custom.open, custom.close) == ("<reasoning>", "</reasoning>")
    assert detect_thinking(CHATML, "x", capability=True) == THINK_TAGS


def test_thinking_on_leaves_the_prompt_inside_the_block() -> None:
    prompt = THINK_TAGS.prompt("<|im_start|>assistant\n", None, "m")
    assert prompt == "<|im_start|>assistant\n<think>\n"
    # a template that opens it itself (DeepSeek-R1) is left alone
    opened = "<\uff5cAssistant\uff5c><think>\n"
    assert THINK_TAGS.prompt(opened, True, "m") == opened


def test_thinking_off_closes_an_empty_block() -> None:
    assert THINK_TAGS.prompt("A:", False, "m") == "A:<think>\n\n</think>\n\n"
    assert THINK_TAGS.prompt("A:<think>\n", False, "m") == "A:<think>\n\n\n</think>\n\n"


def test_enable_thinking_templates_switch_themselves() -> None:
    qwen = detect_thinking(QWEN3, "qwen3")
    assert qwen is not None
    assert qwen.template_context(False) == {"enable_thinking": False}
    assert qwen.template_context(None) == {"enable_thinking": True}
    template = JinjaChatTemplate(QWEN3)
    off = template.render([Message.user("hi")], context=qwen.template_context(False))
    assert off.endswith("<think>\n\n</think>\n\n")
    assert qwen.prompt(off, False, "qwen3") == off  # nothing added: the template did it
    on = template.render([Message.user("hi")], context=qwen.template_context(True))
    assert qwen.prompt(on, True, "qwen3").endswith("assistant\n<think>\n")


def test_a_model_that_always_reasons_refuses_thinking_off() -> None:
    with pytest.raises(UnsupportedFeatureError, match=r"gpt-oss always reasons.*thinking=False"):
        HARMONY.prompt("<|start|>assistant", False, "gpt-oss")
    assert HARMONY.prompt("<|start|>assistant", True, "g").endswith(
        "<|channel|>analysis<|message|>"
    )


def test_the_smollm2_thinking_template_opens_the_block() -> None:
    source = (FIXTURES / "smollm2-think.jinja").read_text()
    syntax = detect_thinking(source, "smollm2")
    assert syntax is not None and syntax.off_switch == "enable_thinking"
    template = JinjaChatTemplate(source)
    rendered = template.render([Message.user("2+2?")], context=syntax.template_context(None))
    assert rendered.endswith("<|im_start|>assistant\n<think>\n")
    assert syntax.prompt(rendered, None, "m") == rendered


def _models(toml_models: list[dict[str, object]]) -> Config:
    return parse_config({"models": toml_models}, Path("config.toml"))


def test_config_takes_thinking_tags_and_a_chat_template() -> None:
    config = _models(
        [
            {
                "name": "thinker",
                "path": "/m/x.gguf",
                "thinking_tags": ["<think>", "</think>"],
                "chat_template": "{{ messages }}",
            },
            {"name": "plain", "path": "/m/y.gguf", "thinking_tags": []},
        ]
    )
    thinker, plain = config.models
    assert thinker.thinking_tags == ("<think>", "</think>")
    assert thinker.chat_template == "{{ messages }}"
    assert plain.thinking_tags == ()
    assert config.models[0].thinking_tags is not None


@pytest.mark.parametrize("tags", [["<think>"], ["<t>", "<t>"], ["a", "b", "c"]])
def test_bad_thinking_tags_say_what_is_expected(tags: list[str]) -> None:
    with pytest.raises(ConfigurationError, match=r"thinking_tags must be \[\] .* \[open, close\]"):
        CatalogEntry("m", PathSource(Path("/m/x.gguf")), thinking_tags=tuple(tags))
    with pytest.raises(Exception, match="thinking_tags"):
        _models([{"name": "m", "path": "/m/x.gguf", "thinking_tags": tags}])


def test_local_options_take_a_template_and_tags() -> None:
    from hearth.backends.local.backend import LocalOptions
    from hearth.errors import InvalidRequestError

    options = LocalOptions(chat_template=CHATML, thinking_tags=["<t>", "</t>"])
    assert options.thinking_tags == ("<t>", "</t>")
    with pytest.raises(InvalidRequestError, match=r"thinking_tags must be \(\) .* \(open, close\)"):
        LocalOptions(thinking_tags=("<think>",))
    with pytest.raises(InvalidRequestError, match="chat_template is empty"):
        LocalOptions(chat_template=" ")


# Qwen3's rule, cut down: an assistant turn after the last user message keeps its reasoning
# (a tool-calling step), earlier ones lose it.
QWEN3_HISTORY = (
    "{%- set ns = namespace(last=0) %}{%- for m in messages %}{%- if m.role == 'user' %}"
    "{%- set ns.last = loop.index0 %}{%- endif %}{%- endfor %}"
    "{%- for m in messages %}<|im_start|>{{ m.role }}\n"
    "{%- if m.role == 'assistant' and m.reasoning_content and loop.index0 > ns.last %}"
    "<think>\n{{ m.reasoning_content }}\n</think>\n\n{%- endif %}{{ m.content }}<|im_end|>\n"
    "{%- endfor %}"
)


def test_the_template_decides_which_thinking_stays_in_history() -> None:
    from hearth.messages import TextPart, ThinkingPart, ToolCallPart, ToolResultPart

    history = [
        Message.user("hi"),
        Message.assistant([ThinkingPart("greet back"), TextPart("Hello!")]),
        Message.user("weather in Paris?"),
        Message.assistant([ThinkingPart("need the tool"), ToolCallPart("c1", "weather", "{}")]),
        Message.tool(ToolResultPart("c1", "sunny", name="weather")),
    ]
    rendered = JinjaChatTemplate(QWEN3_HISTORY).render(history, add_generation_prompt=False)
    assert "greet back" not in rendered  # before the last user message: dropped
    assert "<think>\nneed the tool\n</think>" in rendered  # the tool step keeps it


def test_requests_a_model_cannot_honour_are_refused_with_what_to_do() -> None:
    from hearth.backends.local.thinking_setup import check_request
    from hearth.request import ChatRequest
    from hearth.settings import GenerationSettings

    def asking(**settings: object) -> ChatRequest:
        return ChatRequest((Message.user("hi"),), settings=GenerationSettings(**settings))  # type: ignore[arg-type]

    with pytest.raises(
        UnsupportedFeatureError,
        match=r"local:smollm2 is not a reasoning model.*thinking=True.*thinking_tags",
    ):
        check_request(None, asking(thinking=True), "local:smollm2")
    with pytest.raises(UnsupportedFeatureError, match="without thinking_budget"):
        check_request(None, asking(thinking_budget=32), "local:smollm2")
    with pytest.raises(UnsupportedFeatureError, match="always reasons"):
        check_request(HARMONY, asking(thinking=False), "local:gpt-oss")
    check_request(None, asking(thinking=False), "local:smollm2")  # asking for less is fine
    check_request(THINK_TAGS, asking(thinking=False, thinking_budget=8), "local:r1")
