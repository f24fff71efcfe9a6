"""Grammar text for constrained decoding, built for llguidance (no llama.cpp, no model).

Every constraint a local model can take is turned here into one llguidance grammar definition:

* ``json_schema`` / ``json`` output formats: llguidance's JSON-schema compiler, which enforces
  ``minimum``/``maximum`` (exclusive too), ``multipleOf``, ``pattern``, ``format``,
  ``minLength``/``maxLength``, ``minItems``/``maxItems``, ``enum``/``const``, ``anyOf``/``oneOf``,
  ``$ref``, ``required`` and ``additionalProperties``. A keyword it cannot enforce (``uniqueItems``,
  ``not``, ``if``/``then``, ``contains``, …) is refused by name, never silently ignored;
* ``gbnf``: llama.cpp's GBNF (or llguidance's Lark syntax), translated to Lark by llguidance;
* ``regex``: the whole answer must match the expression (Rust ``regex`` syntax);
* a tool list and ``tool_choice``: Hermes ``<tool_call>{"name": …, "arguments": …}</tool_call>``
  blocks whose JSON follows each tool's schema, optionally (``auto``) instead of free text;
* an answer in words that never writes ``<tool_call>`` (:func:`text_grammar`);
* a tool list with ``tool_choice="auto"`` and an output format together: calls as above, or an
  answer in the format (the format's grammar nested as ``@answer``), never free text.

Hostile input is bounded before any compiler sees it: at most :data:`MAX_GRAMMAR_BYTES` of
grammar (or schema) text, :data:`MAX_ALTERNATIONS` alternatives and :data:`MAX_EXPANSION`
elements once counted repetitions are unrolled. Compile time and per-token work are bounded by
llguidance's own fuel limits, applied in :mod:`hearth.backends.local.constraints`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, JsonValue
from hearth.request import OutputFormat, ToolChoice, ToolSpec

MAX_GRAMMAR_BYTES = 64 * 1024
"""The most UTF-8 bytes a grammar, regex or JSON schema (tools included) may have."""

MAX_ALTERNATIONS = 4096
"""The most alternatives (``|`` in a grammar or regex; ``anyOf``/``oneOf``/``enum`` members in a
schema) a constraint may have."""

MAX_EXPANSION = 100_000
"""The most elements (characters, classes) a grammar or regex may expand to once its counted
repetitions (``x{n}``, ``x{n,m}``; nested ones multiply) are unrolled: ``(x{1000}){1000}`` would
make the lexer build a million-element expression, seconds of work for one token."""

JSON_OPTIONS: JsonObject = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
    "lenient": False,
}
"""How constrained JSON is written: ``json.dumps``'s separators and no other whitespace, so a small
model cannot pad its answer with endless newlines; unknown keywords are errors."""

_ANY_OBJECT: JsonObject = {"type": "object"}

TOOL_CALL_OPEN = "<tool_call>\n"
TOOL_CALL_CLOSE = "\n</tool_call>"


# --- bounds ---------------------------------------------------------------------------------------


def check_size(text: str, what: str) -> None:
    check_bytes(len(text.encode("utf-8")), what)


def check_bytes(size: int, what: str) -> None:
    if size > MAX_GRAMMAR_BYTES:
        raise InvalidRequestError(
            f"the {what} is {size:,} bytes; constrained decoding takes at most "
            f"{MAX_GRAMMAR_BYTES:,} (64 KiB). Simplify it or split the task."
        )


def check_alternations(count: int, what: str) -> None:
    if count > MAX_ALTERNATIONS:
        raise InvalidRequestError(
            f"the {what} has {count:,} alternatives; constrained decoding takes at most "
            f"{MAX_ALTERNATIONS:,}. Use a pattern or a smaller enum instead of listing them all."
        )


def grammar_alternations(text: str) -> int:
    """``|`` operators in a GBNF/Lark grammar: outside ``"…"`` literals, ``[…]`` classes and
    ``#`` comments; those inside ``/…/`` regexes count too."""
    count = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'[":
            i = _skip_delimited(text, i, "]" if ch == "[" else ch)
            continue
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == "|":
            count += 1
        i += 1
    return count


def regex_alternations(text: str) -> int:
    """``|`` operators in a regex: not escaped and outside ``[…]`` classes."""
    count = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _skip_delimited(text, i, "]")
            continue
        if ch == "|":
            count += 1
        i += 1
    return count


def check_expansion(text: str, what: str, *, literals: bool) -> None:
    size = expansion(text, literals=literals)
    if size > MAX_EXPANSION:
        raise InvalidRequestError(
            f"the {what} repeats too much: its counted repetitions ({{n}}, {{n,m}}) expand to "
            f"about {size:,} elements, more than the {MAX_EXPANSION:,} constrained decoding "
            "takes. Use smaller counts, or * and + for open-ended repetition."
        )


