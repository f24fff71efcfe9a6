"""``hearth config show | path``: the effective configuration and where it is read from."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from hearth.config import config_path, load_config

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of TOML.")]


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The configuration file (TOML), under environment variables and flags.",
        no_args_is_help=True,
    )
    group.command("show")(show)
    group.command("path")(path)
    app.add_typer(group, name="config")


def show(as_json: JsonOpt = False) -> None:
    """Print the effective configuration (file, then environment overrides), keys masked."""
    from hearth.config.render import config_json, config_toml

    config = load_config()
    if as_json:
        sys.stdout.write(json.dumps(config_json(config), indent=2) + "\n")
    else:
        sys.stdout.write(config_toml(config))


def path() -> None:
    """Print the config file's path ($HEARTH_CONFIG, else the user config directory's)."""
    sys.stdout.write(f"{config_path()}\n")
