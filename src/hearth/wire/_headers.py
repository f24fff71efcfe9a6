"""Reading provider response headers: pure, shared by every wire format and the HTTP layer."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, matched case-insensitively (plain dicts as well as httpx.Headers)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, else ``Retry-After`` in seconds or as an
    HTTP date. None when there is no such header or it cannot be read; never negative."""
    millis = header(headers, "retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(value, 0.0)
    raw = (header(headers, "retry-after") or "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = _seconds_until(raw, time.time() if now is None else now)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _seconds_until(http_date: str, now: float) -> float:
    import email.utils  # ~13 ms to import: only when a server sends a date

    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return math.nan
    if when.tzinfo is None:
        return math.nan
    return when.timestamp() - now
