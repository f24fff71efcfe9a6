"""A loaded reasoning model's thinking machinery, per request: the prompt, the engine's gate and
the events. Built once per model (:meth:`ThinkingSetup.for_engine`), used by the local backend.

* :func:`check_request` refuses what the model cannot do (``thinking=True`` or a budget on
  a model that does not reason; ``thinking=False`` on one that always does);
* :meth:`ThinkingSetup.prompt` renders the switch into the prompt text
  (:meth:`~hearth.backends.local.reasoning.ThinkingSyntax.prompt`);
* :meth:`ThinkingSetup.gate` wraps the request's constraint in the budget's
  :class:`~hearth.backends.local.thinking_budget.ThinkingGate`;
* :meth:`ThinkingSetup.events` splits the output into thinking and answer
  (:class:`~hearth.backends.local.thinkstream.ThinkingEvents`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hearth.backends.local.reasoning import ThinkingSyntax
from hearth.backends.local.thinking_budget import ThinkingGate
from hearth.backends.local.thinkstream import ThinkingEvents, Transform
from hearth.backends.local.toolcalls import ToolFamily
from hearth.errors import UnsupportedFeatureError
from hearth.request import ChatRequest
from hearth.settings import GenerationSettings

if TYPE_CHECKING:
    from hearth.backends.local.constraints import Constraint
    from hearth.backends.local.engine import LlamaEngine


def check_request(syntax: ThinkingSyntax | None, request: ChatRequest, model_name: str) -> None:
    """Refuse thinking settings the model cannot honour, with what to do instead."""
    s = request.settings
    if syntax is None and (s.thinking or s.thinking_budget is not None):
        asked = "thinking=True" if s.thinking else "thinking_budget"
        raise UnsupportedFeatureError(
            f"{model_name} is not a reasoning model; call it without {asked} (or, for a model "
            'that thinks in tags its template does not show, set thinking_tags = ["<think>", '
            '"</think>"] in its [[models]] entry)'
        )
    if syntax is not None and syntax.off_switch is None and s.thinking is False:
        syntax.prompt("", False, model_name)  # raises the refusal


@dataclass(frozen=True, slots=True)
class ThinkingSetup:
    """One loaded reasoning model's syntax, the tokens of its forced closing text, and the
    control tokens among its markers that the output must show."""

    syntax: ThinkingSyntax
    close_tokens: tuple[int, ...]
    shown: Mapping[int, bytes]
    n_vocab: int
    eog: tuple[int, ...]

    @classmethod
    def for_engine(
        cls, syntax: ThinkingSyntax, engine: LlamaEngine, budget_message: str = ""
    ) -> ThinkingSetup:
        """The setup of ``syntax`` on ``engine``; ``budget_message`` goes before the closing
        tag the budget forces."""
        shown: dict[int, bytes] = {}
        for marker in syntax.markers:
            for token in engine.tokenize(marker, add_special=False):
                if not engine.piece(token) and engine.token_text(token):
                    shown[token] = engine.token_text(token).encode()
        forced = budget_message + syntax.close + "\n\n"
        close = tuple(engine.tokenize(forced, add_special=False))
        eog = tuple(t for t in range(engine.n_vocab) if engine.is_eog(t))
        return cls(syntax, close, shown, engine.n_vocab, eog)

    @staticmethod
    def active(request: ChatRequest) -> bool:
        """Whether ``request``'s output starts inside the thinking."""
        return request.prompt is None and request.settings.thinking is not False

    def prompt(self, rendered: str, request: ChatRequest, model_name: str) -> str:
        return self.syntax.prompt(rendered, request.settings.thinking, model_name)

    def gate(
        self, settings: GenerationSettings, inner: Constraint | None, engine: LlamaEngine
    ) -> ThinkingGate:
        shown = self.shown

        def piece(token: int) -> bytes:
            text = shown.get(token)
            return engine.piece(token) if text is None else text

        return ThinkingGate(
            close=self.syntax.close,
            close_tokens=self.close_tokens,
            piece=piece,
            n_vocab=self.n_vocab,
            budget=settings.thinking_budget,
            inner=inner,
            eog=self.eog,
        )

    def events(
        self, request: ChatRequest, inner: Transform | None, family: ToolFamily | None
    ) -> ThinkingEvents:
        names = tuple(t.name for t in request.tools) if request.tool_choice != "none" else ()
        return ThinkingEvents(self.syntax, inner, family=family, tool_names=names)
