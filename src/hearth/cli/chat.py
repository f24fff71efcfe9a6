"""``hearth chat`` (an interactive REPL, saved to the conversation store; ``--continue``
picks a saved conversation up again), and what it shares with ``hearth run``."""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from hearth.accelerator import AcceleratorOptions
from hearth.cli.accelerator_flags import NO_ACCELERATOR, accelerator_flags
from hearth.cli.repl import HELP_TEXT
from hearth.cli.sampling import NO_SETTINGS, sampling_options
from hearth.client import ChatStream, Model
from hearth.conversation import Conversation
from hearth.errors import InvalidRequestError
from hearth.events import TextDelta, ThinkingDelta
from hearth.messages import Message
from hearth.response import Response
from hearth.settings import GenerationSettings

if TYPE_CHECKING:
    from hearth.store import ConversationStore, StoredConversation

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="provider:name, a catalogue name, an alias, or a .gguf path. Default: $HEARTH_MODEL,"
        " else default_model in the config file, else local:smollm2.",
    ),
]
SystemOpt = Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")]
MmprojOpt = Annotated[
    str | None,
    typer.Option(
        "--mmproj",
        metavar="FILE",
        help="A local vision model's projector GGUF (a path or hf:ORG/REPO/FILE.gguf), so it "
        "takes images. Default: the catalogue or config entry's.",
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Show llama.cpp's log (local models) or each HTTP request (remote)."
    ),
]


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)


def open_model(
    spec: str | None,
    verbose: bool,
    accelerator: AcceleratorOptions = NO_ACCELERATOR,
    mmproj: str | None = None,
) -> Model:
    """Build the model and load it behind a spinner (a pull shows its own progress bar)."""
    import hearth
    from hearth.cli.ui import status

    options: dict[str, object] = {}
    local = _is_local(spec)
    if mmproj is not None:
        if not local:
            raise InvalidRequestError("--mmproj: a projector is for a local model; leave it out")
        options["mmproj"] = mmproj
    if accelerator.given() and not local:
        flags = ", ".join("--" + name.replace("_", "-") for name in accelerator.given())
        raise InvalidRequestError(
            f"{flags}: GPU and KV cache options apply to local models (local:…, hf:…, a .gguf "
            "path); leave them out for a remote model"
        )
    options.update(accelerator.given())
    if verbose and local:
        options["verbose"] = True  # llama.cpp's log; a remote backend has no such option
    elif verbose:
        _log_http_requests()
    m = hearth.model(spec, **options)
    fetch = getattr(m.backend, "fetch", None)
    load = getattr(m.backend, "load", None)
    if fetch is not None and load is not None:
        from hearth.catalog.progress_rich import RichProgress

        fetch(RichProgress())  # a pull shows its own bar; the spinner comes after it
        with status(f"loading {m.name}"):
            load()
    return m


def _is_local(spec: str | None) -> bool:
    from hearth.backends.registry import split_model_string
    from hearth.config import resolve_model_spec

    return split_model_string(resolve_model_spec(spec))[0] in ("local", "hf")


class _HttpLog(logging.StreamHandler):  # type: ignore[type-arg]
    """One line per HTTP request on stderr, keys redacted: a URL may carry one (``?key=``)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def format(self, record: logging.LogRecord) -> str:
        from hearth._http import redact

        return redact(super().format(record))


def _log_http_requests() -> None:
    """httpx's line per request (method, URL, status), once however many models are opened."""
    logger = logging.getLogger("httpx")
    for old in [h for h in logger.handlers if isinstance(h, _HttpLog)]:
        logger.removeHandler(old)
    logger.addHandler(_HttpLog())
    logger.setLevel(logging.INFO)


_DIM, _RESET = "\x1b[2m", "\x1b[0m"


def print_stream(stream: ChatStream, out: TextIO, *, thinking: bool = True) -> Response:
    """Write the answer to ``out`` as it streams. A reasoning model's thinking goes before it,
    dimmed, where ``out`` is a terminal; to stderr where it is not (so a piped answer stays
    the answer alone); nowhere with ``thinking=False`` (``--no-thinking``)."""
    thought = False
    tty = out.isatty()
    for event in stream:
        if isinstance(event, ThinkingDelta) and event.text and thinking:
            if tty:
                out.write(f"{_DIM}{event.text}{_RESET}")
            else:
                sys.stderr.write(event.text)
            thought = True
        elif isinstance(event, TextDelta) and event.text:
            if thought:  # the thinking ends: set the answer apart from it
                (out if tty else sys.stderr).write("\n\n" if tty else "\n")
                thought = False
            out.write(event.text)
        else:
            continue
        out.flush()
    if thought and not tty:
        sys.stderr.write("\n")
    response = stream.response
    out.write("\n")
    out.flush()
    if response.stop_reason == "max_tokens":
        sys.stderr.write(f"[stopped at the token limit: {response.usage.output_tokens} tokens]\n")
    return response


def response_json(response: Response) -> dict[str, object]:
    return {
        "text": response.text,
        "model": response.model,
        "stop_reason": response.stop_reason,
        "stop_sequence": response.stop_sequence,
        "usage": asdict(response.usage),
    }


LATEST = "latest"


