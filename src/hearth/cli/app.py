"""The ``hearth`` Typer application and its entry point.

Each command group lives in its own module and registers itself with :func:`build_app`.
User errors (any :class:`hearth.errors.HearthError`) print one clear line on stderr and exit 1,
with no traceback; ``HEARTH_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Annotated, TextIO

import typer

from hearth.errors import HearthError

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130


def build_app() -> typer.Typer:
    from hearth.cli import agent, batch, chat, embed, keys, logs, mcp, models, ps, run, serve
    from hearth.cli import config as config_commands
    from hearth.cli.metavars import use_plain_metavars

    use_plain_metavars()

    app = typer.Typer(
        name="hearth",
        help="Run language models locally (llama.cpp) or remotely, through one API.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    run.register(app)
    chat.register(app)
    embed.register(app)
    batch.register(app)
    models.register(app)
    config_commands.register(app)
    serve.register(app)
    ps.register(app)
    agent.register(app)
    logs.register(app)
    keys.register(app)
    mcp.register(app)
    return app


def _show_version(value: bool) -> None:
    if value:
        from hearth import __version__

        sys.stdout.write(f"hearth {__version__}\n")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print hearth's version and exit.",
            is_eager=True,
            callback=_show_version,
        ),
    ] = False,
) -> None:
    """Run language models locally (llama.cpp) or remotely, through one API."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Usage errors exit 2 with the usage line (Typer's own
    handling); hearth errors print one line and exit 1."""
    from hearth.cli.options import pair_options

    app = build_app()
    warnings.showwarning = _show_warning
    try:
        app(args=pair_options(sys.argv[1:] if argv is None else argv), prog_name="hearth")
    except HearthError as exc:
        if os.environ.get("HEARTH_DEBUG"):
            raise
        print_error(str(exc))
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(EXIT_INTERRUPTED)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as one line on stderr (``warning: …``), with no file and line."""
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()


def print_error(message: str) -> None:
    """One line on stderr, starting with 'error:' (red on a terminal, unless NO_COLOR is set;
    plain otherwise)."""
    from rich.text import Text

    from hearth.cli.ui import stderr_console

    console = stderr_console()
    if not console.is_terminal or console.no_color:
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
        return
    console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
