"""The ``hearth`` Typer application and its entry point.

Each command group lives in its own module and registers itself with :func:`build_app`.
User errors (any :class:`hearth.errors.HearthError`) print one clear line on stderr and exit 1,
with no traceback; ``HEARTH_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import os
import sys

import typer

from hearth.errors import HearthError

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130


def build_app() -> typer.Typer:
    from hearth.cli import agent, chat, embed, logs, mcp, models, serve
    from hearth.cli import config as config_commands

    app = typer.Typer(
        name="hearth",
        help="Run language models locally (llama.cpp) or remotely, through one API.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    chat.register(app)
    embed.register(app)
    models.register(app)
    config_commands.register(app)
    serve.register(app)
    agent.register(app)
    logs.register(app)
    mcp.register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Usage errors exit 2 with the usage line (Typer's own
    handling); hearth errors print one line and exit 1."""
    app = build_app()
    try:
        app(args=argv, prog_name="hearth")
    except HearthError as exc:
        if os.environ.get("HEARTH_DEBUG"):
            raise
        print_error(str(exc))
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(EXIT_INTERRUPTED)


def print_error(message: str) -> None:
    """One line on stderr, starting with 'error:'."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
