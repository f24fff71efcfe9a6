"""Options of the batching local engine are checked before anything is loaded."""

from __future__ import annotations

import pytest

from hearth.backends.local.backend import LocalOptions
from hearth.backends.local.engine import EngineConfig
from hearth.errors import InvalidRequestError


def test_slots_must_be_in_range() -> None:
    assert EngineConfig(slots=1).slots == 1
    with pytest.raises(InvalidRequestError, match="slots must be between 1 and 32, got 0"):
        EngineConfig(slots=0)
    with pytest.raises(InvalidRequestError, match="got 33"):
        EngineConfig(slots=33)


def test_a_batch_must_hold_a_token_of_every_slot() -> None:
    with pytest.raises(InvalidRequestError, match=r"n_batch \(8\) must be larger than slots \(8\)"):
        EngineConfig(n_batch=8, slots=8)


def test_a_negative_prefix_cache_is_refused() -> None:
    assert LocalOptions(prefix_cache=0).prefix_cache == 0
    with pytest.raises(InvalidRequestError, match="prefix_cache must be a number of tokens"):
        LocalOptions(prefix_cache=-1)


def test_queue_timeout_is_seconds_to_wait_for_a_place() -> None:
    assert LocalOptions().queue_timeout == 0.0  # refused at once, as before
    assert LocalOptions(queue_timeout=2.5).queue_timeout == 2.5
    with pytest.raises(InvalidRequestError, match="queue_timeout must be 0 or more seconds"):
        LocalOptions(queue_timeout=-1)
