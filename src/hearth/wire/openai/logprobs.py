"""Log-probabilities in OpenAI's two shapes, both directions. Pure.

* Chat Completions: ``choices[i].logprobs = {"content": [{"token", "logprob", "bytes",
  "top_logprobs": [{"token", "logprob", "bytes"}]}], "refusal": null}``; a streamed chunk
  carries the entries of its own delta. Asked for with ``logprobs: true`` and
  ``top_logprobs: k`` (0-20).
* legacy completions: ``choices[i].logprobs = {"tokens", "token_logprobs", "top_logprobs"
  (a list of ``{token: logprob}``, or null), "text_offset"}``; asked for with ``logprobs: k``
  (the number of alternatives; 0 gives the chosen tokens only). With ``echo`` the prompt's
  tokens come first, the first with a null logprob.

The settings ``logprobs``, ``top_logprobs`` (and, for completions, ``prompt_logprobs`` as
``echo``) are mapped here, not through the settings table: each API has its own fields.
"""

from __future__ import annotations

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.logprobs import MAX_TOP_LOGPROBS, TokenLogprob
from hearth.messages import JsonObject, JsonValue
from hearth.settings import GenerationSettings

# -- settings ------------------------------------------------------------------------------


def refuse_prompt_logprobs(s: GenerationSettings) -> None:
    """Prompt log-probabilities are a local model's (and ``hearth serve``'s ``echo``): a remote
    API's answer holds no separable form of them."""
    if s.prompt_logprobs:
        raise UnsupportedFeatureError(
            "prompt_logprobs: only local models return the prompt's log-probabilities; leave "
            "it out, or use a local model"
        )


def chat_settings_to_wire(s: GenerationSettings) -> JsonObject:
    """``logprobs`` / ``top_logprobs`` of a Chat Completions body."""
    refuse_prompt_logprobs(s)
    if not s.wants_logprobs:
        return {}
    out: JsonObject = {"logprobs": True}
    if s.top_logprobs:
        out["top_logprobs"] = s.top_logprobs
    return out


def completion_settings_to_wire(s: GenerationSettings) -> JsonObject:
    """``logprobs`` (an integer) of a legacy completions body."""
    refuse_prompt_logprobs(s)
    out: JsonObject = {}
    if s.wants_logprobs:
        out["logprobs"] = s.top_logprobs or 0
    return out


def chat_settings_from_wire(body: JsonObject) -> tuple[bool | None, int | None]:
    """``logprobs`` (a boolean) and ``top_logprobs`` of an inbound Chat Completions body."""
    flag = body.get("logprobs")
    if flag is not None and not isinstance(flag, bool):
        raise InvalidRequestError(f"logprobs: expected a boolean, got {flag!r}")
    top = _count(body, "top_logprobs")
    if top and not flag:
        raise InvalidRequestError("top_logprobs: needs logprobs set to true")
    return (True, top) if flag else (None, None)


def completion_count_from_wire(body: JsonObject) -> int | None:
    """``logprobs`` of an inbound legacy completions body: how many alternatives (None: none
    asked for)."""
    return _count(body, "logprobs")


def _count(body: JsonObject, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{key}: expected an integer, got {value!r}")
    if not 0 <= value <= MAX_TOP_LOGPROBS:
        raise InvalidRequestError(f"{key}: must be between 0 and {MAX_TOP_LOGPROBS}, got {value}")
    return value


# -- Chat Completions ----------------------------------------------------------------------


def chat_logprobs_to_wire(entries: tuple[TokenLogprob, ...]) -> JsonObject:
    """A ``choices[i].logprobs`` object (or a chunk's) for these tokens."""
    return {"content": [_chat_entry(e, top=True) for e in entries], "refusal": None}


def _chat_entry(entry: TokenLogprob, *, top: bool) -> JsonObject:
    out: JsonObject = {
        "token": entry.token,
        "logprob": entry.logprob,
        "bytes": list(entry.bytes),
    }
    if top:
        out["top_logprobs"] = [_chat_entry(t, top=False) for t in entry.top]
    return out


def chat_logprobs_from_wire(value: JsonValue) -> tuple[TokenLogprob, ...]:
    """A response's or chunk's ``choices[i].logprobs`` → entries (tolerant: bad items are
    skipped, a missing object gives none)."""
    content = value.get("content") if isinstance(value, dict) else None
    if not isinstance(content, list):
        return ()
    return tuple(e for e in (_entry_from_wire(item) for item in content) if e is not None)


def _entry_from_wire(item: JsonValue, *, nested: bool = False) -> TokenLogprob | None:
    if not isinstance(item, dict) or not isinstance(item.get("token"), str):
        return None
    logprob = item.get("logprob")
    raw = item.get("bytes")
    data = bytes(b for b in raw if isinstance(b, int) and 0 <= b < 256) if isinstance(
        raw, list) else str(item["token"]).encode("utf-8")  # fmt: skip
    top_items = item.get("top_logprobs") if not nested else None
    alternatives = top_items if isinstance(top_items, list) else []
    top = tuple(
        e for e in (_entry_from_wire(t, nested=True) for t in alternatives) if e is not None
    )
    return TokenLogprob(
        str(item["token"]),
        float(logprob) if isinstance(logprob, int | float) else None,
        data,
        None,
        top,
    )


# -- legacy completions ------------------------------------------------------------------


def completion_logprobs_to_wire(
    entries: tuple[TokenLogprob, ...], *, offset: int = 0, alternatives: bool = True
) -> JsonObject:
    """A legacy ``choices[i].logprobs`` object. ``offset``: where the first token's text starts
    in the choice's text (``text_offset``); ``alternatives``: the request asked for them
    (``logprobs`` ≥ 0 always gives each token's own logprob in ``top_logprobs`` when > 0)."""
    tokens: list[JsonValue] = []
    values: list[JsonValue] = []
    tops: list[JsonValue] = []
    offsets: list[JsonValue] = []
    seen = b""  # the tokens' bytes so far: a character split between tokens counts once, whole
    for entry in entries:
        tokens.append(entry.token)
        values.append(entry.logprob)
        offsets.append(offset + len(seen.decode("utf-8", errors="ignore")))
        seen += entry.bytes  # a control token's are empty: it has no width in the text
        if entry.logprob is None:
            tops.append(None)
        else:
            top: JsonObject = {}
            for alt in entry.top if alternatives else ():
                top.setdefault(alt.token, alt.logprob)
            tops.append(top)
    return {
        "tokens": tokens,
        "token_logprobs": values,
        "top_logprobs": tops,
        "text_offset": offsets,
    }


def completion_logprobs_from_wire(value: JsonValue) -> tuple[TokenLogprob, ...]:
    """A legacy ``choices[i].logprobs`` object → entries (tolerant, as for chat)."""
    if not isinstance(value, dict):
        return ()
    tokens, values, tops = value.get("tokens"), value.get("token_logprobs"), value.get(
        "top_logprobs")  # fmt: skip
    if not isinstance(tokens, list) or not isinstance(values, list):
        return ()
    out: list[TokenLogprob] = []
    for i, (token, logprob) in enumerate(zip(tokens, values, strict=False)):
        if not isinstance(token, str):
            continue
        top_map = tops[i] if isinstance(tops, list) and i < len(tops) else None
        top = tuple(
            TokenLogprob(t, float(v), t.encode("utf-8"))
            for t, v in (top_map.items() if isinstance(top_map, dict) else ())
            if isinstance(v, int | float)
        )
        lp = float(logprob) if isinstance(logprob, int | float) else None
        out.append(TokenLogprob(token, lp, token.encode("utf-8"), None, top))
    return tuple(out)
