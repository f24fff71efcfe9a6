"""``[routers.NAME]`` tables: a router spreads ``router:NAME`` calls over several models.

::

    [routers.fleet]
    members = ["gpu1:llama-3.1-8b", "gpu2:llama-3.1-8b"]   # model strings, aliases too
    cooldown = 5        # seconds a failed member sits out when it gave no Retry-After
    affinity = true     # a conversation goes back to the member that served its start
    timeout = 60        # seconds each member may take to answer

:mod:`hearth.backends.router` builds the backend; this module only checks the table.
"""

from __future__ import annotations

import re

from hearth.config.fields import Fields, SchemaError, shown
from hearth.config.lines import KeyPath, dotted
from hearth.config.schema import RouterConfig

ROUTER_KEYS = ("members", "cooldown", "affinity", "timeout")
ROUTER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def parse_routers(table: object) -> dict[str, RouterConfig]:
    """The routers of a ``[routers]`` table, each checked, by name."""
    if not isinstance(table, dict):
        raise SchemaError(("routers",), f"routers must be a table, got {shown(table)}")
    routers: dict[str, RouterConfig] = {}
    for name, body in table.items():
        at: KeyPath = ("routers", name)
        if not ROUTER_NAME.fullmatch(name):
            raise SchemaError(
                at,
                f"router name {name!r} must be lowercase letters, digits, '.', '_' or '-' "
                "(it is written after 'router:' in model strings)",
            )
        fields = Fields(body, at, ROUTER_KEYS)
        members = _members(fields)
        cooldown = _seconds(fields, "cooldown")
        affinity = fields.boolean("affinity")
        routers[name] = RouterConfig(
            name=name,
            members=members,
            cooldown=5.0 if cooldown is None else cooldown,
            affinity=True if affinity is None else affinity,
            timeout=fields.number("timeout"),
        )
    return routers


def _members(fields: Fields) -> tuple[str, ...]:
    if "members" not in fields.table:
        raise SchemaError(
            fields.path,
            f"{dotted(fields.path)} needs 'members': the model strings it routes over, e.g. "
            'members = ["gpu1:llama-3.1-8b", "gpu2:llama-3.1-8b"]',
        )
    members = tuple(m.strip() for m in fields.strings("members"))
    if not members or not all(members):
        raise fields.fail("members", "a non-empty array of model strings", fields.table["members"])
    for member in members:
        if member.startswith("router:"):
            raise fields.fail("members", "model strings, not other routers", member)
    seen: set[str] = set()
    for member in members:
        if member in seen:
            raise fields.fail("members", "model strings, each once", member)
        seen.add(member)
    return members


def _seconds(fields: Fields, key: str) -> float | None:
    """A number of seconds, 0 allowed."""
    value = fields.table.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 86_400:
        raise fields.fail(key, "a number of seconds from 0 to 86400", value)
    return float(value)
