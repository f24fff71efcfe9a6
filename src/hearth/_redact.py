"""Redaction: keys scrubbed from any text that may reach a user, a client or a log.

:func:`redact` masks

* each secret *by value*, in every form an upstream server or a library might echo it back:
  the key itself in any letter case, any 8 or more consecutive characters of it (a key cut
  short, or missing its first or last character), its URL-encoded form, and its base64 forms
  (standard and URL-safe, at each of the three alignments it can have inside a longer encoded
  string such as a ``Basic`` credential). The whole word around a match is masked, so what is
  left of the key does not show either;
* whatever follows ``Authorization`` / ``x-api-key`` / ``x-goog-api-key`` / ``api_key``, and
  ``key=`` / ``api_key=`` / ``access_token=`` query parameters, whoever's key it is.

Secrets shorter than :data:`MIN_ECHO` characters are masked only whole (in any case): a shorter
window would mask ordinary words.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote, quote_plus

REDACTED = "***"
MIN_ECHO = 8
"""The fewest consecutive characters of a secret that are masked when they appear alone."""

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_WORD = re.compile(r"[A-Za-z0-9_\-+/=%]")
"""Characters a key, or an encoded key, is made of: a match is widened over them."""


class Revealable(Protocol):
    """A secret that shows itself only when asked (:class:`hearth._secret.Secret`)."""

    def reveal(self) -> str: ...


Secrets = Iterable[str | Revealable]

_HEADER_SECRET = re.compile(
    r"(?i)\b(authorization|proxy-authorization|x-api-key|x-goog-api-key|api[-_]?key)"
    r"""(["']?\s*[:=]\s*["']?)((?:bearer|basic)\s+)?[^\s"',;&]+"""
)
_QUERY_SECRET = re.compile(r"(?i)([?&](?:key|api[-_]?key|access_token)=)[^&\s#\"']+")


def redact(text: str, secrets: Secrets = ()) -> str:
    """``text`` with every secret (in every form it may be echoed in), auth header value and
    ``key=`` query parameter masked."""
    values = [s if isinstance(s, str) else s.reveal() for s in secrets]
    for value in values:
        if value and len(value) < MIN_ECHO:
            text = re.sub(re.escape(value), REDACTED, text, flags=re.IGNORECASE)
    windows = frozenset().union(*(_windows(v) for v in values if len(v) >= MIN_ECHO))
    if windows:
        text = _mask_windows(text, windows)
    text = _HEADER_SECRET.sub(lambda m: f"{m[1]}{m[2]}{m[3] or ''}{REDACTED}", text)
    return _QUERY_SECRET.sub(lambda m: f"{m[1]}{REDACTED}", text)


def _mask_windows(text: str, windows: frozenset[str]) -> str:
    """``text`` with each word holding a window of a secret replaced by :data:`REDACTED`."""
    folded = text.translate(_ASCII_LOWER)  # same length as text, unlike str.lower()
    spans: list[tuple[int, int]] = []
    i = 0
    while i <= len(folded) - MIN_ECHO:
        if folded[i : i + MIN_ECHO] not in windows:
            i += 1
            continue
        start, end = i, i + MIN_ECHO
        while start > 0 and _WORD.match(text, start - 1):
            start -= 1
        while end < len(text) and _WORD.match(text, end):
            end += 1
        spans.append((start, end))
        i = end
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(REDACTED)
        last = end
    out.append(text[last:])
    return "".join(out)


@lru_cache(maxsize=64)
def _windows(value: str) -> frozenset[str]:
    """Every :data:`MIN_ECHO`-character window of every form of ``value``, lower-cased."""
    out: set[str] = set()
    for form in _forms(value):
        folded = form.translate(_ASCII_LOWER)
        out.update(folded[i : i + MIN_ECHO] for i in range(len(folded) - MIN_ECHO + 1))
    return frozenset(out)


def _forms(value: str) -> set[str]:
    """``value`` as it is, URL-encoded, and the parts of its base64 encodings that depend on
    its bytes alone, at offsets 0, 1 and 2 (mod 3) inside a longer encoded string."""
    forms = {value, quote(value, safe=""), quote_plus(value)}
    raw = value.encode("utf-8", errors="surrogatepass")
    for pad in range(3):
        start = -(-8 * pad // 6)  # the first character made of the key's bits only
        end = 8 * (pad + len(raw)) // 6  # past the last one
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.add(encode(b"\0" * pad + raw).decode("ascii")[start:end])
    return {f for f in forms if len(f) >= MIN_ECHO}
