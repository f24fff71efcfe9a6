"""``hearth run``: answer one prompt. Piped stdin joins the prompt (llm's rule: the stdin text,
a space, then the prompt argument); ``-a`` attaches files, ``--schema`` asks for JSON of a
shape, ``-c`` / ``--cid`` continue a logged conversation. Every run is logged to the
conversation store (``hearth logs``) unless ``--no-log``."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hearth.accelerator import AcceleratorOptions
from hearth.cli.accelerator_flags import NO_ACCELERATOR, accelerator_flags
from hearth.cli.chat import (
    MmprojOpt,
    ModelOpt,
    SystemOpt,
    VerboseOpt,
    open_model,
    print_stream,
    response_json,
)
from hearth.cli.sampling import NO_SETTINGS, sampling_options
from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, Message
from hearth.response import Response
from hearth.settings import GenerationSettings

if TYPE_CHECKING:
    from hearth.client import Model
    from hearth.store import ConversationStore, StoredConversation


def register(app: typer.Typer) -> None:
    app.command("run")(run)


SchemaOpt = Annotated[
    str | None,
    typer.Option(
        "--schema",
        help="Answer as JSON of this shape: a JSON schema (inline or a file), or a concise"
        " list of fields: 'name, age int, bio: their biography'.",
    ),
]
AttachOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--attach",
        "-a",
        help="Attach a file (repeatable): an image (for vision models), or a text file,"
        " inlined into the prompt under its name.",
    ),
]
ContinueOpt = Annotated[
    bool, typer.Option("--continue", "-c", help="Continue the most recent logged conversation.")
]
CidOpt = Annotated[
    str | None, typer.Option("--cid", help="Continue the logged conversation with this id.")
]
LogOpt = Annotated[bool, typer.Option("--log/--no-log", help="Log the run (hearth logs).")]
RawOpt = Annotated[
    bool,
    typer.Option(
        "--raw",
        help="Continue the prompt as raw text: no chat template (base models; local models"
        " and remote APIs that have raw completion).",
    ),
]

NoThinkingOpt = Annotated[
    bool,
    typer.Option(
        "--no-thinking",
        help="Hide a reasoning model's thinking (shown dimmed before the answer; to stop the"
        " model thinking: -o thinking false).",
    ),
]


@dataclass(slots=True)
class _Plan:
    """What a run sends, worked out before any model is loaded (so bad input fails at once)."""

    user: Message
    history: list[Message]
    model: str | None
    system: str | None
    schema: JsonObject | None
    store: ConversationStore | None
    conversation_id: str | None


@sampling_options
@accelerator_flags
def run(
    prompt: Annotated[
        str | None,
        typer.Argument(
            help="The prompt; '-' or nothing reads it from stdin (piped stdin"
            " otherwise comes before it)."
        ),
    ] = None,
    model: ModelOpt = None,
    system: SystemOpt = None,
    settings: GenerationSettings = NO_SETTINGS,
    accelerator: AcceleratorOptions = NO_ACCELERATOR,
    schema: SchemaOpt = None,
    attach: AttachOpt = None,
    resume: ContinueOpt = False,
    cid: CidOpt = None,
    log: LogOpt = True,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Print the answer once it is complete.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with text, usage, stop reason.")
    ] = False,
    verbose: VerboseOpt = False,
    mmproj: MmprojOpt = None,
    raw: RawOpt = False,
    no_thinking: NoThinkingOpt = False,
) -> None:
    """Answer one prompt, streamed to stdout (with --raw: continue it as plain text)."""
    text = read_prompt(prompt, raw=raw)
    if raw:
        _check_raw(system, schema, attach, resume or cid is not None)
        _run_raw(text, model, settings, accelerator, as_json=as_json, verbose=verbose, log=log)
        return
    plan = _plan(text, model, system, schema, attach or [], resume, cid, log)
    with open_model(plan.model, verbose, accelerator, mmproj) as m:
        if plan.user.images and not m.capabilities().vision:
            raise InvalidRequestError(
                f"{m.name} does not take images; attach them to a vision model (-m)"
            )
        messages = [*plan.history, plan.user]
        system_arg = plan.system if not plan.history else None
        if as_json or no_stream:
            response = m.chat(messages, settings, system=system_arg, response_format=plan.schema)
            out = json.dumps(response_json(response), ensure_ascii=False) if as_json else None
            sys.stdout.write((out if out is not None else response.text) + "\n")
        else:
            stream = m.stream(messages, settings, system=system_arg, response_format=plan.schema)
            with stream:
                response = print_stream(stream, sys.stdout, thinking=not no_thinking)
        _log(plan, m, response)


def read_prompt(prompt: str | None, *, raw: bool = False) -> str:
    """The prompt: the argument, with piped stdin before it (joined by a space, as llm does);
    ``-`` or no argument is stdin alone. For ``--raw``, the one line end that ``echo`` adds
    to stdin is dropped when stdin is the whole prompt (the model continues from its very
    last character)."""
    stdin = "" if sys.stdin.isatty() else sys.stdin.read()
    if prompt is None or prompt == "-":
        if sys.stdin.isatty():
            raise InvalidRequestError('give a prompt: hearth run "your question"')
        prompt = stdin.removesuffix("\n").removesuffix("\r") if raw else stdin
    elif stdin:
        prompt = f"{stdin} {prompt}"
    if not prompt.strip():
        raise InvalidRequestError('the prompt is empty; give some text: hearth run "your text"')
    return prompt


def _plan(
    text: str,
    model: str | None,
    system: str | None,
    schema: str | None,
    attach: list[Path],
    resume: bool,
    cid: str | None,
    log: bool,
) -> _Plan:
    from hearth.cli.attach import read_attachments
    from hearth.cli.schema_dsl import load_schema

    user = Message.user(read_attachments(attach).prompt_parts(text) if attach else text)
    shape = load_schema(schema) if schema is not None else None
    plan = _Plan(user, [], model, system, shape, None, None)
    if resume or cid is not None:
        _continue(plan, cid)
    elif log:
        from hearth.store import ConversationStore

        plan.store = ConversationStore()
    if not log:
        plan.store = None
    return plan


def _continue(plan: _Plan, cid: str | None) -> None:
    from hearth.store import ConversationStore

    store = ConversationStore()
    ref = cid if cid is not None else store.latest()
    if ref is None:
        raise InvalidRequestError("there is no logged conversation to continue yet")
    stored: StoredConversation = store.load(ref)
    if plan.system is not None and plan.system != stored.info.system:
        raise InvalidRequestError(
            f"conversation {stored.info.id} has a different system prompt; leave --system out"
        )
    plan.history = stored.messages
    plan.system = stored.info.system
    plan.model = plan.model or stored.info.model
    plan.store, plan.conversation_id = store, stored.info.id


def _log(plan: _Plan, m: Model, response: Response) -> None:
    if plan.store is None:
        return
    new = [plan.user, response.message]
    usage, stop = response.usage, response.stop_reason
    if plan.conversation_id is not None:
        plan.store.append_turn(plan.conversation_id, new, stop_reason=stop, usage=usage)
        return
    plan.store.start(
        new, title=title_of(plan.user.text), model=m.name, system=plan.system,
        stop_reason=stop, usage=usage,
    )  # fmt: skip


def title_of(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:80] if lines else ""


def _check_raw(
    system: str | None, schema: str | None, attach: list[Path] | None, resume: bool
) -> None:
    for given, what in (
        (system is not None, "--system"),
        (schema is not None, "--schema"),
        (bool(attach), "--attach"),
        (resume, "--continue"),
    ):
        if given:
            raise InvalidRequestError(
                f"{what} has no place in a raw completion (no chat template, no roles); "
                "put the text in the prompt, or leave --raw out"
            )


def _run_raw(
    text: str,
    model: str | None,
    settings: GenerationSettings,
    accelerator: AcceleratorOptions,
    *,
    as_json: bool,
    verbose: bool,
    log: bool,
) -> None:
    with open_model(model, verbose, accelerator) as m:
        if as_json:
            response = m.complete(text, settings)
            sys.stdout.write(json.dumps(response_json(response), ensure_ascii=False) + "\n")
        else:
            with m.stream_complete(text, settings) as stream:
                response = print_stream(stream, sys.stdout)
        if log:
            from hearth.store import ConversationStore

            with ConversationStore() as store:
                store.start(
                    [Message.user(text), response.message], title=title_of(text), model=m.name,
                    stop_reason=response.stop_reason, usage=response.usage,
                )  # fmt: skip
