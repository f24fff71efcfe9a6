"""Stream frames from templates are byte for byte what encoding the whole chunk gives: a
client never sees a difference between the fast path and the general one."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth.events import Done, TextDelta, Usage
from hearth.logprobs import TokenLogprob
from hearth.server.sse import ndjson_frame, sse_frame
from hearth.wire.base import WireChunk
from hearth.wire.compact import JsonTemplate, compact_json
from hearth.wire.openai.stream import StreamEncoder


def _dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@given(st.text())
def test_a_filled_template_is_the_whole_objects_compact_json(text: str) -> None:
    shape = {"a": 1, "b": [{"c": JsonTemplate.HOLE, "d": None}], "e": "é"}
    filled = {"a": 1, "b": [{"c": text, "d": None}], "e": "é"}
    assert JsonTemplate(shape).fill(text) == _dumps(filled) == compact_json(filled)


def test_a_template_needs_exactly_one_hole() -> None:
    with pytest.raises(ValueError, match="exactly once"):
        JsonTemplate({"a": "no hole"})
    with pytest.raises(ValueError, match="exactly once"):
        JsonTemplate({"a": JsonTemplate.HOLE, "b": JsonTemplate.HOLE})


@given(st.lists(st.text(min_size=1), min_size=1, max_size=5), st.integers(0, 3))
def test_openai_text_chunks_are_framed_as_their_data(texts: list[str], index: int) -> None:
    encoder = StreamEncoder(model='m"odel', response_id="chatcmpl-1", created=7)
    chunks = [c for t in texts for c in encoder.encode(TextDelta(t, choice=index))]
    texts_sent = [c for c in chunks if c.encoded is not None]
    assert len(texts_sent) == len(texts)  # every text delta took the template path
    for chunk in chunks:
        assert chunk.data is not None
        assert sse_frame(chunk) == f"data: {_dumps(chunk.data)}\n\n".encode()
        assert ndjson_frame(chunk) == f"{_dumps(chunk.data)}\n".encode()
    sent = [json.loads(c.encoded or "") for c in texts_sent]
    assert [s["choices"][0]["delta"]["content"] for s in sent] == texts
    assert {s["choices"][0]["index"] for s in sent} == {index}


def test_text_with_logprobs_and_the_end_are_encoded_in_full() -> None:
    encoder = StreamEncoder(model="m", response_id="chatcmpl-1", created=7)
    logprob = TokenLogprob(token="hi", logprob=-0.5, bytes=b"hi", top=())
    chunks = [*encoder.encode(TextDelta("hi", logprobs=(logprob,))),
              *encoder.encode(Done("end_turn", Usage(1, 1)))]  # fmt: skip
    assert all(c.encoded is None for c in chunks)
    assert sse_frame(chunks[-1]) == b"data: [DONE]\n\n"
    assert sse_frame(WireChunk("ping", {"x": 1})) == b'event: ping\ndata: {"x":1}\n\n'
