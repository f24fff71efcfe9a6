"""Drafting with a draft model, without a model: the vocabulary check, the option, the config
entry, and the draft KV bookkeeping against a fake engine that checks every batch it decodes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hearth.backends.local.backend import LocalBackend, LocalOptions
from hearth.backends.local.draft_model import DraftModel
from hearth.backends.local.draft_pairing import (
    EDGE,
    MAX_SIZE_DIFFERENCE,
    check_pairing,
    mismatch,
    sample_ids,
)
from hearth.backends.local.speculation import MIN_DRAFT, Speculation
from hearth.catalog.entries import Catalog, CatalogEntry, PathSource, builtin_catalog
from hearth.catalog.store import ModelStore
from hearth.config.parse import parse_config
from hearth.config.render import entry_fields
from hearth.errors import InvalidRequestError, ModelNotFoundError
from hearth.settings import GenerationSettings

# -- the vocabulary check -------------------------------------------------------------------


@dataclass
class Vocab:
    n_vocab: int = 1000
    vocab_type: int = 2
    bos_id: int = 1
    eos_id: int = 2
    add_bos: bool = False
    renamed: dict[int, str] = field(default_factory=dict)

    def token_text(self, token: int) -> str:
        return self.renamed.get(token, f"tok{token}")


def test_models_of_one_family_pair_even_with_a_few_padding_tokens_more() -> None:
    assert mismatch(Vocab(), Vocab()) is None
    assert mismatch(Vocab(1000), Vocab(1000 + MAX_SIZE_DIFFERENCE)) is None


@pytest.mark.parametrize(
    ("draft", "why"),
    [
        (Vocab(n_vocab=262144), "vocabularies of 1000 and 262144 tokens"),
        (Vocab(vocab_type=1), "BPE and SentencePiece tokenizers"),
        (Vocab(bos_id=7), "a different BOS token (1 and 7)"),
        (Vocab(eos_id=0), "a different EOS token (2 and 0)"),
        (Vocab(add_bos=True), "a different adds BOS (False and True)"),
        (Vocab(renamed={999: "<|im_end|>"}), "token 999 is 'tok999' in one and '<|im_end|>'"),
    ],
)
def test_a_vocabulary_that_differs_is_refused_saying_how(draft: Vocab, why: str) -> None:
    assert why in (mismatch(Vocab(), draft) or "")


def test_the_refusal_names_both_models_and_what_pairs() -> None:
    with pytest.raises(InvalidRequestError) as info:
        check_pairing(Vocab(), Vocab(n_vocab=5000), "local:smollm2", "local:gemma3-270m")
    message = str(info.value)
    assert "draft model local:gemma3-270m cannot draft for local:smollm2" in message
    assert "same family" in message


def test_the_sample_covers_both_ends_of_the_vocabulary_and_spreads_over_the_rest() -> None:
    ids = sample_ids(151_936)
    assert set(range(EDGE)) <= set(ids) and set(range(151_936 - EDGE, 151_936)) <= set(ids)
    gaps = [b - a for a, b in itertools.pairwise(ids)]
    assert max(gaps) <= 151_936 // 4096 and len(ids) < 5000
    assert sample_ids(10) == list(range(10))


# -- the option and the config entry --------------------------------------------------------


def test_the_draft_model_option_is_checked() -> None:
    assert LocalOptions(draft_model="local:smollm2").draft_model == "smollm2"
    assert LocalOptions().draft_model is None
    with pytest.raises(InvalidRequestError, match="draft_model must name a model"):
        LocalOptions(draft_model=" ")
    with pytest.raises(InvalidRequestError, match="speculative='off' turns off"):
        LocalOptions(draft_model="smollm2", speculative="off")


def test_a_models_entry_names_its_draft_model() -> None:
    config = parse_config(
        {"models": [{"name": "big", "path": "/m/big.gguf", "draft_model": "smollm2"}]},
        Path("config.toml"),
    )
    (entry,) = config.models
    assert entry.draft_model == "smollm2"
    assert entry_fields(entry)["draft_model"] == "smollm2"
    plain = parse_config({"models": [{"name": "p", "path": "/m/p.gguf"}]}, Path("c.toml"))
    assert "draft_model" not in entry_fields(plain.models[0])


def test_the_option_drafts_over_the_entrys_draft_model_and_off_drafts_with_none(
    tmp_path: Path,
) -> None:
    (tmp_path / "big.gguf").write_bytes(b"GGUF")
    (tmp_path / "small.gguf").write_bytes(b"GGUF")
    big = CatalogEntry("big", PathSource(tmp_path / "big.gguf"), draft_model="small")
    small = CatalogEntry("small", PathSource(tmp_path / "small.gguf"))
    catalog = Catalog((*builtin_catalog().entries, big, small))
    store = ModelStore(tmp_path / "store")

    def backend(**options: Any) -> LocalBackend:
        return LocalBackend("big", LocalOptions(**options), store, catalog)

    assert backend().draft_model == "small"
    assert backend().memory_estimate() == 8  # both files: the draft model loads too
    assert backend(speculative="off").memory_estimate() == 4
    assert backend(draft_model="smollm2").draft_model == "smollm2"
    assert backend(speculative="off").draft_model is None
    assert LocalBackend("small", LocalOptions(), store, catalog).draft_model is None
    with pytest.raises(ModelNotFoundError, match="unknown local model 'nope'"):
        backend(draft_model="nope")  # at once, not at the first request


# -- the draft KV bookkeeping -----------------------------------------------------------------


def rule(token: int) -> int:
    """The fake draft model's greedy next token: counts up, wrapping at 50."""
    return (token + 1) % 50


