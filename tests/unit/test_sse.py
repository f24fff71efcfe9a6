"""The incremental SSE and NDJSON decoders: framing rules, and chunking independence."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth._sse import NDJSONDecoder, SSEDecoder, SSEEvent
from hearth.errors import ProviderError


def decode_sse(*chunks: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [e for c in chunks for e in decoder.feed(c)]
    return events + decoder.finish()


def test_data_event_and_id_retry() -> None:
    events = decode_sse(b'event: delta\nid: 7\nretry: 1500\ndata: {"a": 1}\n\n')
    assert events == [SSEEvent('{"a": 1}', "delta", "7", 1500)]


def test_multiline_data_joins_with_newline_and_keeps_inner_spaces() -> None:
    events = decode_sse(b"data: first\ndata:second\ndata:  third\n\n")
    assert [e.data for e in events] == ["first\nsecond\n third"]


def test_comments_keepalives_and_unknown_fields_are_ignored() -> None:
    stream = b": keep-alive\n\n:ping\nfoo: bar\ndata: x\n\n: bye\n\n"
    assert [e.data for e in decode_sse(stream)] == ["x"]


def test_event_without_data_is_not_dispatched_and_event_name_resets() -> None:
    events = decode_sse(b"event: ping\n\ndata: y\n\n")
    assert events == [SSEEvent("y", None, None, None)]


def test_id_persists_and_bad_retry_is_ignored() -> None:
    events = decode_sse(b"id: a\ndata: 1\n\nretry: soon\ndata: 2\n\n")
    assert [(e.data, e.id, e.retry) for e in events] == [("1", "a", None), ("2", "a", None)]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_line_endings(newline: bytes) -> None:
    stream = newline.join([b"data: a", b"data: b", b"", b"data: c", b"", b""])
    assert [e.data for e in decode_sse(stream)] == ["a\nb", "c"]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    assert [e.data for e in decode_sse(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n")] == ["a", "b"]


def test_utf8_character_split_across_chunks() -> None:
    raw = "data: café 🔥\n\n".encode()
    cut = raw.index("🔥".encode()) + 2
    assert [e.data for e in decode_sse(raw[:cut], raw[cut:])] == ["café 🔥"]


def test_bom_at_start_is_dropped_even_when_split() -> None:
    assert [e.data for e in decode_sse(b"\xef", b"\xbb\xbfdata: x\n\n")] == ["x"]
    assert [e.data for e in decode_sse(b"\xef\xbb\xbfdata: y\n\n")] == ["y"]


def test_done_is_plain_data() -> None:
    assert [e.data for e in decode_sse(b"data: [DONE]\n\n")] == ["[DONE]"]


def test_finish_dispatches_a_last_event_without_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: tail") == []
    assert decoder.finish() == [SSEEvent("tail")]


def test_events_come_out_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: one\n") == []
    assert decoder.feed(b"\ndata: tw") == [SSEEvent("one")]
    assert decoder.feed(b"o\n\n") == [SSEEvent("two")]


# -- chunking independence --------------------------------------------------------------------

_field_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12
)
_line = st.one_of(
    st.builds(lambda v: f"data: {v}", _field_text),
    st.builds(lambda v: f"data:{v}", _field_text),
    st.builds(lambda v: f"event: {v}", _field_text),
    st.builds(lambda v: f"id: {v}", _field_text),
    st.builds(lambda v: f"retry: {v}", st.integers(0, 10_000)),
    st.builds(lambda v: f": {v}", _field_text),
    st.just(""),
)


@st.composite
def _stream_and_cuts(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = draw(st.lists(_line, max_size=25))
    bom = draw(st.booleans())
    raw = ("\ufeff" if bom else "") + "".join(line + newline for line in lines)
    data = raw.encode()
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    return data, cuts


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@given(_stream_and_cuts())
def test_sse_decoding_does_not_depend_on_chunking(case: tuple[bytes, list[int]]) -> None:
    data, cuts = case
    assert decode_sse(*_split(data, cuts)) == decode_sse(data)
    assert decode_sse(*_split(data, cuts)) == decode_sse(*[bytes([b]) for b in data])


_json_obj = st.dictionaries(
    st.text(max_size=5),
    st.one_of(st.integers(), st.text(max_size=10), st.booleans(), st.none()),
    max_size=4,
)


@given(
    st.lists(_json_obj, max_size=10),
    st.sampled_from(["\n", "\r\n"]),
    st.lists(st.integers(0, 2000), max_size=10),
)
def test_ndjson_decoding_does_not_depend_on_chunking(
    objects: list[dict[str, object]], newline: str, cuts: list[int]
) -> None:
    data = "".join(json.dumps(o, ensure_ascii=False) + newline for o in objects).encode()
    decoder = NDJSONDecoder()
    pieces = _split(data, sorted(c for c in cuts if c <= len(data)))
    out = [o for p in pieces for o in decoder.feed(p)] + decoder.finish()
    assert out == objects


# -- NDJSON -----------------------------------------------------------------------------------


def test_ndjson_skips_blank_lines_and_reads_an_unterminated_last_line() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a": 1}\n\n  \n{"b":') == [{"a": 1}]
    assert decoder.feed(b" 2}") == []
    assert decoder.finish() == [{"b": 2}]


def test_ndjson_non_json_line_names_the_line() -> None:
    decoder = NDJSONDecoder()
    decoder.feed(b'{"ok": true}\n')
    with pytest.raises(ProviderError, match=r"line 2 .*not valid JSON.*'<html>oops'"):
        decoder.feed(b"<html>oops\n")


def test_ndjson_non_object_line_is_an_error() -> None:
    with pytest.raises(ProviderError, match="JSON list, not an object"):
        NDJSONDecoder().feed(b"[1, 2]\n")