class _Saver:
    """Saves each completed chat turn to the conversation store."""

    def __init__(self, store: ConversationStore | None, conversation_id: str | None) -> None:
        self.store = store
        self.conversation_id = conversation_id
        self.compacted = False  # the stored conversation keeps a compacted working history

    def save(self, conv: Conversation, before: int) -> None:
        new = conv.messages[before:]
        if self.store is None or not new:
            return
        context = conv.messages if self.compacted else None
        if self.conversation_id is None:  # the conversation and its first turn: one transaction
            title = new[0].text.strip().splitlines()[0][:80] if new[0].text.strip() else ""
            self.conversation_id = self.store.start(
                new, title=title, model=conv.model.name, system=conv.system, context=context
            )
            return
        self.store.append_turn(self.conversation_id, new, context=context)


def find_conversation(store: ConversationStore, ref: str) -> StoredConversation:
    """The saved conversation ``ref`` names (``latest``: the most recent), checked before any
    model is loaded; an unknown id is an error listing the most recent ones."""
    from hearth.store import ConversationNotFoundError

    cid = store.latest() if ref == LATEST else None
    if ref == LATEST and cid is None:
        raise InvalidRequestError("there is no saved conversation to continue yet")
    try:
        return store.load(cid or ref)
    except ConversationNotFoundError as exc:
        recent = [f"{i.id} ({i.title[:30] or 'untitled'})" for i in store.list(5)]
        listed = "; recent ones: " + ", ".join(recent) if recent else ""
        raise InvalidRequestError(f"{exc}{listed}") from None


def _resume(
    conv: Conversation, saver: _Saver, stored: StoredConversation, system: str | None
) -> None:
    cid = stored.info.id
    if system is not None and system != stored.info.system:
        raise InvalidRequestError(
            f"conversation {cid} has a different system prompt; leave --system out to continue it"
        )
    conv.system = stored.info.system
    conv.messages = stored.messages
    saver.conversation_id = cid
    saver.compacted = stored.context is not None
    sys.stderr.write(f"continuing conversation {cid} ({stored.info.turns} turns)\n")


@sampling_options
@accelerator_flags
def chat(
    model: ModelOpt = None,
    system: SystemOpt = None,
    settings: GenerationSettings = NO_SETTINGS,
    accelerator: AcceleratorOptions = NO_ACCELERATOR,
    verbose: VerboseOpt = False,
    mmproj: MmprojOpt = None,
    conversation: Annotated[
        str | None, typer.Argument(help="With --continue: the conversation id (or a prefix of it).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--continue",
            "-c",
            help="Continue a saved conversation: the latest one, or ID. `hearth logs` lists them.",
        ),
    ] = False,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Save the conversation (hearth logs).")
    ] = True,
) -> None:
    """Chat interactively, with history. Reads lines from stdin when it is piped."""
    if conversation is not None and not resume:
        raise InvalidRequestError(
            f"to continue conversation {conversation}, write: hearth chat --continue {conversation}"
        )
    interactive = sys.stdin.isatty()
    saver = _Saver(None, None)
    stored = None
    if save or resume:
        from hearth.store import ConversationStore

        saver.store = ConversationStore()
    if resume:
        assert saver.store is not None
        stored = find_conversation(saver.store, conversation or LATEST)
        model = model or stored.info.model  # the conversation's own model, unless -m
    with open_model(model, verbose, accelerator, mmproj) as m:
        conv = Conversation(m, system=system, settings=settings)
        if stored is not None:
            _resume(conv, saver, stored, system)
            if not save:  # --no-save: read the conversation, add nothing to it
                saver.store = None
        if interactive:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401  (line editing and history for input())
            sys.stderr.write(f"chatting with {m.name}; {HELP_TEXT}\n")
        _loop(conv, saver, interactive)


def _loop(conv: Conversation, saver: _Saver, interactive: bool) -> None:
    from hearth.cli.repl import Outcome, command, read_message

    attached: list[Path] = []  # /attach: the files the next message carries
    while (text := read_message(interactive)) is not None:
        outcome = command(conv, text.strip(), attached)
        if outcome is Outcome.EXIT:
            return
        if outcome is Outcome.RESET:
            saver.conversation_id, saver.compacted = None, False
        if outcome is not Outcome.NOT_A_COMMAND or not text.strip():
            continue
        before = len(conv.messages)
        message = _with_attachments(conv, text, attached)
        attached.clear()
        if message is not None and _send(conv, message, interactive):
            saver.save(conv, before)


def _with_attachments(conv: Conversation, text: str, attached: list[Path]) -> str | Message | None:
    """``text``, with the attached files when there are some; None (said on stderr) when they
    cannot go (images for a model without vision, a file gone)."""
    if not attached:
        return text
    from hearth.cli.attach import read_attachments

    try:
        found = read_attachments(attached)
    except InvalidRequestError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return None
    if found.images and not conv.model.capabilities().vision:
        sys.stderr.write(
            f"error: {conv.model.name} does not take images; the attachments were dropped "
            "(chat with a vision model: -m)\n"
        )
        return None
    return Message.user(found.prompt_parts(text))


def _send(conv: Conversation, text: str | Message, interactive: bool) -> bool:
    try:
        with conv.stream(text) as stream:
            print_stream(stream, sys.stdout)
    except KeyboardInterrupt:
        if not interactive:
            raise
        sys.stdout.write("\n")
        sys.stderr.write("[interrupted; the unfinished answer is not kept]\n")
    return True
