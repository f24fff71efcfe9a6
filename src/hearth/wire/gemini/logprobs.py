"""Gemini's log-probabilities ↔ hearth's. Pure.

Asked for with ``generationConfig.responseLogprobs: true`` and ``generationConfig.logprobs: k``
(the alternatives at each step) ↔ the settings ``logprobs`` / ``top_logprobs``. Returned on a
candidate as ``logprobsResult``: ``chosenCandidates`` (each step's token, ``logProbability``
and ``tokenId``) and ``topCandidates`` (each step's alternatives) ↔ :class:`TokenLogprob`
entries (``Response.logprobs``, each TextDelta's). Gemini sends token text, not bytes: the
bytes are the text's UTF-8.
"""

from __future__ import annotations

from hearth.errors import InvalidRequestError
from hearth.logprobs import MAX_TOP_LOGPROBS, TokenLogprob
from hearth.messages import JsonObject, JsonValue
from hearth.settings import GenerationSettings
from hearth.wire.gemini import shapes


def settings_to_wire(settings: GenerationSettings) -> JsonObject:
    """The ``generationConfig`` fields that ask for log-probabilities."""
    if settings.prompt_logprobs:
        from hearth.errors import UnsupportedFeatureError

        raise UnsupportedFeatureError(
            "prompt_logprobs: Gemini returns no log-probabilities for the prompt; leave it out"
        )
    if not settings.wants_logprobs:
        return {}
    out: JsonObject = {"responseLogprobs": True}
    if settings.top_logprobs:
        out["logprobs"] = settings.top_logprobs
    return out


def settings_from_wire(config: shapes.GenerationConfig) -> tuple[bool | None, int | None]:
    """``responseLogprobs`` / ``logprobs`` of an inbound ``generationConfig``."""
    top = config.logprobs
    if top is not None and not 0 <= top <= MAX_TOP_LOGPROBS:
        raise InvalidRequestError(
            f"generationConfig.logprobs: must be between 0 and {MAX_TOP_LOGPROBS}, got {top}"
        )
    if top and not config.response_logprobs:
        raise InvalidRequestError(
            "generationConfig.logprobs: needs generationConfig.responseLogprobs set to true"
        )
    if not config.response_logprobs:
        return None, None
    return True, top or None


def from_wire(result: shapes.LogprobsResult | None) -> tuple[TokenLogprob, ...]:
    """A candidate's ``logprobsResult`` → entries, one per chosen token."""
    if result is None:
        return ()
    out: list[TokenLogprob] = []
    for i, chosen in enumerate(result.chosen_candidates):
        step = result.top_candidates[i].candidates if i < len(result.top_candidates) else []
        top = tuple(_entry(c) for c in step)
        out.append(_entry(chosen, top))
    return tuple(out)


def _entry(c: shapes.LogprobCandidate, top: tuple[TokenLogprob, ...] = ()) -> TokenLogprob:
    token = c.token or ""
    return TokenLogprob(token, c.log_probability, token.encode("utf-8"), c.token_id, top)


def to_wire(entries: tuple[TokenLogprob, ...]) -> JsonObject:
    """Entries → a candidate's ``logprobsResult``."""
    chosen: list[JsonValue] = [_candidate(e) for e in entries]
    top: list[JsonValue] = [{"candidates": [_candidate(t) for t in e.top]} for e in entries]
    return {"topCandidates": top, "chosenCandidates": chosen}


def _candidate(entry: TokenLogprob) -> JsonObject:
    out: JsonObject = {"token": entry.token, "logProbability": entry.logprob}
    if entry.id is not None:
        out["tokenId"] = entry.id
    return out
