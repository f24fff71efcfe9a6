"""Constrained decoding for local models: a grammar masks the logits before every sample.

The scheduler's worker calls a :class:`Constraint` once per generated token of a sequence
(contract D)::

    constraint.mask(engine.logits(i))   # in place, before sampling
    token = engine.sample(sampler, i)
    constraint.accept(token)            # after sampling
    if constraint.is_finished(): ...    # the grammar is complete: stop with end_turn

:class:`GrammarConstraint` is that hook over llguidance, a Rust library made for fast token masks
(it computes the set of allowed tokens from a token trie and a lazily built lexer, typically in
well under a millisecond for a 49k vocabulary). The mask is written as a bitmask straight into a
numpy buffer, unpacked with one vectorised call and applied to the logits row through a numpy view
of llama.cpp's own buffer: no Python loop over the vocabulary, no copy of the logits. The next
mask can be computed on a helper thread as soon as a token is accepted (``overlap=True``), so it
overlaps llama.cpp's decode of that token (both release the GIL). That pays only where a core is
free: on 2 cores, with llama.cpp's 2 threads busy, the helper thread competed with them and cost
more than it saved (0.94x against 0.95-0.96x free speed in bench/constrained.py), so the
default computes the mask at sampling time.

:class:`ConstraintCompiler` owns the llguidance tokenizer of one loaded model (built once from
llama.cpp's vocabulary; it costs about half a second) and compiles grammars from
:mod:`hearth.backends.local.grammars` into constraints, with llguidance's resource limits
(:func:`limits`) bounding compile time and per-token work. Compiling happens on the caller's
thread, so a bad or hostile grammar fails before the request is queued.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from hearth.errors import InvalidRequestError, UnsupportedFeatureError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from llguidance import LLMatcher, LLParserLimits, LLTokenizer

    from hearth.backends.local.engine import LlamaEngine


class Constraint(Protocol):
    """The per-token hook of one sequence; see the module docstring."""

    def mask(self, logits: Any) -> None:
        """Set the logits of every token the grammar forbids next to -inf. ``logits`` is the
        ``float*`` row of ``n_vocab`` values (``llama_get_logits_ith``); changed in place."""
        ...

    def accept(self, token: int) -> None:
        """Advance the grammar past ``token``, the one just sampled."""
        ...

    def is_finished(self) -> bool:
        """True when the grammar is complete and admits nothing more: stop with end_turn."""
        ...

    def close(self) -> None:
        """Release what the constraint holds. Called once, when the sequence ends."""
        ...


class ConstraintError(InvalidRequestError):
    """A grammar, regex or schema that cannot be compiled into a constraint."""


def limits() -> LLParserLimits:
    """llguidance's resource limits for hearth: they bound compile time (lexer fuel, grammar
    size, states) and each token's mask computation (step fuel and Earley items)."""
    from llguidance import LLParserLimits

    return LLParserLimits(
        max_items_in_row=2_000,
        initial_lexer_fuel=1_000_000,  # ~20 ms of regex analysis at compile time
        step_lexer_fuel=200_000,  # ~15 ms per token at worst
        step_max_items=50_000,
        max_lexer_states=100_000,
        max_grammar_size=200_000,
        verbose_errors=False,
    )


