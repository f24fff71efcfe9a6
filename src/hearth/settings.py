"""Generation settings shared by every backend.

Every field is optional: ``None`` means "the backend's default". Values are checked when the
settings are built, so a bad value fails at the caller's line with a message that names it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from hearth.errors import InvalidRequestError

MAX_STOP_SEQUENCES = 16
MAX_TOKENS_LIMIT = 1_048_576


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """How to sample. ``None`` leaves a value to the backend.

    * ``temperature`` ≥ 0 (0 is greedy), ``top_p`` and ``min_p`` in [0, 1], ``top_k`` ≥ 0
      (0 disables it), ``repeat_penalty`` > 0 (1 disables it).
    * ``presence_penalty`` / ``frequency_penalty`` in [-2, 2], as OpenAI defines them.
    * ``seed``: the same seed, prompt and settings give the same output on a local model.
    * ``max_tokens`` ≥ 1: the most tokens to generate.
    * ``stop``: up to 16 strings; generation ends before the first one, which is not returned.
    * ``thinking``: ask a reasoning model to think (True) or not (False) before answering;
      ``thinking_budget`` caps the tokens it may spend on it (≥ 0).
    """

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    thinking: bool | None = None
    thinking_budget: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        elif isinstance(self.stop, list):
            object.__setattr__(self, "stop", tuple(self.stop))
        _check_float("temperature", self.temperature, 0.0, 100.0)
        _check_float("top_p", self.top_p, 0.0, 1.0)
        _check_float("min_p", self.min_p, 0.0, 1.0)
        _check_float("repeat_penalty", self.repeat_penalty, 0.0, 100.0, low_open=True)
        _check_float("presence_penalty", self.presence_penalty, -2.0, 2.0)
        _check_float("frequency_penalty", self.frequency_penalty, -2.0, 2.0)
        _check_int("top_k", self.top_k, 0, 1_000_000)
        _check_int("seed", self.seed, -(2**63), 2**64 - 1)
        _check_int("max_tokens", self.max_tokens, 1, MAX_TOKENS_LIMIT)
        _check_int("thinking_budget", self.thinking_budget, 0, MAX_TOKENS_LIMIT)
        if self.thinking is not None and not isinstance(self.thinking, bool):
            raise InvalidRequestError(f"thinking must be true or false, got {self.thinking!r}")
        _check_stop(self.stop)

    def merged(self, override: GenerationSettings | None) -> GenerationSettings:
        """These settings with every non-default field of ``override`` laid on top."""
        if override is None:
            return self
        changes: dict[str, object] = {}
        for f in fields(override):
            value = getattr(override, f.name)
            if value is not None and value != ():
                changes[f.name] = value
        return replace(self, **changes)  # type: ignore[arg-type]


def _check_float(
    name: str, value: float | None, low: float, high: float, *, low_open: bool = False
) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"{name} must be a number, got {type(value).__name__}")
    if math.isnan(value) or math.isinf(value):
        raise InvalidRequestError(f"{name} must be a finite number, got {value}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bracket = "(" if low_open else "["
        raise InvalidRequestError(f"{name} must be in {bracket}{low}, {high}], got {value}")


def _check_int(name: str, value: int | None, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{name} must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidRequestError(f"{name} must be between {low} and {high}, got {value}")


def _check_stop(stop: tuple[str, ...]) -> None:
    if len(stop) > MAX_STOP_SEQUENCES:
        raise InvalidRequestError(
            f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed, got {len(stop)}"
        )
    for s in stop:
        if not isinstance(s, str) or not s:
            raise InvalidRequestError(f"stop sequences must be non-empty strings, got {s!r}")
