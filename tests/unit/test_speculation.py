"""Prompt-lookup drafting and its adaptive controller (pure code, no model)."""

from __future__ import annotations

import random

import pytest

from hearth.backends.local.backend import LocalOptions
from hearth.backends.local.speculation import (
    MAX_DRAFT,
    MIN_DRAFT,
    PAUSE,
    WINDOW,
    DraftController,
    NgramDrafter,
    Speculation,
)
from hearth.errors import InvalidRequestError
from hearth.events import Usage
from hearth.wire.openai.shapes import usage_from_wire, usage_to_wire


def test_the_continuation_of_an_earlier_ngram_is_drafted() -> None:
    drafter = NgramDrafter([1, 2, 3, 4, 5, 6, 9, 2, 3])
    assert drafter.draft(3) == [4, 5, 6]
    assert drafter.draft(1) == [4]


def test_the_longest_matching_ngram_wins_over_a_more_recent_shorter_one() -> None:
    # "2 3" last occurred before 7, but "1 2 3" only before 4
    drafter = NgramDrafter([1, 2, 3, 4, 5, 2, 3, 7, 8, 1, 2, 3])
    assert drafter.draft(2) == [4, 5]


def test_the_most_recent_occurrence_of_an_ngram_is_used() -> None:
    drafter = NgramDrafter([5, 6, 1, 9, 5, 6, 2, 9, 5, 6])
    assert drafter.draft(2) == [2, 9]


def test_no_draft_without_an_earlier_occurrence() -> None:
    assert NgramDrafter([1, 2, 3, 4, 5]).draft(4) == []
    assert NgramDrafter([]).draft(4) == []
    assert NgramDrafter([1, 2, 1, 2]).draft(0) == []


def test_a_single_repeated_token_is_not_enough_to_draft() -> None:
    assert NgramDrafter([7, 1, 2, 3, 7]).draft(3) == []  # n-grams start at two tokens


def test_pushed_tokens_extend_what_can_be_drafted() -> None:
    drafter = NgramDrafter([10, 11, 12, 13, 14])
    assert drafter.draft(2) == []
    drafter.push(10)
    drafter.push(11)
    assert drafter.draft(2) == [12, 13]
    drafter.push(12)
    assert drafter.draft(5) == [13, 14, 10, 11, 12]  # runs on into the repetition itself


def test_the_drafter_agrees_with_a_brute_force_search() -> None:
    rng = random.Random(7)
    tokens = [rng.randrange(6) for _ in range(300)]
    drafter = NgramDrafter()
    for end, token in enumerate(tokens, 1):
        drafter.push(token)
        assert drafter.draft(4) == _brute_force(tokens[:end], 4)


def _brute_force(tokens: list[int], k: int) -> list[int]:
    for n in (4, 3, 2):
        if len(tokens) <= n:
            continue
        tail = tokens[-n:]
        for start in range(len(tokens) - n - 1, -1, -1):
            if tokens[start : start + n] == tail:
                return tokens[start + n : start + n + k]
    return []


def test_the_draft_length_grows_with_acceptance_and_shrinks_on_rejection() -> None:
    control = DraftController()
    assert control.budget() == MIN_DRAFT
    lengths = []
    for _ in range(5):
        control.record(control.budget(), control.budget())
        lengths.append(control.budget())
    assert lengths == sorted(lengths) and lengths[-1] == MAX_DRAFT
    control.record(MAX_DRAFT, 3)
    assert control.budget() == 4  # what was accepted, and one more
    control.record(4, 0)
    assert control.budget() == MIN_DRAFT


def test_drafting_pauses_when_acceptance_is_low_and_resumes_later() -> None:
    control = DraftController()
    while control.budget():
        control.record(control.budget(), 0)
    assert control.drafted_total >= WINDOW and control.accepted_total == 0
    assert control.paused == PAUSE
    for _ in range(PAUSE - 1):
        control.skipped()
    assert control.budget() == 0
    control.skipped()
    assert control.budget() == MIN_DRAFT
    while control.budget():  # still useless: the next pause is longer
        control.record(control.budget(), 0)
    assert control.paused == 2 * PAUSE


def test_a_good_acceptance_rate_never_pauses() -> None:
    control = DraftController()
    for _ in range(200):
        k = control.budget()
        assert k > 0
        control.record(k, k // 2 + 1)
    assert control.accepted_total > 0.5 * control.drafted_total


def test_a_non_repetitive_stream_wastes_few_drafted_tokens() -> None:
    """Random tokens from a small alphabet: n-grams recur, drafts fail; the controller keeps
    the rejected work to a small share of the tokens produced."""
    rng = random.Random(3)
    spec = Speculation([rng.randrange(20) for _ in range(50)])
    produced = 0
    while produced < 2000:
        draft = spec.propose(room=MAX_DRAFT)
        accepted = 0
        for token in draft:  # the "model" samples at random, whatever was drafted
            sampled = rng.randrange(20)
            spec.drafter.push(sampled)
            produced += 1
            if sampled != token:
                break
            accepted += 1
        else:
            spec.drafter.push(rng.randrange(20))
            produced += 1
        if draft:
            spec.control.record(len(draft), accepted)
    rejected = spec.drafted - spec.accepted
    assert spec.drafted > 0
    assert rejected < 0.25 * produced


def test_the_option_is_checked() -> None:
    assert LocalOptions().speculative == "ngram"
    assert LocalOptions(speculative="off").speculative == "off"
    with pytest.raises(InvalidRequestError, match="speculative must be one of ngram, off"):
        LocalOptions(speculative="draft")  # type: ignore[arg-type]


def test_drafted_and_accepted_tokens_add_up_and_travel_as_openai_prediction_counts() -> None:
    usage = Usage(10, 20, drafted_tokens=12, accepted_tokens=9)
    assert (usage + usage).drafted_tokens == 24 and (usage + usage).accepted_tokens == 18
    wire = usage_to_wire(usage)
    details = wire["completion_tokens_details"]
    assert details == {
        "reasoning_tokens": 0,
        "accepted_prediction_tokens": 9,
        "rejected_prediction_tokens": 3,
    }
    assert usage_from_wire(wire) == usage
    assert "accepted_prediction_tokens" not in str(usage_to_wire(Usage(10, 20)))
