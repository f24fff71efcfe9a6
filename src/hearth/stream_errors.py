"""The error of a remote stream that broke off at a chunk hearth could not read. It lives beside
the error tree (:mod:`hearth.errors`) because it carries the answer so far, a
:class:`~hearth.messages.Message`, and the error tree stays below the message vocabulary."""

from __future__ import annotations

from hearth.errors import ProviderError
from hearth.messages import Message


class MalformedStreamError(ProviderError):
    """A stream broke off at a chunk hearth could not read (not JSON, not an object). Every
    event before it was delivered; ``partial`` is that answer so far, as an assistant message
    (text, thinking, tool calls), so nothing already streamed is lost."""

    def __init__(
        self, message: str, *, partial: Message | None = None, provider: str | None = None
    ) -> None:
        self.partial = partial if partial is not None else Message("assistant", ())
        super().__init__(message, provider=provider)
