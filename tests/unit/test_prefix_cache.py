"""The prefix cache's bookkeeping: which slot a prompt runs in and how much of it is reused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth.backends.local.prefix import Plan, SlotTable, common_prefix


@given(st.lists(st.integers(0, 3), max_size=40), st.lists(st.integers(0, 3), max_size=40))
def test_common_prefix_is_the_longest_shared_start(a: list[int], b: list[int]) -> None:
    n = common_prefix(a, b)
    assert a[:n] == b[:n]
    assert n == min(len(a), len(b)) or a[n] != b[n]


def _finished(table: SlotTable, prompt: list[int], generated: list[int]) -> int:
    """Run ``prompt`` to completion in the table (as the scheduler does); its slot."""
    plan = table.plan(prompt)
    assert plan is not None
    table.start(plan, prompt)
    table.extend(plan.slot, prompt[plan.reuse :] + generated)
    table.release(plan.slot)
    return plan.slot


def test_a_new_conversation_reuses_nothing() -> None:
    table = SlotTable(4, budget=1000)
    assert table.plan([1, 2, 3]) == Plan(slot=0, reuse=0)


def test_the_next_turn_reuses_the_previous_turn_in_place() -> None:
    table = SlotTable(4, budget=1000)
    slot = _finished(table, [1, 2, 3, 4], [5, 6])
    plan = table.plan([1, 2, 3, 4, 5, 6, 7, 8])
    assert plan == Plan(slot=slot, reuse=6, source=None, drop=0)


def test_a_diverging_prompt_cuts_the_cached_tail() -> None:
    table = SlotTable(2, budget=1000)
    slot = _finished(table, [1, 2, 3, 4], [5, 6])
    assert table.plan([1, 2, 9, 9]) == Plan(slot=slot, reuse=2, source=None, drop=4)


def test_the_last_prompt_token_is_always_recomputed() -> None:
    table = SlotTable(2, budget=1000)
    _finished(table, [1, 2, 3], [4])
    plan = table.plan([1, 2, 3])
    assert plan is not None
    assert plan.reuse == 2  # sampling needs the logits of token 3


def test_a_longer_prefix_in_another_slot_is_copied() -> None:
    table = SlotTable(3, budget=1000)
    _finished(table, [7, 7, 7], [7])  # slot 0: unrelated
    running = table.plan([1, 2, 3, 4, 5])
    assert running is not None
    table.start(running, [1, 2, 3, 4, 5])
    table.extend(running.slot, [1, 2, 3])  # only three tokens computed so far
    plan = table.plan([1, 2, 3, 4, 9])
    assert plan is not None
    assert plan.source == running.slot
    assert plan.reuse == 3  # what the source has computed, not what it will
    assert plan.slot != running.slot


def test_busy_slots_are_never_planned_and_a_full_table_says_so() -> None:
    table = SlotTable(1, budget=1000)
    plan = table.plan([1, 2])
    assert plan is not None
    table.start(plan, [1, 2])
    assert table.idle == 0
    assert table.plan([1, 2]) is None
    with pytest.raises(ValueError, match="already running"):
        table.start(plan, [1, 2])


def test_the_least_recently_used_idle_slot_is_taken_for_a_new_prompt() -> None:
    table = SlotTable(3, budget=1000)
    first = _finished(table, [1, 1], [1])
    second = _finished(table, [2, 2], [2])
    third = _finished(table, [3, 3], [3])
    assert len({first, second, third}) == 3
    plan = table.plan([9, 9])
    assert plan is not None
    assert plan.slot == first
    assert plan.drop == 3


def test_eviction_keeps_idle_slots_within_the_budget_lru_first() -> None:
    table = SlotTable(3, budget=10)
    old = _finished(table, [1] * 5, [1])
    new = _finished(table, [2] * 5, [2])
    assert table.cached == 12
    assert table.over_budget() == [old]
    assert table.tokens(old) == []
    assert table.tokens(new) == [2] * 6
    assert table.cached == 6


def test_a_zero_budget_turns_the_cache_off() -> None:
    table = SlotTable(2, budget=0)
    _finished(table, [1, 2, 3], [4])
    assert table.cached == 0
    plan = table.plan([1, 2, 3, 4, 5])
    assert plan is not None
    assert (plan.reuse, plan.source, plan.drop) == (0, None, 0)


def test_evict_lru_skips_busy_slots() -> None:
    table = SlotTable(2, budget=100)
    plan = table.plan([1, 2])
    assert plan is not None
    table.start(plan, [1, 2])
    table.extend(plan.slot, [1, 2])
    assert table.evict_lru() is None
    assert table.tokens(plan.slot) == [1, 2]


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="slots"):
        SlotTable(0, budget=10)
    with pytest.raises(ValueError, match="budget"):
        SlotTable(2, budget=-1)
