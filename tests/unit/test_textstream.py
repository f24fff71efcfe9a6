"""TextStream: token bytes in, safe text deltas out, stop strings never leaked."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearth.backends.local.textstream import TextStream, TextStreamClosedError
from hearth.errors import InvalidRequestError


def run(stream: TextStream, chunks: list[bytes]) -> list[str]:
    """Every delta, the one from finish() last."""
    return [stream.feed(c) for c in chunks] + [stream.finish()]


def byte_splits(data: bytes) -> list[list[bytes]]:
    """``data`` cut in two at every byte boundary."""
    return [[data[:i], data[i:]] for i in range(len(data) + 1)]


def test_without_stops_text_is_emitted_at_once() -> None:
    stream = TextStream()
    assert stream.feed(b"Hello") == "Hello"
    assert stream.feed(b", world") == ", world"
    assert stream.finish() == ""
    assert not stream.stopped


@pytest.mark.parametrize("chunks", byte_splits("héllo € 😀!".encode()))
def test_multibyte_characters_are_never_split(chunks: list[bytes]) -> None:
    deltas = run(TextStream(), chunks)
    assert "".join(deltas) == "héllo € 😀!"
    assert all("\ufffd" not in d for d in deltas)


def test_emoji_fed_byte_by_byte_appears_whole() -> None:
    stream = TextStream(["STOP"])
    data = "😀".encode()
    assert [stream.feed(data[i : i + 1]) for i in range(4)] == ["", "", "", "😀"]


def test_stop_split_across_feeds_does_not_leak() -> None:
    stream = TextStream(["<END>"])
    assert stream.feed(b"Hello<EN") == "Hello"
    assert stream.feed(b"D> and more") == ""
    assert stream.stopped
    assert stream.matched_stop == "<END>"
    assert stream.feed(b"later") == ""
    assert stream.finish() == ""


@pytest.mark.parametrize("chunks", byte_splits("voilà «fin» après".encode()))
def test_multibyte_stop_split_inside_a_character(chunks: list[bytes]) -> None:
    stream = TextStream(["«fin»"])
    deltas = run(stream, chunks)
    assert "".join(deltas) == "voilà "
    assert stream.matched_stop == "«fin»"
    assert all("«" not in d and "\ufffd" not in d for d in deltas)


def test_overlapping_stops_ending_together_pick_the_longer() -> None:
    stream = TextStream(["b", "ab"])
    assert stream.feed(b"xa") == "x"
    assert stream.feed(b"b") == ""
    assert stream.matched_stop == "ab"


def test_overlapping_stops_the_short_one_alone() -> None:
    stream = TextStream(["ab", "b"])
    assert run(stream, [b"x", b"b", b"tail"]) == ["x", "", "", ""]
    assert stream.matched_stop == "b"


def test_stop_completing_first_wins_over_a_longer_earlier_one() -> None:
    stream = TextStream(["abc", "b"])
    assert "".join(run(stream, [b"abc"])) == "a"
    assert stream.matched_stop == "b"


def test_stop_at_the_very_start() -> None:
    stream = TextStream(["\n\n"])
    assert stream.feed(b"\n\nanything") == ""
    assert stream.stopped
    assert stream.matched_stop == "\n\n"


def test_stop_prefix_that_diverges_is_released() -> None:
    stream = TextStream(["STOP"])
    assert stream.feed(b"ST") == ""
    assert stream.feed(b"X") == "STX"
    assert stream.feed(b" STO") == " "
    assert stream.feed(b"RY") == "STORY"
    assert not stream.stopped


def test_held_back_text_is_at_most_the_longest_stop_minus_one() -> None:
    stream = TextStream(["abcdef", "xy"])
    assert stream.feed(b"12abcde") == "12"
    assert stream.finish() == "abcde"


def test_repeated_prefix_keeps_only_the_live_tail() -> None:
    stream = TextStream(["aab"])
    assert stream.feed(b"aaaa") == "aa"
    assert stream.feed(b"b") == ""
    assert stream.matched_stop == "aab"


def test_hidden_stop_ends_the_stream_without_naming_it() -> None:
    stream = TextStream(["###"], hidden_stop=["<|im_end|>"])
    assert stream.feed(b"Hi there<|im_") == "Hi there"
    assert stream.feed(b"end|>") == ""
    assert stream.stopped
    assert stream.matched_stop is None


def test_a_stop_both_hidden_and_the_callers_counts_as_the_callers() -> None:
    stream = TextStream(["<|im_end|>"], hidden_stop=["<|im_end|>"])
    stream.feed(b"ok<|im_end|>")
    assert stream.matched_stop == "<|im_end|>"


def test_finish_flushes_the_held_back_prefix() -> None:
    stream = TextStream(["<END>"])
    assert stream.feed(b"abc<EN") == "abc"
    assert stream.finish() == "<EN"
    assert not stream.stopped
    assert stream.finish() == ""


def test_finish_shows_incomplete_bytes_as_replacement_character() -> None:
    stream = TextStream()
    assert stream.feed(b"ok\xe2\x82") == "ok"
    assert stream.finish() == "\ufffd"


def test_invalid_bytes_become_replacement_characters() -> None:
    assert TextStream().feed(b"a\xffb") == "a\ufffdb"


def test_feed_after_finish_is_refused() -> None:
    stream = TextStream()
    stream.finish()
    with pytest.raises(TextStreamClosedError, match="after finish"):
        stream.feed(b"x")


def test_a_single_string_is_not_taken_as_a_list_of_stops() -> None:
    with pytest.raises(InvalidRequestError, match="not one string"):
        TextStream("END")


@pytest.mark.parametrize("bad", [[""], ["ok", ""], [3]])
def test_empty_or_non_string_stops_are_refused(bad: list[object]) -> None:
    with pytest.raises(InvalidRequestError, match="non-empty string"):
        TextStream(stop=(), hidden_stop=bad)  # type: ignore[arg-type]


def test_long_output_is_not_rescanned() -> None:
    # With a rescan per feed this would be quadratic: 100k feeds over a growing output.
    stream = TextStream(["a" * 40 + "b"])
    emitted = sum(len(stream.feed(b"a")) for _ in range(100_000))
    assert emitted == 100_000 - 40
    assert stream.finish() == "a" * 40


# --- properties --------------------------------------------------------------------------------

ALPHABET = "ab\né€😀"  # characters of 1, 2, 3 and 4 UTF-8 bytes
stop_lists = st.lists(st.text(ALPHABET, min_size=1, max_size=4), max_size=3)


def reference(text: str, user: list[str], hidden: list[str]) -> tuple[str, bool, str | None]:
    """Expected output, stopped, matched_stop: the stop ending first, then the longest, wins."""
    best: tuple[int, int, str] | None = None
    for stop in [*user, *hidden]:
        start = text.find(stop)
        if start >= 0:
            key = (start + len(stop), start, stop)
            if best is None or key[:2] < best[:2]:
                best = key
    if best is None:
        return text, False, None
    _, start, stop = best
    return text[:start], True, stop if stop in user else None


@settings(max_examples=400, deadline=None)
@given(text=st.text(ALPHABET, max_size=40), user=stop_lists, hidden=stop_lists, data=st.data())
def test_any_chunking_matches_the_reference(
    text: str, user: list[str], hidden: list[str], data: st.DataObject
) -> None:
    raw = text.encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    stream = TextStream(user, hidden_stop=hidden)
    longest = max((len(s) for s in [*user, *hidden]), default=1)
    deltas: list[str] = []
    for end, chunk in zip([*cuts, len(raw)], chunks, strict=True):
        deltas.append(stream.feed(chunk))
        if not stream.stopped:  # held back: only what could still become a stop
            decoded = raw[:end].decode("utf-8", "ignore")
            assert len(decoded) - len("".join(deltas)) <= longest - 1
    deltas.append(stream.finish())

    expected, stopped, matched = reference(text, user, hidden)
    assert "".join(deltas) == expected
    assert (stream.stopped, stream.matched_stop) == (stopped, matched)
    for delta in deltas:
        assert "\ufffd" not in delta
        assert not any(stop in delta for stop in [*user, *hidden])
