"""``hearth run`` (one shot) and ``hearth chat`` (an interactive REPL, saved to the
conversation store; ``--continue`` picks a saved conversation up again)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from hearth.client import ChatStream, Conversation, Model
from hearth.errors import InvalidRequestError
from hearth.response import Response
from hearth.settings import GenerationSettings

if TYPE_CHECKING:
    from hearth.store import ConversationStore

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
TempOpt = Annotated[
    float | None, typer.Option("--temperature", "-t", help="Sampling temperature (0 = greedy).")
]
MaxTokOpt = Annotated[
    int | None, typer.Option("--max-tokens", "-n", help="Most tokens to generate.")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed for reproducible sampling.")]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Show llama.cpp's log (local models) or each HTTP request (remote)."
    ),
]


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("chat")(chat)


def _settings(
    temperature: float | None, max_tokens: int | None, seed: int | None
) -> GenerationSettings:
    return GenerationSettings(temperature=temperature, max_tokens=max_tokens, seed=seed)


def open_model(spec: str | None, verbose: bool) -> Model:
    """Build the model and load it behind a spinner (a pull shows its own progress bar)."""
    import hearth
    from hearth.cli.ui import status

    options: dict[str, object] = {}
    if verbose and _is_local(spec):
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


def run(
    prompt: Annotated[
        str | None, typer.Argument(help="The prompt; '-' or nothing reads it from stdin.")
    ] = None,
    model: ModelOpt = None,
    system: SystemOpt = None,
    temperature: TempOpt = None,
    max_tokens: MaxTokOpt = None,
    seed: SeedOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with text, usage, stop reason.")
    ] = False,
    verbose: VerboseOpt = False,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help=(
                "Continue the prompt as raw text: no chat template (base models; local models"
                " and remote APIs that have raw completion)."
            ),
        ),
    ] = False,
) -> None:
    """Answer one prompt, streamed to stdout (with --raw: continue it as plain text)."""
    if raw and system is not None:
        raise InvalidRequestError(
            "--system has no place in a raw completion (no chat template, no roles); "
            "put the text in the prompt, or leave --raw out"
        )
    text = _read_prompt(prompt, raw=raw)
    settings = _settings(temperature, max_tokens, seed)
    with open_model(model, verbose) as m:
        if as_json:
            response = m.complete(text, settings) if raw else m.chat(text, settings, system=system)
            sys.stdout.write(json.dumps(response_json(response), ensure_ascii=False) + "\n")
            return
        stream = (
            m.stream_complete(text, settings) if raw else m.stream(text, settings, system=system)
        )
        with stream:
            _print_stream(stream, sys.stdout)


def _read_prompt(prompt: str | None, *, raw: bool = False) -> str:
    """The prompt argument, or stdin for ``-`` or none. For ``--raw``, the one line end that
    ``echo`` and here-documents add to stdin is dropped, since the model continues the text
    from its very last character (a prompt argument is kept as it is)."""
    if prompt is None or prompt == "-":
        if sys.stdin.isatty():
            raise InvalidRequestError('give a prompt: hearth run "your question"')
        prompt = sys.stdin.read()
        if raw:
            prompt = prompt.removesuffix("\n").removesuffix("\r")
    if not prompt.strip():
        raise InvalidRequestError('the prompt is empty; give some text: hearth run "your text"')
    return prompt


def _print_stream(stream: ChatStream, out: TextIO) -> Response:
    for piece in stream.text_stream:
        out.write(piece)
        out.flush()
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


HELP_TEXT = "commands: /reset starts a new conversation, /exit (or Ctrl-D) leaves"
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


def _resume(conv: Conversation, saver: _Saver, ref: str, system: str | None) -> None:
    from hearth.store import ConversationStore

    store = saver.store or ConversationStore()
    cid = store.latest() if ref == LATEST else store.resolve(ref)
    if cid is None:
        raise InvalidRequestError("there is no saved conversation to continue yet")
    stored = store.load(cid)
    if system is not None and system != stored.info.system:
        raise InvalidRequestError(
            f"conversation {cid} has a different system prompt; leave --system out to continue it"
        )
    conv.system = stored.info.system
    conv.messages = stored.messages
    saver.store, saver.conversation_id = store, cid
    saver.compacted = stored.context is not None
    sys.stderr.write(f"continuing conversation {cid} ({stored.info.turns} turns)\n")


def chat(
    model: ModelOpt = None,
    system: SystemOpt = None,
    temperature: TempOpt = None,
    max_tokens: MaxTokOpt = None,
    seed: SeedOpt = None,
    verbose: VerboseOpt = False,
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
    settings = _settings(temperature, max_tokens, seed)
    interactive = sys.stdin.isatty()
    saver = _Saver(None, None)
    if save or resume:
        from hearth.store import ConversationStore

        saver.store = ConversationStore()
    with open_model(model, verbose) as m:
        conv = Conversation(m, system=system, settings=settings)
        if resume:
            _resume(conv, saver, conversation or LATEST, system)
            if not save:  # --no-save: read the conversation, add nothing to it
                saver.store = None
        if interactive:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401  (line editing and history for input())
            sys.stderr.write(f"chatting with {m.name}; {HELP_TEXT}\n")
        while True:
            line = _prompt_line(interactive)
            if line is None or line.strip() in ("/exit", "/quit"):
                return
            before = len(conv.messages)
            if _handle_line(conv, line.strip(), interactive):
                saver.save(conv, before)
            elif line.strip() == "/reset":
                saver.conversation_id, saver.compacted = None, False


def _prompt_line(interactive: bool) -> str | None:
    try:
        if interactive:
            return input(">>> ")
        line = sys.stdin.readline()
        return line if line else None
    except EOFError:
        return None


def _handle_line(conv: Conversation, line: str, interactive: bool) -> bool:
    if not line:
        return False
    if line == "/reset":
        conv.reset()
        sys.stderr.write("conversation reset\n")
        return False
    if line in ("/help", "/?"):
        sys.stderr.write(HELP_TEXT + "\n")
        return False
    if line.startswith("/"):
        sys.stderr.write(f"unknown command {line.split(maxsplit=1)[0]}; {HELP_TEXT}\n")
        return False
    try:
        with conv.stream(line) as stream:
            _print_stream(stream, sys.stdout)
    except KeyboardInterrupt:
        if not interactive:
            raise
        sys.stdout.write("\n")
        sys.stderr.write("[interrupted; the unfinished answer is not kept]\n")
    return True
