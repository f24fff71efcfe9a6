"""Constrained decoding without a model: grammars, bounds, errors, and the per-token hook driven
by random logits over a byte-level vocabulary (so any output the mask allows is checked)."""

from __future__ import annotations

import ctypes
import json
import random
import time
from pathlib import Path
from typing import ClassVar

import jsonschema
import pytest
from llguidance import LLTokenizer, TokenizerWrapper

from hearth.backends.local.constraints import (
    ConstraintError,
    GrammarConstraint,
    check_grammar,
    compile_constraint,
)
from hearth.backends.local.grammars import (
    MAX_ALTERNATIONS,
    MAX_GRAMMAR_BYTES,
    expansion,
    grammar_alternations,
    output_grammar,
    regex_alternations,
)
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.request import OutputFormat

SCHEMAS = Path(__file__).parent.parent / "fixtures" / "schemas"
EOS = 256


class ByteVocab:
    """256 one-byte tokens plus an end-of-sequence token."""

    eos_token_id = EOS
    bos_token_id = None
    tokens: ClassVar[list[bytes]] = [bytes([i]) for i in range(256)] + [b"\xff<eos>"]
    special_token_ids: ClassVar[list[int]] = [EOS]

    def __call__(self, text: str | bytes) -> list[int]:
        return list(text if isinstance(text, bytes) else text.encode())


@pytest.fixture(scope="module")
def tokenizer() -> LLTokenizer:
    return LLTokenizer(TokenizerWrapper(ByteVocab()))


def _constraint(tokenizer: LLTokenizer, fmt: OutputFormat) -> GrammarConstraint:
    grammar = output_grammar(fmt)
    check_grammar(grammar, fmt.kind)
    return compile_constraint(tokenizer, grammar, fmt.kind, EOS + 1)


def random_walk(constraint: GrammarConstraint, seed: int, *, limit: int = 600) -> str:
    """Generate with random logits: the mask alone decides what is valid."""
    rng = random.Random(seed)
    out = bytearray()
    for _ in range(limit):
        logits = (ctypes.c_float * (EOS + 1))(*(rng.gauss(0, 1) for _ in range(EOS + 1)))
        constraint.mask(logits)
        allowed = [i for i in range(EOS + 1) if logits[i] != float("-inf")]
        assert allowed, "the mask allowed nothing"
        if EOS in allowed and rng.random() < 0.3:
            break
        token = max((i for i in allowed if i != EOS), key=lambda i: logits[i], default=EOS)
        if token == EOS:
            break
        constraint.accept(token)
        out.append(token)
        if constraint.is_finished():
            break
    else:
        pytest.fail(f"no end after {limit} tokens: {bytes(out)!r}")
    return out.decode("utf-8")


# --- the hook -------------------------------------------------------------------------------------


def test_mask_sets_only_forbidden_logits_to_minus_infinity(tokenizer: LLTokenizer) -> None:
    constraint = _constraint(tokenizer, OutputFormat("regex", grammar="ab|cd"))
    logits = (ctypes.c_float * (EOS + 1))(*([1.5] * (EOS + 1)))
    constraint.mask(logits)
    allowed = {i for i in range(EOS + 1) if logits[i] != float("-inf")}
    assert allowed == {ord("a"), ord("c")}
    assert logits[ord("a")] == 1.5


def test_accept_advances_and_finishes(tokenizer: LLTokenizer) -> None:
    constraint = _constraint(tokenizer, OutputFormat("regex", grammar="ab|cd"))
    constraint.accept(ord("c"))
    assert not constraint.is_finished()
    constraint.accept(ord("d"))
    assert constraint.is_finished()
    assert constraint.accepting


def test_a_forbidden_token_is_an_error(tokenizer: LLTokenizer) -> None:
    constraint = _constraint(tokenizer, OutputFormat("regex", grammar="ab"))
    with pytest.raises(InvalidRequestError, match="constrained decoding stopped"):
        constraint.accept(ord("z"))


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json")), ids=lambda p: p.stem)
def test_random_logits_always_give_schema_valid_json(tokenizer: LLTokenizer, path: Path) -> None:
    schema = json.loads(path.read_text())
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for seed in range(3):
        constraint = _constraint(tokenizer, OutputFormat("json_schema", schema=schema))
        text = random_walk(constraint, seed)
        jsonschema.validate(json.loads(text), schema, format_checker=checker)


def test_free_json_is_an_object(tokenizer: LLTokenizer) -> None:
    text = random_walk(_constraint(tokenizer, OutputFormat("json")), 1)
    assert isinstance(json.loads(text), dict)


def test_gbnf_and_regex_outputs_match(tokenizer: LLTokenizer) -> None:
    gbnf = 'root ::= answer " " num\nanswer ::= "yes" | "no"\nnum ::= [1-9] [0-9]?'
    regex = r"[A-Z]{3}-\d{2,4}"
    import re

    for seed in range(5):
        text = random_walk(_constraint(tokenizer, OutputFormat("gbnf", grammar=gbnf)), seed)
        assert re.fullmatch(r"(yes|no) [1-9][0-9]?", text), text
        text = random_walk(_constraint(tokenizer, OutputFormat("regex", grammar=regex)), seed)
        assert re.fullmatch(regex, text), text


# --- bounds ---------------------------------------------------------------------------------------


