"""The sampling options of ``hearth run``, ``chat`` and ``agent``, made from the settings table
(:data:`hearth.settings.SETTINGS`): each setting with CLI flags becomes a typer option with its
doc as the help, and the command receives them together as one ``settings`` argument.

>>> @sampling_options
... def run(prompt: str, settings: GenerationSettings = NO_SETTINGS) -> None: ...

Values are checked by :class:`~hearth.settings.GenerationSettings`, so a bad one fails with the
same message as in Python (``temperature must be in [0.0, 100.0], got -1.0``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from hearth.settings import SETTINGS, GenerationSettings, Setting

R = TypeVar("R")

NO_SETTINGS = GenerationSettings()
"""The default of a command's ``settings`` parameter (typer never sees that parameter)."""

CLI_SETTINGS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.cli)
"""The settings the command line offers, in table order."""


def _option(setting: Setting) -> inspect.Parameter:
    if setting.kind not in (int, float):
        raise TypeError(f"{setting.name}: only number settings get a generated CLI option")
    option = typer.Option(*setting.cli, help=setting.doc, show_default=False)
    return inspect.Parameter(
        setting.name,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=None,
        annotation=Annotated[setting.kind | None, option],
    )


OPTION_PAIRS = inspect.Parameter(
    "option_pairs",
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    default=None,
    annotation=Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            metavar="KEY VALUE",
            help="Any generation setting, by name (repeatable): -o temperature 0.2 -o stop END."
            f" Keys: {', '.join(s.name for s in SETTINGS)}.",
            show_default=False,
        ),
    ],
)
"""``-o KEY VALUE`` (see :mod:`hearth.cli.options`), after the flags of :data:`CLI_SETTINGS`."""


def sampling_options(command: Callable[..., R]) -> Callable[..., R]:
    """``command`` as typer sees it: its ``settings`` parameter replaced by one option per
    setting of :data:`CLI_SETTINGS` and ``-o KEY VALUE``; called, it gets them back as
    GenerationSettings (a flag wins over ``-o`` for the same setting)."""
    signature = inspect.signature(command, eval_str=True)
    params = list(signature.parameters.values())
    at = [p.name for p in params].index("settings")
    options = [*(_option(s) for s in CLI_SETTINGS), OPTION_PAIRS]

    @functools.wraps(command)
    def with_settings(*args: Any, **kwargs: Any) -> R:
        from hearth.cli.options import parse_options

        values = parse_options(kwargs.pop("option_pairs", None) or [])
        for s in CLI_SETTINGS:
            flag = kwargs.pop(s.name, None)
            if flag is not None:
                values[s.name] = flag
        return command(*args, settings=GenerationSettings(**values), **kwargs)  # type: ignore[arg-type]

    with_settings.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*params[:at], *options, *params[at + 1 :]]
    )
    return with_settings
