"""``hearth keys``: save, list and remove API keys (see :mod:`hearth.keys`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

NameArg = Annotated[str, typer.Argument(help="The provider: openai, anthropic, gemini, …")]


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="Saved API keys: used when the provider's variable is not set.")
    keys.command("set")(set_)
    keys.command("list")(list_)
    keys.command("rm")(rm)
    app.add_typer(keys, name="keys")


def set_(name: NameArg) -> None:
    """Save a key: typed at a hidden prompt, or piped in (echo $KEY | hearth keys set openai)."""
    from hearth.keys import set_key

    if sys.stdin.isatty():
        value = typer.prompt(f"key for {name}", hide_input=True, err=True)
    else:
        value = sys.stdin.readline()
    where = set_key(name, value)
    sys.stderr.write(f"saved the key for {name} in {where}\n")


def list_() -> None:
    """List saved keys, masked."""
    from hearth.keys import key_names, masked, stored_key

    names = key_names()
    if not names:
        sys.stderr.write("no saved keys (hearth keys set NAME saves one)\n")
    for name in names:
        sys.stdout.write(f"{name}  {masked(stored_key(name))}\n")


def rm(name: NameArg) -> None:
    """Remove a saved key."""
    from hearth.keys import remove_key

    remove_key(name)
    sys.stderr.write(f"removed the key for {name}\n")
