"""Reasoning models: how a local model shows its thinking, and how a request switches it.

:func:`detect_thinking` reads a model's chat template (and, failing that, its name) for the
syntax its thinking is written in, a :class:`ThinkingSyntax`:

* ``<think>`` … ``</think>`` tags (DeepSeek-R1 distills, Qwen3, QwQ, SmolLM3, Phi-4-reasoning):
  the template mentions ``<think>`` or ``</think>``;
* gpt-oss's harmony channels: the thinking is the ``analysis`` channel
  (``<|channel|>analysis<|message|>`` … ``<|end|>``) and the answer the ``final`` channel
  (``<|start|>assistant<|channel|>final<|message|>``), dropped from the answer's text.

A catalogue entry or ``[[models]]`` table overrides what the template says:
``thinking_tags = ["<think>", "</think>"]`` makes a model a reasoning model in those tags (with a
``chat_template`` that opens them, SmolLM2 thinks in tags), ``thinking_tags = []`` makes it an
ordinary one, and ``capabilities = [..., "thinking"]`` alone means ``<think>`` tags.

How a request's ``thinking`` setting shapes the prompt (:meth:`ThinkingSyntax.prompt`):

* on (``True``, or ``None``: a reasoning model thinks unless told not to, as llama-server's
  default is): the template renders with ``enable_thinking=True`` where it takes that switch, and
  the prompt is made to end inside the thinking (the opening tag is appended unless the
  template already wrote it, as DeepSeek-R1's does), so the output starts with thinking and the
  engine knows where it is from the first token;
* off (``False``): the template's own off switch: ``enable_thinking=False`` (Qwen3, SmolLM3),
  else an empty think block closed in the prompt (``<think>\\n\\n</think>\\n\\n``, which is what
  Qwen3's template writes itself). A syntax with no off switch (harmony: gpt-oss always
  reasons) refuses ``thinking=False`` with a clear error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from hearth.errors import UnsupportedFeatureError

OffSwitch = Literal["enable_thinking", "empty_block"]


@dataclass(frozen=True, slots=True)
class ThinkingSyntax:
    """Where a model's thinking starts and ends in its output.

    ``answer_marker``: text that may follow ``close`` before the answer and is not part of it
    (harmony's ``final`` channel header). ``off_switch``: how the prompt turns thinking off
    (None: it cannot be turned off). ``line``: the opening tag stands on a line of its own
    (tags do; harmony's channel header does not)."""

    open: str
    close: str
    off_switch: OffSwitch | None = "empty_block"
    answer_marker: str = ""
    line: bool = True

    @property
    def markers(self) -> tuple[str, ...]:
        """The texts the engine must show even where they are control tokens."""
        return tuple(m for m in (self.open, self.close, self.answer_marker) if m)

    def template_context(self, thinking: bool | None) -> dict[str, bool]:
        """Extra variables for a Jinja template that takes ``enable_thinking``."""
        if self.off_switch != "enable_thinking":
            return {}
        return {"enable_thinking": thinking is not False}

    def prompt(self, rendered: str, thinking: bool | None, model_name: str) -> str:
        """``rendered`` (the template's output, generation prompt included) made to start the
        answer inside the thinking (``thinking`` not False) or past an empty think block."""
        inside = _ends_inside(rendered, self)
        if thinking is not False:
            if inside:
                return rendered
            return rendered + self.open + ("\n" if self.line else "")
        if self.off_switch is None:
            raise UnsupportedFeatureError(
                f"{model_name} always reasons: its chat template has no way to turn thinking "
                "off; call it without thinking=False (hide the thinking instead: it arrives "
                "apart from the answer)"
            )
        if self.off_switch == "enable_thinking" and not inside:
            return rendered  # the template closed (or never opened) the block itself
        if inside:
            return rendered + "\n\n" + self.close + "\n\n"
        return rendered + self.open + "\n\n" + self.close + "\n\n"


THINK_TAGS = ThinkingSyntax("<think>", "</think>")
HARMONY = ThinkingSyntax(
    "<|channel|>analysis<|message|>",
    "<|end|>",
    off_switch=None,
    answer_marker="<|start|>assistant<|channel|>final<|message|>",
    line=False,
)

_REASONING_NAMES = re.compile(r"deepseek-r1|\br1-distill|qwq|qwen3|smollm3|phi-4-reasoning", re.I)


def _ends_inside(rendered: str, syntax: ThinkingSyntax) -> bool:
    """Whether the prompt leaves the model inside an open think block."""
    tail = rendered.rstrip()
    return tail.endswith(syntax.open)


def detect_thinking(
    template_source: str | None,
    model_name: str,
    *,
    tags: tuple[str, ...] | None = None,
    capability: bool = False,
) -> ThinkingSyntax | None:
    """The thinking syntax of a model, None for a model that does not reason.

    ``tags``: the catalogue's override (``(open, close)``; ``()``: not a reasoning model; None:
    let the template tell). ``capability``: the catalogue lists ``thinking``. Otherwise the
    template decides (harmony channels, then ``<think>`` tags), then the model's name (a
    DeepSeek-R1 distill, QwQ, Qwen3, SmolLM3 or Phi-4-reasoning file without a template)."""
    source = template_source or ""
    off: OffSwitch = "enable_thinking" if "enable_thinking" in source else "empty_block"
    if tags is not None:
        if not tags:
            return None
        return ThinkingSyntax(tags[0], tags[1], off_switch=off)
    if "<|channel|>" in source and "analysis" in source:
        return HARMONY
    if "<think>" in source or "</think>" in source:
        return ThinkingSyntax("<think>", "</think>", off_switch=off)
    if capability or _REASONING_NAMES.search(model_name):
        return ThinkingSyntax("<think>", "</think>", off_switch=off)
    return None
