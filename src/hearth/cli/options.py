"""``-o KEY VALUE``: any setting of the settings table (:data:`hearth.settings.SETTINGS`) on
``hearth run``, ``chat`` and ``agent``, as llm spells it (``-o temperature 0.2 -o stop END``).

Click options take one value each, so :func:`pair_options` rewrites each ``-o KEY VALUE`` of
a command line into ``-o KEY=VALUE`` before parsing (``-o KEY=VALUE`` is accepted as it is).
:func:`parse_options` turns the pairs into setting values, parsed by the setting's type.
"""

from __future__ import annotations

from collections.abc import Sequence

from hearth.errors import InvalidRequestError
from hearth.settings import SETTINGS, SETTINGS_BY_NAME, Setting

OPTION_FLAGS = ("-o", "--option")
COMMANDS_WITH_OPTIONS = frozenset({"run", "chat", "agent"})
TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off"})


def pair_options(argv: Sequence[str]) -> list[str]:
    """``argv`` with each ``-o KEY VALUE`` of a run/chat/agent command line joined into
    ``-o KEY=VALUE`` (nothing after ``--`` is touched; other commands are left alone)."""
    args = list(argv)
    command = next((a for a in args if not a.startswith("-")), None)
    if command not in COMMANDS_WITH_OPTIONS:
        return args
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return out + args[i:]
        key_value = args[i + 1 : i + 3]
        if arg in OPTION_FLAGS and len(key_value) == 2 and "=" not in key_value[0]:
            out += [arg, f"{key_value[0]}={key_value[1]}"]
            i += 3
            continue
        out.append(arg)
        i += 1
    return out


def keys_line() -> str:
    return ", ".join(s.name for s in SETTINGS)


def parse_options(pairs: Sequence[str]) -> dict[str, object]:
    """The setting values of ``-o KEY=VALUE`` pairs, each parsed by its setting's type
    (``stop`` may be given several times; its values add up)."""
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise InvalidRequestError(f"-o takes a key and a value: -o {key} VALUE")
        setting = SETTINGS_BY_NAME.get(key)
        if setting is None:
            raise InvalidRequestError(f"unknown option {key!r}; the keys are: {keys_line()}")
        value = option_value(setting, text)
        if setting.kind is tuple:
            previous = values.get(key, ())
            assert isinstance(previous, tuple)
            value = (*previous, *value)  # type: ignore[misc]
        values[key] = value
    return values


def option_value(setting: Setting, text: str) -> object:
    """``text`` read as a value of ``setting`` (its range is checked later, with the rest)."""
    name, kind = setting.name, setting.kind
    try:
        if kind is float:
            return float(text)
        if kind is int:
            return int(text)
    except ValueError:
        what = "a number" if kind is float else "an integer"
        raise InvalidRequestError(f"-o {name} takes {what}, got {text!r}") from None
    if kind is bool:
        word = text.strip().lower()
        if word in TRUE | FALSE:
            return word in TRUE
        raise InvalidRequestError(f"-o {name} takes true or false, got {text!r}")
    if kind is tuple:
        return (text,)
    return text