class FakeEngine:
    """A draft engine whose KV is a token list per sequence: every batch must continue each
    sequence at its next position, so a stale or missing token is caught."""

    n_vocab = 64
    n_batch = 16

    def __init__(self, n_ctx: int = 256) -> None:
        self.n_ctx = n_ctx
        self.kv: dict[int, list[int]] = {}
        self.outputs: dict[int, int] = {}
        self.decodes = 0
        self.fed = 0

    def decode(self, batch: Any) -> bool:
        b = batch.native
        self.outputs.clear()
        self.decodes += 1
        for i in range(int(b.n_tokens)):
            seq, pos, token = int(b.seq_id[i][0]), int(b.pos[i]), int(b.token[i])
            held = self.kv.setdefault(seq, [])
            assert pos == len(held), f"sequence {seq} got position {pos} after {len(held)}"
            held.append(token)
            self.fed += 1
            if b.logits[i]:
                self.outputs[i] = rule(token)
        return True

    def seq_remove(self, seq: int, start: int = 0) -> bool:
        del self.kv.setdefault(seq, [])[start:]
        return True

    def sample(self, sampler: object, index: int) -> int:
        return self.outputs[index]

    def is_eog(self, token: int) -> bool:
        return token == 0

    def new_sampler(self, settings: object) -> Any:
        class Closable:
            def close(self) -> None:
                pass

        return Closable()

    def close(self) -> None:
        pass


class Seq:
    """What the draft model reads of a running sequence."""

    def __init__(self, slot: int, prompt: list[int], room: int = 8) -> None:
        self.slot = slot
        self.job = SimpleNamespace(prompt=prompt, settings=GenerationSettings(temperature=0))
        self.spec: Speculation | None = Speculation(prompt, lookup=False)
        self.room = room

    def draft_room(self, room: int) -> int:
        return min(room, self.room)

    def sample(self, token: int) -> None:
        assert self.spec is not None
        self.spec.drafter.push(token)


@pytest.fixture
def fake() -> tuple[FakeEngine, DraftModel]:
    engine = FakeEngine()
    return engine, DraftModel(engine, "fake", limit=60)  # type: ignore[arg-type]


def test_the_draft_is_the_draft_models_greedy_continuation(
    fake: tuple[FakeEngine, DraftModel],
) -> None:
    engine, draft = fake
    assert MIN_DRAFT == 2  # a sequence's first draft
    seq = Seq(0, [3, 4, 5, 6])
    assert draft.propose([seq], room=20) == {seq: [7, 8]}  # type: ignore[list-item, dict-item]
    assert engine.kv[0] == [3, 4, 5, 6, 7]  # the last drafted token is not decoded
    assert engine.decodes == 2  # one per drafted token


def test_after_verification_only_the_new_tokens_are_evaluated_and_rejected_ones_leave(
    fake: tuple[FakeEngine, DraftModel],
) -> None:
    engine, draft = fake
    seq = Seq(2, [1, 2, 3])
    assert draft.propose([seq], room=20) == {seq: [4, 5]}  # type: ignore[list-item, dict-item]
    assert seq.spec is not None
    seq.spec.control.record(2, 1)  # the target kept 4, then sampled 9 instead of 5
    seq.sample(4)
    seq.sample(9)
    fed = engine.fed
    assert draft.propose([seq], room=20) == {seq: [10, 11]}  # type: ignore[list-item, dict-item]
    assert engine.kv[2] == [1, 2, 3, 4, 9, 10]
    assert engine.fed - fed == 2  # the target's 9, then the drafted 10


def test_sequences_draft_together_in_one_decode_per_token(
    fake: tuple[FakeEngine, DraftModel],
) -> None:
    engine, draft = fake
    a, b = Seq(0, [10, 11]), Seq(1, [20, 21, 22])
    drafts = draft.propose([a, b], room=20)  # type: ignore[list-item]
    assert drafts == {a: [12, 13], b: [23, 24]}  # type: ignore[comparison-overlap]
    assert engine.decodes == 2


