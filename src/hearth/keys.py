"""API keys saved with ``hearth keys set NAME`` (NAME: a provider, ``openai``, ``anthropic``,
or a ``[providers.NAME]`` of the config file).

Resolving a provider's key, a saved key comes after the environment variable and before the
config file's inline ``api_key``. Keys live in the OS keyring where the optional ``keyring``
package is importable and has a usable backend; otherwise in ``keys.json`` under hearth's
config directory (``$HEARTH_HOME`` if set), a file only its owner may read (mode 0600). The
file also lists the names of keys kept in the keyring, so ``hearth keys list`` can show them.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from hearth.errors import ConfigurationError

FILE_NAME = "keys.json"
SERVICE = "hearth"
IN_KEYRING = {"where": "keyring"}


def keys_path() -> Path:
    home = os.environ.get("HEARTH_HOME")
    if home:
        return Path(home).expanduser() / FILE_NAME
    import platformdirs

    return platformdirs.user_config_path("hearth") / FILE_NAME


def _keyring() -> Any | None:
    """The ``keyring`` module when it is installed and has a real backend, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring set-up: fall back to the file
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return keyring


def _read() -> dict[str, object]:
    path = keys_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the saved keys in {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} is not a JSON object; remove it and set keys again")
    return data


def _write(data: dict[str, object]) -> Path:
    path = keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or any(c.isspace() for c in name):
        raise ConfigurationError(f"a key's name is one word, e.g. openai; got {name!r}")
    return name


def set_key(name: str, value: str) -> str:
    """Save ``value`` as the key of ``name``; returns where it went (the keyring or a file)."""
    name, value = _check_name(name), value.strip()
    if not value:
        raise ConfigurationError("the key is empty; paste it, or pipe it in")
    data = _read()
    ring = _keyring()
    if ring is not None:
        ring.set_password(SERVICE, name, value)
        data[name] = IN_KEYRING
        _write(data)
        return "the system keyring"
    data[name] = value
    return str(_write(data))


def stored_key(name: str) -> str | None:
    """The saved key of ``name``, or None."""
    with contextlib.suppress(ConfigurationError):
        entry = _read().get(name)
        if isinstance(entry, str) and entry:
            return entry
        if entry == IN_KEYRING:
            ring = _keyring()
            value = ring.get_password(SERVICE, name) if ring is not None else None
            return str(value) if value else None
    return None


def key_names() -> list[str]:
    return sorted(_read())


def remove_key(name: str) -> None:
    data = _read()
    if name not in data:
        known = ", ".join(sorted(data)) or "none"
        raise ConfigurationError(f"no saved key {name!r}; saved: {known}")
    entry = data.pop(name)
    ring = _keyring()
    if entry == IN_KEYRING and ring is not None:
        with contextlib.suppress(Exception):
            ring.delete_password(SERVICE, name)
    _write(data)


def masked(value: str | None) -> str:
    """``sk-…wxyz``: enough to tell keys apart, never enough to use one."""
    if value is None:
        return "(missing from the keyring)"
    if len(value) < 12:
        return "********"
    return f"{value[:3]}…{value[-4:]}"
