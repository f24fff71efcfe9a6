"""Speculative decoding (prompt lookup) on the real SmolLM2 model: the same text as without it."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

import hearth
from hearth import Response

pytestmark = pytest.mark.integration

CODE = """def area(width, height):
    return width * height


def perimeter(width, height):
    return 2 * (width + height)


def describe(width, height):
    return f"{width} by {height}: area {area(width, height)}"
"""

COPYING = [
    f"Rewrite this code exactly, but rename the function area to surface:\n\n{CODE}",
    "Copy this list exactly: apple, banana, cherry, date, elderberry, fig, grape, apple, "
    "banana, cherry, date, elderberry, fig, grape.",
    "Extract the fields as JSON with keys name, city and year.\n\nName: Ada Lovelace\n"
    "City: London\nYear: 1843\nName: Alan Turing\nCity: Manchester\nYear: 1950",
    f"Repeat after me: {CODE}",
]
FREE = [
    "Write a short story about a lighthouse keeper.",
    "What is the capital of France? Answer in one sentence.",
    "List three uses of copper.",
    "Explain recursion to a child.",
]


@pytest.fixture(scope="module")
def models() -> Iterator[tuple[hearth.Model, hearth.Model]]:
    with (
        hearth.model("local:smollm2", n_threads=2, speculative="off") as plain,
        hearth.model("local:smollm2", n_threads=2, speculative="ngram") as spec,
    ):
        yield plain, spec


def _all(m: hearth.Model, prompts: list[str], **settings: object) -> list[Response]:
    """The prompts' answers, all running at once (their drafts share decode steps)."""
    with ThreadPoolExecutor(len(prompts)) as pool:
        return list(pool.map(lambda p: m.chat(p, **settings), prompts))  # type: ignore[arg-type]


def test_greedy_output_is_identical_with_and_without_speculation(
    models: tuple[hearth.Model, hearth.Model],
) -> None:
    plain, spec = models
    prompts = COPYING + FREE
    settings = {"temperature": 0, "max_tokens": 64}
    expected = [(r.text, r.stop_reason) for r in _all(plain, prompts, **settings)]
    got = _all(spec, prompts, **settings)
    assert [(r.text, r.stop_reason) for r in got] == expected
    # 8 at once draft little or nothing (DRAFT_WHILE_AT_MOST: only while at most two run; the
    # first request may take a step or two alone before the others are admitted, which is
    # timing); one alone drafts. (Two at once are not compared: which sequences share a decode
    # step can change a greedy token on CPU with or without drafts, and drafts change the
    # steps' shapes.)
    one_by_one = [spec.chat(p, **settings) for p in COPYING]
    alone = [plain.chat(p, **settings) for p in COPYING]
    assert [r.text for r in one_by_one] == [r.text for r in alone]
    copied = [r.usage for r in one_by_one]
    crowd = sum(r.usage.drafted_tokens for r in got[: len(COPYING)])
    assert crowd < sum(u.drafted_tokens for u in copied) / 2
    assert sum(u.drafted_tokens for u in copied) > 0
    assert sum(u.accepted_tokens for u in copied) > 0
    assert all(u.accepted_tokens <= u.drafted_tokens for u in copied)
    assert all(r.usage.drafted_tokens == 0 for r in _all(plain, prompts[:1], **settings))


def test_stop_strings_and_max_tokens_end_at_the_same_place(
    models: tuple[hearth.Model, hearth.Model],
) -> None:
    plain, spec = models
    for settings in ({"max_tokens": 7}, {"stop": ["height)"], "max_tokens": 80}):
        a = plain.chat(COPYING[3], temperature=0, **settings)  # type: ignore[arg-type]
        b = spec.chat(COPYING[3], temperature=0, **settings)  # type: ignore[arg-type]
        assert (b.text, b.stop_reason, b.usage.output_tokens) == (
            a.text,
            a.stop_reason,
            a.usage.output_tokens,
        )


def test_a_seeded_sample_is_the_same_stream_with_and_without_speculation(
    models: tuple[hearth.Model, hearth.Model],
) -> None:
    plain, spec = models
    for seed in range(3):
        settings = {"temperature": 0.7, "seed": seed, "max_tokens": 40}
        a = plain.chat(COPYING[1], **settings)  # type: ignore[arg-type]
        b = spec.chat(COPYING[1], **settings)  # type: ignore[arg-type]
        assert b.text == a.text


def test_the_sampling_distribution_is_unchanged(
    models: tuple[hearth.Model, hearth.Model],
) -> None:
    """Unseeded samples of a copying answer, where drafts are accepted: how often the answer
    copies the list and how it starts are as frequent with speculation as without (a loose
    bound for 40 samples each: 4 standard deviations). Accepting a draft without the sampled
    token agreeing would make copying far more frequent."""
    plain, spec = models
    prompts = [COPYING[1]] * 2  # two at a time: both draft (DRAFT_WHILE_AT_MOST)
    settings = {"temperature": 0.6, "top_k": 4, "max_tokens": 10}
    a = [r for _ in range(20) for r in _all(plain, prompts, **settings)]
    b = [r for _ in range(20) for r in _all(spec, prompts, **settings)]
    assert sum(r.usage.accepted_tokens for r in b) > 0

    def features(rs: list[Response]) -> Counter[str]:
        found: Counter[str] = Counter()
        for r in rs:
            found["copies"] += "banana, cherry" in r.text
            found[f"starts {r.text.split(' ')[0]}"] += 1
        return found

    fa, fb = features(a), features(b)
    common = ["copies"] + [k for k, _ in (fa + fb).most_common(4) if k != "copies"]
    for key in common:
        assert _z(fa[key], fb[key], len(a)) < 4, (key, fa, fb)


def _z(x: int, y: int, n: int) -> float:
    """The two-proportion z statistic of ``x`` and ``y`` hits out of ``n`` each."""
    pooled = (x + y) / (2 * n)
    spread = math.sqrt(2 * pooled * (1 - pooled) / n)
    return 0.0 if spread == 0 else abs(x - y) / n / spread


def test_a_stream_cancelled_while_drafting_leaves_the_model_as_it_was(
    models: tuple[hearth.Model, hearth.Model],
) -> None:
    plain, spec = models
    with spec.stream(COPYING[3], temperature=0, max_tokens=200) as s:
        for got, _ in enumerate(s.text_stream):
            if got == 20:
                break
    a = plain.chat(COPYING[0], temperature=0, max_tokens=48)
    b = spec.chat(COPYING[0], temperature=0, max_tokens=48)
    assert (b.text, b.usage.output_tokens) == (a.text, a.usage.output_tokens)
