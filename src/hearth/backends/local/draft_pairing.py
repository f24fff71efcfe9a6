"""Whether a draft model can draft for a target model: the same tokenizer and vocabulary.

A draft model proposes token ids that the target verifies as its own, so an id must mean the
same text in both: the same kind of tokenizer, the same special tokens (BOS, EOS, whether BOS
is added), and the same token texts. Models of one family share them (Qwen2.5-0.5B drafts for
Qwen2.5-7B, SmolLM2-135M for SmolLM2-1.7B), though a larger sibling's vocabulary is sometimes
padded with a few unused tokens at its end; up to :data:`MAX_SIZE_DIFFERENCE` of those are
allowed, as llama.cpp's own speculative decoding allows them (a drafted id past the target's
vocabulary simply ends the draft). Token texts are compared on a sample: the first and last
:data:`EDGE` ids of the shared range, where special tokens live, and :data:`SPREAD` ids spread
evenly over the rest. Pure: the vocabularies are read through :class:`Vocabulary`.
"""

from __future__ import annotations

from typing import Protocol

from hearth.errors import InvalidRequestError

MAX_SIZE_DIFFERENCE = 128
EDGE = 256
SPREAD = 4096
TOKENIZERS = {1: "SentencePiece", 2: "BPE", 3: "WordPiece", 4: "Unigram", 5: "RWKV"}
"""llama.cpp's ``llama_vocab_type`` codes, by name."""


class Vocabulary(Protocol):
    """What the check reads of a loaded model's vocabulary."""

    @property
    def n_vocab(self) -> int: ...

    @property
    def vocab_type(self) -> int: ...

    @property
    def bos_id(self) -> int: ...

    @property
    def eos_id(self) -> int: ...

    @property
    def add_bos(self) -> bool: ...

    def token_text(self, token: int) -> str: ...


def sample_ids(shared: int) -> list[int]:
    """The token ids whose texts are compared, for a shared vocabulary of ``shared`` ids."""
    step = max(1, shared // SPREAD)
    ids = {*range(min(EDGE, shared)), *range(max(0, shared - EDGE), shared)}
    ids.update(range(0, shared, step))
    return sorted(ids)


def mismatch(target: Vocabulary, draft: Vocabulary) -> str | None:
    """Why ``draft`` cannot draft for ``target`` (None: it can)."""
    if abs(target.n_vocab - draft.n_vocab) > MAX_SIZE_DIFFERENCE:
        return f"vocabularies of {target.n_vocab} and {draft.n_vocab} tokens"
    if target.vocab_type != draft.vocab_type:
        kinds = (TOKENIZERS.get(v.vocab_type, str(v.vocab_type)) for v in (target, draft))
        return "{} and {} tokenizers".format(*kinds)
    for what, a, b in (
        ("BOS token", target.bos_id, draft.bos_id),
        ("EOS token", target.eos_id, draft.eos_id),
        ("adds BOS", target.add_bos, draft.add_bos),
    ):
        if a != b:
            return f"a different {what} ({a!r} and {b!r})"
    for token in sample_ids(min(target.n_vocab, draft.n_vocab)):
        mine, theirs = target.token_text(token), draft.token_text(token)
        if mine != theirs:
            return f"token {token} is {mine!r} in one and {theirs!r} in the other"
    return None


def check_pairing(target: Vocabulary, draft: Vocabulary, target_name: str, draft_name: str) -> None:
    """Raise :class:`InvalidRequestError`, naming both models, unless ``draft`` can draft for
    ``target``."""
    why = mismatch(target, draft)
    if why is not None:
        raise InvalidRequestError(
            f"draft model {draft_name} cannot draft for {target_name}: their vocabularies "
            f"differ ({why}). A draft model must share the target's tokenizer: a smaller model "
            "of the same family, such as Qwen2.5-0.5B for Qwen2.5-7B or SmolLM2-135M for "
            "SmolLM2-1.7B; or leave draft_model out (prompt lookup drafts then)"
        )
