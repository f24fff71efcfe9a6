"""``hearth logs``: the saved conversations (run, chat and agent) — list, search, show, rm."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from hearth._text import escape_controls

if TYPE_CHECKING:
    from hearth.store import ConversationInfo, ConversationStore


def register(app: typer.Typer) -> None:
    logs = typer.Typer(
        help="Saved conversations: `hearth logs` lists them.",
        invoke_without_command=True,
        no_args_is_help=False,
    )
    logs.callback()(_default)
    logs.command("list")(list_)
    logs.command("show")(show)
    logs.command("rm")(rm)
    app.add_typer(logs, name="logs")


def _open() -> ConversationStore:
    from hearth.store import ConversationStore

    return ConversationStore()


LimitOpt = Annotated[
    int | None, typer.Option("--limit", "-n", help="Show the N most recent.", min=1)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
QueryOpt = Annotated[
    str | None,
    typer.Option("--query", "-q", help="Only conversations holding every word of TEXT."),
]


def _default(
    ctx: typer.Context, limit: LimitOpt = None, as_json: JsonOpt = False, query: QueryOpt = None
) -> None:
    """Saved conversations (`hearth logs -n 5`, `hearth logs -q banana`)."""
    if ctx.invoked_subcommand is None:
        list_(limit, as_json, query)


def list_(limit: LimitOpt = None, as_json: JsonOpt = False, query: QueryOpt = None) -> None:
    """List saved conversations, most recent first (with -q: best match first)."""
    with _open() as store:
        infos = store.list(limit) if query is None else store.search(query, limit)
    if as_json:
        for info in infos:
            sys.stdout.write(json.dumps(_info_json(info), ensure_ascii=False) + "\n")
        return
    if not infos:
        if query is not None:
            sys.stderr.write(f"no saved conversation holds {query!r}\n")
        else:
            sys.stderr.write("no saved conversations yet (hearth run, chat and agent save them)\n")
        return
    for info in infos:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.updated))
        title = _terminal_safe(info.title or "(untitled)")
        sys.stdout.write(
            f"{info.id}  {when}  {info.turns:>3} turns  {info.model or '-'}  {title}\n"
        )


def show(
    conversation: Annotated[str, typer.Argument(help="The id (or a unique prefix of it).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Export as versioned JSON (the whole record).")
    ] = False,
) -> None:
    """Show a conversation as a transcript, or export it as JSON."""
    from hearth.history import transcript

    with _open() as store:
        if as_json:
            doc = store.export(conversation)
            sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
            return
        conv = store.load(conversation)
    info = conv.info
    head = f"# {info.title or '(untitled)'}  [{info.id}, {info.model or '-'}]"
    sys.stdout.write(_terminal_safe(head) + "\n\n")
    sys.stdout.write(_terminal_safe(transcript(conv.log)) + "\n")
    if conv.context is not None:
        sys.stdout.write("\n[the model now sees a compacted history; --json shows it]\n")


def rm(
    conversations: Annotated[list[str], typer.Argument(help="Ids (or unique prefixes).")],
) -> None:
    """Delete saved conversations."""
    with _open() as store:
        ids = [store.resolve(ref) for ref in conversations]  # all or nothing
        for cid in ids:
            store.delete(cid)
            sys.stdout.write(f"deleted {cid}\n")


def _terminal_safe(text: str) -> str:
    """``text`` with control characters other than newline and tab shown escaped, so a
    stored tool output (a log file's ANSI colours, a stray CR) cannot drive the terminal."""
    return escape_controls(text, keep="\n\t")


def _info_json(info: ConversationInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "title": info.title,
        "model": info.model,
        "turns": info.turns,
        "created": info.created,
        "updated": info.updated,
    }