class GrammarConstraint:
    """A :class:`Constraint` over an llguidance matcher."""

    def __init__(
        self,
        matcher: LLMatcher,
        n_vocab: int,
        vocab_size: int,
        executor: Executor | None = None,
    ) -> None:
        import numpy as np

        self._matcher = matcher
        self._n_vocab = n_vocab
        words = (max(vocab_size, n_vocab) + 31) // 32
        self._bits: npt.NDArray[np.int32] = np.zeros(words, dtype=np.int32)
        self._banned: npt.NDArray[np.int32] = np.zeros(words, dtype=np.int32)
        self._ptr = int(self._bits.ctypes.data)
        self._nbytes = int(self._bits.nbytes)
        self._executor = executor
        self._pending: Future[None] | None = None
        self._finished = matcher.is_stopped()
        self._compute_ahead()

    def _compute(self) -> None:
        self._matcher.unsafe_compute_mask_ptr(self._ptr, self._nbytes)  # releases the GIL

    def _compute_ahead(self) -> None:
        """Start computing the next mask on the executor's thread: it runs while llama.cpp
        decodes (which releases the GIL too), so the sampling step only applies it."""
        if self._executor is not None and not self._finished:
            self._pending = self._executor.submit(self._compute)

    def _wait(self) -> bool:
        """Wait for a mask computed ahead; False if none was."""
        pending, self._pending = self._pending, None
        if pending is None:
            return False
        pending.result()
        return True

    def mask(self, logits: Any) -> None:
        import numpy as np

        if not self._wait():
            self._compute()
        np.invert(self._bits, out=self._banned)
        banned = np.unpackbits(
            self._banned.view(np.uint8), count=self._n_vocab, bitorder="little"
        ).view(np.bool_)
        row = np.ctypeslib.as_array(logits, shape=(self._n_vocab,))
        np.copyto(row, -np.inf, where=banned)

    def accept(self, token: int) -> None:
        self._wait()  # the matcher is not to be touched while a mask is being computed
        if not self._matcher.consume_token(token):
            raise InvalidRequestError(
                f"constrained decoding stopped: {self._matcher.get_error() or 'token refused'}"
            )
        self._finished = self._matcher.is_stopped()
        self._compute_ahead()

    def is_finished(self) -> bool:
        return self._finished

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._wait()

    @property
    def accepting(self) -> bool:
        """True when the text so far is a complete match (the model may stop here)."""
        self._wait()
        return self._matcher.is_accepting()


class ConstraintCompiler:
    """Compiles grammars for one loaded model. Thread-safe; the tokenizer is built on first use."""

    def __init__(self, engine: LlamaEngine, *, overlap: bool = False) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._tokenizer: LLTokenizer | None = None
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix="hearth-grammar") if overlap else None
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def tokenizer(self) -> LLTokenizer:
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = _build_tokenizer(self._engine)
            return self._tokenizer

    def compile(self, grammar: str, what: str) -> GrammarConstraint:
        """A fresh constraint for ``grammar`` (an llguidance grammar from
        :mod:`~hearth.backends.local.grammars`). ``what`` names it in error messages."""
        check_grammar(grammar, what)
        tokenizer = self.tokenizer()
        return compile_constraint(
            tokenizer, grammar, what, self._engine.n_vocab, executor=self._executor
        )


def check_grammar(grammar: str, what: str) -> None:
    """Raise the error a grammar deserves, without building any token tables."""
    from llguidance import LLMatcher

    problem = LLMatcher.validate_grammar(grammar, None, limits=limits())
    if problem:
        raise _compile_error(problem, what)


def compile_constraint(
    tokenizer: LLTokenizer,
    grammar: str,
    what: str,
    n_vocab: int,
    *,
    executor: Executor | None = None,
) -> GrammarConstraint:
    """A constraint for ``grammar`` over ``tokenizer``'s vocabulary (``n_vocab`` logits); with
    an ``executor``, each next mask is computed there as soon as a token is accepted."""
    from llguidance import LLMatcher

    matcher = LLMatcher(tokenizer, grammar, log_level=0, limits=limits())
    if matcher.is_error():
        raise _compile_error(matcher.get_error(), what)
    return GrammarConstraint(matcher, n_vocab, tokenizer.vocab_size, executor)


def _compile_error(problem: str, what: str) -> InvalidRequestError:
    detail = " ".join(problem.split())[:400] or "rejected"
    if "Unimplemented keys" in problem:
        return UnsupportedFeatureError(
            f"the {what} uses a JSON-schema keyword that constrained decoding cannot enforce: "
            f"{detail}. Remove it, or check that condition on the result yourself."
        )
    if "fuel" in problem or "too large" in problem or "limit" in problem.lower():
        return ConstraintError(
            f"the {what} is too complex to compile within hearth's limits: {detail}. "
            "Simplify it (fewer or simpler alternatives, bounded repetitions)."
        )
    return ConstraintError(f"invalid {what}: {detail}")


def _build_tokenizer(engine: LlamaEngine) -> LLTokenizer:
    """llguidance's view of the model's vocabulary: every token's bytes (llama.cpp's pieces,
    control tokens marked special) and llama.cpp's own tokenizer for text the grammar forces.
    Every end-of-generation token counts as EOS, so the grammar may end the turn with any."""
    from llguidance.llamacpp import lltokenizer_from_vocab

    eog = [t for t in range(engine.n_vocab) if engine.is_eog(t)]
    with warnings.catch_warnings():  # it reads token attributes with a deprecated binding
        warnings.simplefilter("ignore", DeprecationWarning)
        return lltokenizer_from_vocab(engine.vocab_handle, eos_token=eog or None)