def expansion(text: str, *, literals: bool) -> int:
    """About how many elements a regex (or, with ``literals``, a GBNF/Lark grammar, whose
    ``"…"`` strings count by length) expands to once its ``{n,m}`` counts are unrolled."""
    sizes = [0]  # running size of each open group
    last = 1  # size of the element a quantifier would repeat
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "(":
            sizes.append(0)
            i += 1
            continue
        if ch == ")" and len(sizes) > 1:
            last = sizes.pop()
            sizes[-1] += last
            i += 1
            continue
        if ch == "{" and (end := _count_end(text, i)) is not None:
            times = _max_count(text[i + 1 : end])
            sizes[-1] += last * (times - 1)
            last *= times
            i = end + 1
            continue
        if ch == "\\":
            i += 2
        elif ch == "[" or (literals and ch == '"'):
            start = i
            i = _skip_delimited(text, i, "]" if ch == "[" else ch)
            last = max(1, i - start - 2) if ch == '"' else 1
            sizes[-1] += last
            continue
        else:
            i += 1
        last = 1
        sizes[-1] += 1
    return sum(sizes)


def _count_end(text: str, start: int) -> int | None:
    """The index of the ``}`` closing a ``{n}``/``{n,}``/``{n,m}`` count at ``start``, if any."""
    end = text.find("}", start)
    body = text[start + 1 : end] if end > 0 else ""
    if body and all(c.isdigit() or c in ", " for c in body) and any(c.isdigit() for c in body):
        return end
    return None


def _max_count(body: str) -> int:
    numbers = [int(x) for x in body.replace(" ", "").split(",") if x]
    return max(max(numbers, default=1), 1)


def _skip_delimited(text: str, start: int, close: str) -> int:
    """The index just past the ``close`` that ends the literal or class opened at ``start``."""
    i = start + 1
    n = len(text)
    if close == "]" and i < n and text[i] == "]":  # "[]...]" keeps a literal "]"
        i += 1
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == close:
            return i + 1
        i += 1
    return n


def schema_alternations(schema: JsonValue) -> int:
    """``anyOf``/``oneOf`` branches and ``enum`` members anywhere in a JSON schema."""
    return sum(len(v) for k, v in _walk(schema) if k in ("anyOf", "oneOf", "enum"))


def schema_patterns(schema: JsonValue) -> list[str]:
    """Every ``pattern`` regex in a JSON schema."""
    found: list[str] = []
    stack: list[JsonValue] = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            pattern = item.get("pattern")
            if isinstance(pattern, str):
                found.append(pattern)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _walk(value: JsonValue) -> Iterator[tuple[str, list[JsonValue]]]:
    stack: list[JsonValue] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(child, list):
                    yield key, child
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


# --- output formats -------------------------------------------------------------------------------


def output_grammar(fmt: OutputFormat) -> str:
    """The llguidance grammar for a ``response_format``, after the bounds checks."""
    from llguidance import LLMatcher

    if fmt.kind in ("json_schema", "json"):
        schema = _format_schema(fmt)
        text = json.dumps(schema)
        check_size(text, "JSON schema")
        check_alternations(schema_alternations(schema), "JSON schema")
        for pattern in schema_patterns(schema):
            check_expansion(pattern, "JSON schema's pattern", literals=False)
        return LLMatcher.grammar_from_json_schema(text, overrides=JSON_OPTIONS)  # type: ignore[arg-type]
    grammar = fmt.grammar or ""
    if fmt.kind == "regex":
        check_size(grammar, "regex")
        check_alternations(regex_alternations(grammar), "regex")
        check_expansion(grammar, "regex", literals=False)
        return LLMatcher.grammar_from_regex(grammar)
    check_size(grammar, "GBNF grammar")
    check_alternations(grammar_alternations(grammar), "GBNF grammar")
    check_expansion(grammar, "GBNF grammar", literals=True)
    return LLMatcher.grammar_from_lark(_to_lark(grammar))


def _format_schema(fmt: OutputFormat) -> JsonObject:
    """The JSON schema a ``json_schema`` or ``json`` format asks for."""
    return fmt.schema if fmt.kind == "json_schema" and fmt.schema is not None else _ANY_OBJECT


def _to_lark(grammar: str) -> str:
    from llguidance.gbnf_to_lark import any_to_lark

    try:
        return any_to_lark(grammar)
    except Exception as exc:  # the converter raises plain exceptions for syntax errors
        raise InvalidRequestError(f"invalid GBNF grammar: {exc}") from None


# --- tools ----------------------------------------------------------------------------------------


