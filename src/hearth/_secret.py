"""Secret: an API key that never shows itself in a repr, a str, a log line or a pickle."""

from __future__ import annotations

MASK = "********"


class Secret:
    """A secret string. ``repr``/``str`` show a mask; :meth:`reveal` gives the value to the one
    place that must send it (an HTTP header)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: pass it to the API client, never print it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a hearth Secret cannot be pickled")