def test_grammar_over_64_kib_is_refused() -> None:
    big = "a" * (MAX_GRAMMAR_BYTES + 1)
    with pytest.raises(InvalidRequestError, match=r"65,537 bytes.*64 KiB"):
        output_grammar(OutputFormat("regex", grammar=big))
    with pytest.raises(InvalidRequestError, match="64 KiB"):
        output_grammar(OutputFormat("gbnf", grammar=f'root ::= "{big}"'))
    schema = {"type": "string", "description": big}
    with pytest.raises(InvalidRequestError, match=r"JSON schema is .*64 KiB"):
        output_grammar(OutputFormat("json_schema", schema=schema))


def test_grammar_at_64_kib_is_accepted() -> None:
    regex = "a" * (MAX_GRAMMAR_BYTES - 10) + "b"
    check_grammar(output_grammar(OutputFormat("regex", grammar=regex)), "regex")


def test_more_than_4096_alternations_are_refused() -> None:
    words = [f"w{i}" for i in range(MAX_ALTERNATIONS + 2)]
    with pytest.raises(InvalidRequestError, match=r"4,097 alternatives; .* at most 4,096"):
        output_grammar(OutputFormat("regex", grammar="|".join(words)))
    gbnf = "root ::= " + " | ".join(f'"{w}"' for w in words)
    with pytest.raises(InvalidRequestError, match="GBNF grammar has 4,097 alternatives"):
        output_grammar(OutputFormat("gbnf", grammar=gbnf))
    with pytest.raises(InvalidRequestError, match="JSON schema has 4,098 alternatives"):
        output_grammar(OutputFormat("json_schema", schema={"enum": words}))


def test_4096_alternations_are_accepted(tokenizer: LLTokenizer) -> None:
    words = [f"w{i}" for i in range(MAX_ALTERNATIONS + 1)]
    constraint = _constraint(tokenizer, OutputFormat("regex", grammar="|".join(words)))
    assert random_walk(constraint, 0) in words


def test_alternation_counting_skips_literals_classes_and_escapes() -> None:
    assert grammar_alternations('root ::= "a|b" [|] | x # a | comment') == 1
    assert regex_alternations(r"a\|b[|]c|d") == 1


def test_nested_counted_repetition_is_refused_quickly() -> None:
    assert expansion("(x{1000}){1000}", literals=False) == 1_000_000
    started = time.monotonic()
    with pytest.raises(InvalidRequestError, match="repeats too much"):
        output_grammar(OutputFormat("regex", grammar="(x{1000}){1000}"))
    with pytest.raises(InvalidRequestError, match="repeats too much"):
        output_grammar(OutputFormat("gbnf", grammar='root ::= ("ab"{100}){1000}'))
    with pytest.raises(InvalidRequestError, match="pattern repeats too much"):
        schema = {"type": "string", "pattern": "^(a{400}){300}$"}
        output_grammar(OutputFormat("json_schema", schema=schema))
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "grammar",
    [
        "(a|b)*a(a|b){40}",  # exponential as a DFA
        "(.*a){60}",
        "[a-z]{500}[0-9]{500}",
        "((a|b|c|d|e|f){20}){20}",
        r"(\w+\s?)*$x",
    ],
)
def test_pathological_regexes_compile_in_bounded_time(tokenizer: LLTokenizer, grammar: str) -> None:
    started = time.monotonic()
    try:
        constraint = _constraint(tokenizer, OutputFormat("regex", grammar=grammar))
        logits = (ctypes.c_float * (EOS + 1))()
        constraint.mask(logits)
    except InvalidRequestError:
        pass  # refused is fine too
    assert time.monotonic() - started < 5.0  # a hang guard, not a speed measurement


# --- errors ---------------------------------------------------------------------------------------


def test_unsupported_schema_keyword_is_named() -> None:
    schema = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    with pytest.raises(UnsupportedFeatureError, match=r"uniqueItems.*Remove it"):
        check_grammar(output_grammar(OutputFormat("json_schema", schema=schema)), "schema")


def test_unknown_format_is_named() -> None:
    schema = {"type": "string", "format": "postcode"}
    with pytest.raises(ConstraintError, match="invalid schema: Unknown format: postcode"):
        check_grammar(output_grammar(OutputFormat("json_schema", schema=schema)), "schema")


def test_bad_regex_and_gbnf_say_what_is_wrong() -> None:
    with pytest.raises(ConstraintError, match=r"invalid regex: .*unclosed group"):
        check_grammar(output_grammar(OutputFormat("regex", grammar="((")), "regex")
    with pytest.raises(InvalidRequestError, match=r"invalid GBNF grammar: .*'missing' not found"):
        output_grammar(OutputFormat("gbnf", grammar="root ::= missing"))


def test_masks_computed_ahead_on_a_thread_are_the_same(tokenizer: LLTokenizer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    schema = json.loads((SCHEMAS / "array_of_objects.json").read_text())
    grammar = output_grammar(OutputFormat("json_schema", schema=schema))
    with ThreadPoolExecutor(1) as executor:
        for seed in range(3):
            ahead = compile_constraint(tokenizer, grammar, "schema", EOS + 1, executor=executor)
            inline = compile_constraint(tokenizer, grammar, "schema", EOS + 1)
            assert random_walk(ahead, seed) == random_walk(inline, seed)
            ahead.close()