def tool_call_schema(tools: Sequence[ToolSpec]) -> JsonObject:
    """The JSON inside one ``<tool_call>`` block: a tool's name and arguments valid for it."""
    branches: list[JsonValue] = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, "arguments": t.parameters},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    if len(branches) == 1:
        only = branches[0]
        assert isinstance(only, dict)
        return {**only, "x-guidance": JSON_OPTIONS}
    return {"anyOf": branches, "x-guidance": JSON_OPTIONS}


def tools_grammar(tools: Sequence[ToolSpec], choice: ToolChoice, *, parallel: bool = True) -> str:
    """The llguidance grammar for calling ``tools`` under ``choice`` (not ``none``):

    * ``auto``: free text that never contains ``<tool_call>``, or one or more calls;
    * ``required``: one or more calls to any of the tools;
    * a tool's name: one or more calls to that tool.

    Without ``parallel`` (``parallel_tool_calls=False``), "one or more calls" is exactly one.
    """
    from llguidance import LLMatcher

    rules, _ = _call_rules(tools, choice, parallel=parallel)
    start = "TEXT | calls" if choice == "auto" else "calls"
    return LLMatcher.grammar_from_lark("\n".join((f"start: {start}", *rules, _TEXT)))


_TEXT = r"TEXT: /(.|\n)+/ & ~/(.|\n)*<tool_call>(.|\n)*/"


def text_grammar() -> str:
    """The llguidance grammar for an answer in words that never writes ``<tool_call>``: the
    reply once the decision step (:mod:`~hearth.backends.local.decision`) chose to answer."""
    from llguidance import LLMatcher

    return LLMatcher.grammar_from_lark(f"start: TEXT\n{_TEXT}")


def tools_or_answer_grammar(
    tools: Sequence[ToolSpec], fmt: OutputFormat, *, parallel: bool = True
) -> str:
    """The llguidance grammar for ``tool_choice="auto"`` with a ``response_format``: one or more
    calls to ``tools`` (as :func:`tools_grammar`), or an answer that matches ``fmt`` (as
    :func:`output_grammar`), never free text. The format's grammar is nested under the name
    ``answer``; the bounds apply to each part and to the two together."""
    rules, schema = _call_rules(tools, "auto", parallel=parallel)
    answer = _named(output_grammar(fmt), "answer")
    what = "tool list and response_format together"
    size, alternations = _format_bounds(fmt)
    check_bytes(size + len(json.dumps(schema).encode("utf-8")), what)
    check_alternations(alternations + schema_alternations(schema), what)
    lark = "\n".join(("start: calls | @answer", *rules))
    return json.dumps({"grammars": [{"name": "tools", "lark_grammar": lark}, answer]})


def _call_rules(
    tools: Sequence[ToolSpec], choice: ToolChoice, *, parallel: bool
) -> tuple[list[str], JsonObject]:
    """The Lark rules ``calls`` (one or more calls; exactly one without ``parallel``) and
    ``call`` for ``tools`` under ``choice``, after the bounds checks, and the JSON schema of one
    call."""
    if choice == "none" or not tools:
        raise ValueError("a tool grammar needs tools and a tool_choice other than 'none'")
    chosen = tools if choice in ("auto", "required") else [t for t in tools if t.name == choice]
    schema = tool_call_schema(chosen)
    body = json.dumps(schema)
    check_size(body, "tool list (the tools' names and JSON schemas)")
    check_alternations(schema_alternations(schema), "tool list")
    for pattern in schema_patterns(schema):
        check_expansion(pattern, "tool list's pattern", literals=False)
    rules = [
        'calls: call ("\\n" call)*' if parallel else "calls: call",
        f"call: {json.dumps(TOOL_CALL_OPEN)} %json {body} {json.dumps(TOOL_CALL_CLOSE)}",
    ]
    return rules, schema


def _format_bounds(fmt: OutputFormat) -> tuple[int, int]:
    """The UTF-8 size of a response_format's schema or grammar text, and its alternatives."""
    if fmt.kind in ("json_schema", "json"):
        schema = _format_schema(fmt)
        return len(json.dumps(schema).encode("utf-8")), schema_alternations(schema)
    grammar = fmt.grammar or ""
    count = regex_alternations if fmt.kind == "regex" else grammar_alternations
    return len(grammar.encode("utf-8")), count(grammar)


def _named(grammar: str, name: str) -> JsonObject:
    """The one grammar in an llguidance definition (JSON, or bare Lark text) as a named entry
    another grammar can refer to as ``@name``."""
    if not grammar.lstrip().startswith("{"):
        return {"name": name, "lark_grammar": grammar}
    entries: list[JsonObject] = json.loads(grammar)["grammars"]
    if len(entries) != 1:  # output_grammar always builds one
        raise ValueError(f"expected one grammar, got {len(entries)}")
    return {**entries[0], "name": name}