def test_a_long_prompt_is_read_in_batches_and_the_room_is_shared(
    fake: tuple[FakeEngine, DraftModel],
) -> None:
    engine, draft = fake
    prompt = [i % 40 + 1 for i in range(40)]  # more than the batch of 16
    a, b = Seq(0, prompt), Seq(1, [5, 6])
    drafts = draft.propose([a, b], room=3)  # type: ignore[list-item]
    assert drafts[a] == [prompt[-1] + 1, prompt[-1] + 2]  # type: ignore[index]
    assert drafts[b] == [7]  # type: ignore[index]  # one token of room was left
    assert engine.kv[0] == [*prompt, prompt[-1] + 1]


def test_a_draft_ends_at_an_end_of_generation_token_or_past_the_targets_vocabulary(
    fake: tuple[FakeEngine, DraftModel],
) -> None:
    _, draft = fake
    ending = Seq(0, [47, 48])
    ending.spec.control.length = 6  # type: ignore[union-attr]
    assert draft.propose([ending], room=20) == {ending: [49, 0]}  # type: ignore[list-item, dict-item]
    engine = FakeEngine()
    narrow = DraftModel(engine, "fake", limit=8)  # type: ignore[arg-type]
    seq = Seq(1, [5, 6])
    seq.spec.control.length = 6  # type: ignore[union-attr]
    assert narrow.propose([seq], room=20) == {seq: [7]}  # type: ignore[list-item, dict-item]


def test_a_new_request_in_a_slot_reuses_the_draft_kv_it_shares(
    fake: tuple[FakeEngine, DraftModel],
) -> None:
    engine, draft = fake
    draft.propose([Seq(0, [1, 2, 3, 4, 5, 6])], room=20)  # type: ignore[list-item]
    fed = engine.fed
    draft.propose([Seq(0, [1, 2, 3, 30, 31])], room=20)  # type: ignore[list-item]
    assert engine.kv[0] == [1, 2, 3, 30, 31, 32]
    assert engine.fed - fed == 3  # 30, 31 and the drafted 32


def test_a_full_draft_cache_drops_other_slots_first_then_drafts_nothing_this_step() -> None:
    engine = FakeEngine()
    draft = DraftModel(engine, "fake", limit=60)  # type: ignore[arg-type]
    draft.propose([Seq(5, [1, 2, 3])], room=20)  # type: ignore[list-item]
    seq = Seq(0, [8, 9])
    real_decode = engine.decode
    calls = []

    def full_once(batch: Any) -> bool:
        calls.append(dict(engine.kv))
        return len(calls) > 1 and real_decode(batch)

    engine.decode = full_once  # type: ignore[method-assign]
    assert draft.propose([seq], room=20) == {seq: [10, 11]}  # type: ignore[list-item, dict-item]
    assert engine.kv[5] == []  # slot 5 is not drafting: its draft KV made room
    engine.decode = lambda batch: False  # type: ignore[method-assign]
    seq.sample(10)
    assert draft.propose([seq], room=20) == {}  # type: ignore[list-item]
    assert engine.kv[0] == []  # forgotten: the next draft reads the sequence again
    engine.decode = real_decode  # type: ignore[method-assign]
    assert draft.propose([seq], room=20) == {seq: [11, 12]}  # type: ignore[list-item, dict-item]


def test_no_draft_past_the_draft_models_window() -> None:
    engine = FakeEngine(n_ctx=6)
    draft = DraftModel(engine, "fake", limit=60)  # type: ignore[arg-type]
    near = Seq(0, [1, 2, 3, 4, 5])
    near.spec.control.length = 6  # type: ignore[union-attr]
    assert draft.propose([near], room=20) == {near: [6, 7]}  # type: ignore[list-item, dict-item]
    assert len(engine.kv[0]) == 6  # positions 0…5: the window is full
    full = Seq(1, [1, 2, 3, 4, 5, 6, 7])
    assert draft.propose([full], room=20) == {}  # type: ignore[list-item]


def test_a_failed_decode_reaches_the_caller_and_the_next_draft_starts_afresh(
    fake: tuple[FakeEngine, DraftModel],
) -> None:
    engine, draft = fake
    seq = Seq(0, [1, 2, 3])
    draft.propose([seq], room=20)  # type: ignore[list-item]
    real_decode = engine.decode

    def broken(batch: Any) -> bool:
        raise RuntimeError("llama_decode failed")

    engine.decode = broken  # type: ignore[method-assign]
    seq.sample(4)
    with pytest.raises(RuntimeError, match="llama_decode failed"):
        draft.propose([seq], room=20)  # type: ignore[list-item]
    assert engine.kv[0] == []
    engine.decode = real_decode  # type: ignore[method-assign]
    assert draft.propose([seq], room=20) == {seq: [5, 6]}  # type: ignore[list-item, dict-item]
    assert engine.kv[0] == [1, 2, 3, 4, 5]
