"""From the raw bytes of sampled tokens to text deltas that are safe to show. Pure, no I/O.

llama.cpp hands over each sampled token as bytes, and a token may end in the middle of a UTF-8
character or in the middle of a stop string. :class:`TextStream` turns those bytes into text
deltas that never split a character and never leak any part of a stop string:

* bytes are decoded incrementally, so an incomplete character waits for its next bytes;
* the longest tail of the text that could still grow into a stop string is held back (at most
  ``max(len(stop)) - 1`` characters) and released as soon as the text diverges from every stop;
* when a stop string completes, only the text before it is returned and the stream stops.

Several stop strings are matched at once with an Aho-Corasick automaton over characters, so each
``feed`` costs O(new text + longest stop), never a rescan of the output. The stop that completes
first wins; of stops completing at the same character, the longest (earliest starting) wins.
"""

from __future__ import annotations

import codecs
import re
from collections import deque
from collections.abc import Sequence

from hearth.errors import HearthError, InvalidRequestError


class TextStreamClosedError(HearthError, RuntimeError):
    """``feed`` was called after ``finish``: a TextStream serves one generation only."""


class _Node:
    """A state of the automaton: the stop-string prefix of length ``depth`` just read."""

    __slots__ = ("children", "depth", "fail", "stop")

    def __init__(self, depth: int) -> None:
        self.children: dict[str, _Node] = {}
        self.depth = depth
        self.fail: _Node = self  # the longest proper suffix that is also a prefix; set by build
        self.stop: str | None = None  # the longest stop string ending in this state


def _build(stops: Sequence[str]) -> _Node:
    """The Aho-Corasick automaton of ``stops``; returns its root."""
    root = _Node(0)
    for stop in stops:
        node = root
        for char in stop:
            child = node.children.get(char)
            if child is None:
                child = node.children[char] = _Node(node.depth + 1)
            node = child
        node.stop = stop
    queue: deque[_Node] = deque()
    for child in root.children.values():
        child.fail = root
        queue.append(child)
    while queue:  # breadth first, so every fail target is finished before it is used
        node = queue.popleft()
        if node.stop is None:
            node.stop = node.fail.stop
        for char, child in node.children.items():
            fallback = node.fail
            while char not in fallback.children and fallback is not root:
                fallback = fallback.fail
            child.fail = fallback.children.get(char, root)
            queue.append(child)
    return root


def _checked(stops: Sequence[str], argument: str) -> tuple[str, ...]:
    if isinstance(stops, str):
        raise InvalidRequestError(
            f"{argument} must be a sequence of strings, not one string; write {argument}=[...]"
        )
    for stop in stops:
        if not isinstance(stop, str) or not stop:
            raise InvalidRequestError(
                f"every {argument} entry must be a non-empty string, got {stop!r}"
            )
    return tuple(stops)


class TextStream:
    """Decodes one generation's token bytes into text deltas, stopping at stop strings.

    ``stop`` holds the caller's stop strings (reported in :attr:`matched_stop`); ``hidden_stop``
    holds end-of-turn markers of the chat template, which stop the stream too but are reported as
    ``matched_stop = None``. A string in both counts as the caller's.
    """

    def __init__(self, stop: Sequence[str] = (), *, hidden_stop: Sequence[str] = ()) -> None:
        user = _checked(stop, "stop")
        hidden = _checked(hidden_stop, "hidden_stop")
        self._user_stops = frozenset(user)
        self._root = _build(user + hidden)
        self._node = self._root
        firsts = sorted({s[0] for s in user + hidden})
        self._first_chars = (
            re.compile("[" + "".join(re.escape(c) for c in firsts) + "]") if firsts else None
        )
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._held = ""
        self._stopped = False
        self._matched: str | None = None
        self._finished = False

    @property
    def stopped(self) -> bool:
        """True once a stop string (the caller's or a hidden one) has completed."""
        return self._stopped

    @property
    def matched_stop(self) -> str | None:
        """The caller's stop string that ended the stream; None if none did (or a hidden one)."""
        return self._matched

    def feed(self, data: bytes) -> str:
        """Take one token's bytes; return the text that is now safe to emit (maybe "")."""
        if self._finished:
            raise TextStreamClosedError(
                "TextStream.feed() was called after finish(); use a new TextStream per generation"
            )
        if self._stopped:
            return ""
        return self._consume(self._decoder.decode(data))

    def finish(self) -> str:
        """End of generation: the held-back text, with incomplete bytes shown as U+FFFD.

        Returns "" when a stop string matched. Calling it again returns "".
        """
        if self._finished:
            return ""
        self._finished = True
        if self._stopped:
            return ""
        out = self._consume(self._decoder.decode(b"", final=True))
        if self._stopped:
            return out
        out += self._held
        self._held = ""
        return out

    def _consume(self, text: str) -> str:
        if self._first_chars is None or not text:
            return text
        end = self._scan(text, self._first_chars)
        combined = self._held + text
        if end is None:
            cut = len(combined) - self._node.depth
            self._held = combined[cut:]
            return combined[:cut]
        stop = self._node.stop
        assert stop is not None  # _scan returns an end only in a state where a stop ends
        self._stopped = True
        self._matched = stop if stop in self._user_stops else None
        start = len(self._held) + end - len(stop)
        self._held = ""
        return combined[:start]

    def _scan(self, text: str, first_chars: re.Pattern[str]) -> int | None:
        """Run ``text`` through the automaton; the index just past the first stop, if any."""
        root = self._root
        node = self._node
        i = 0
        while i < len(text):
            if node is root:  # skip, at C speed, text that cannot begin a stop string
                found = first_chars.search(text, i)
                if found is None:
                    break
                i = found.start()
            char = text[i]
            while char not in node.children and node is not root:
                node = node.fail
            node = node.children.get(char, root)
            i += 1
            if node.stop is not None:
                self._node = node
                return i
        self._node = node
        return None
