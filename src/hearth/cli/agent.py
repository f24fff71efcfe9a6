"""``hearth agent "task"``: run the agent loop with opt-in tools and stream its steps."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from hearth._text import escape_controls
from hearth.accelerator import AcceleratorOptions
from hearth.cli.accelerator_flags import NO_ACCELERATOR, accelerator_flags
from hearth.cli.chat import ModelOpt, SystemOpt, VerboseOpt
from hearth.cli.mcp import McpConfigOpt, McpOpt
from hearth.cli.sampling import NO_SETTINGS, sampling_options
from hearth.errors import InvalidRequestError, OutputValidationError
from hearth.settings import GenerationSettings

if TYPE_CHECKING:
    from hearth.agent import AgentResult, Step, ToolProgressStep, ToolResultStep
    from hearth.messages import JsonObject
    from hearth.tools import Tool

TOOLSETS = ("fs",)
RESULT_PREVIEW = 300


def register(app: typer.Typer) -> None:
    app.command("agent")(agent)


ToolsOpt = Annotated[
    str | None,
    typer.Option("--tools", help="Comma-separated tool sets to enable: fs (file tools)."),
]
RootOpt = Annotated[
    Path | None, typer.Option("--root", help="The directory the fs tools are confined to.")
]
ReadOnlyOpt = Annotated[bool, typer.Option("--read-only", help="fs tools without write_file.")]
ToolChoiceOpt = Annotated[
    str,
    typer.Option(
        "--tool-choice",
        help="auto, required (a tool call every round until one is made; small local "
        "models often need this), none, or a tool's name.",
    ),
]
FollowupOpt = Annotated[
    str | None,
    typer.Option(
        "--followup-tool-choice",
        help="The tool choice once a tool has been called. Default: none after a forced "
        "call (--tool-choice required or a tool's name: answer in words from the result), "
        "else auto.",
    ),
]
MaxRoundsOpt = Annotated[
    int, typer.Option("--max-rounds", help="Most model calls for the task.", min=1)
]
SaveOpt = Annotated[bool, typer.Option("--save/--no-save", help="Save the run (see hearth logs).")]
OutputSchemaOpt = Annotated[
    Path | None,
    typer.Option(
        "--output-schema",
        help="A JSON schema file the final answer must match. stdout then gets only the "
        "validated JSON; the steps go to stderr.",
    ),
]
OutputRetriesOpt = Annotated[
    int,
    typer.Option(
        "--output-retries", help="Times to ask again for an answer off the schema.", min=0
    ),
]


@sampling_options
@accelerator_flags
def agent(
    task: Annotated[str, typer.Argument(help="What the agent should do.")],
    tools: ToolsOpt = None,
    root: RootOpt = None,
    read_only: ReadOnlyOpt = False,
    tool_choice: ToolChoiceOpt = "auto",
    followup_tool_choice: FollowupOpt = None,
    max_rounds: MaxRoundsOpt = 10,
    model: ModelOpt = None,
    system: SystemOpt = None,
    settings: GenerationSettings = NO_SETTINGS,
    accelerator: AcceleratorOptions = NO_ACCELERATOR,
    save: SaveOpt = True,
    output_schema: OutputSchemaOpt = None,
    output_retries: OutputRetriesOpt = 1,
    mcp: McpOpt = None,
    mcp_config: McpConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run a task with tools; prints the model's text, each tool call and each result."""
    from hearth.agent import Agent, Hooks
    from hearth.cli.chat import open_model
    from hearth.cli.mcp import ask_approval, started_servers

    toolset = _tools(tools, root, read_only)
    if not task.strip():
        raise InvalidRequestError("the task is empty")
    schema = _load_schema(output_schema) if output_schema is not None else None
    store = None
    if save:
        from hearth.store import ConversationStore

        store = ConversationStore()
    with contextlib.ExitStack() as stack:
        # MCP servers start (and fail, with one clear line) before the model loads
        servers = stack.enter_context(started_servers(mcp, mcp_config))
        m = stack.enter_context(open_model(model, verbose, accelerator))
        runner = Agent(
            m,
            toolset,
            mcp_servers=servers or (),
            hooks=Hooks(approve=ask_approval),
            system=system,
            max_rounds=max_rounds,
            settings=settings,
            store=store,
            tool_choice=tool_choice,
            followup_tool_choice=_followup(tool_choice, followup_tool_choice),
            output_type=schema,
            output_retries=output_retries,
        )
        steps = runner.iter(task)
        # with a schema, stdout is kept for the validated JSON alone
        printer = StepPrinter(sys.stdout if schema is None else sys.stderr, sys.stderr)
        try:
            result = printer.print_all(steps)
        except KeyboardInterrupt:
            steps.close()  # the turn ends as cancelled, every call answered, and is saved
            raise
    if store is not None and runner.conversation_id is not None:
        sys.stderr.write(f"[saved as {runner.conversation_id}: hearth logs show it]\n")
    if schema is not None:
        _print_parsed(result)
    elif not succeeded(result):
        raise typer.Exit(EXIT_UNFINISHED)


EXIT_UNFINISHED = 1
"""The exit code of a run that stopped at ``--max-rounds``, or whose every tool call failed or
was refused: the task is not done, whatever the model said."""


def succeeded(result: AgentResult | None) -> bool:
    """False for a run that is not done: stopped at max_rounds, or every call it made failed
    (a refused path, an unknown tool, bad arguments) — the model's answer is then a guess."""
    if result is None or result.stop_reason == "max_rounds":
        return False
    outcomes = [p.is_error for m in result.new_messages for p in m.tool_results]
    return not outcomes or not all(outcomes)


def _followup(tool_choice: str, followup: str | None) -> str:
    """A forced first call is followed by an answer in words unless asked otherwise: small
    local models call a forced tool again and again under "auto"."""
    if followup is not None:
        return followup
    return "auto" if tool_choice in ("auto", "none") else "none"


def _load_schema(path: Path) -> JsonObject:
    """The JSON schema in ``path``, checked now (not after the model has answered)."""
    from hearth.output import structured_output

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"cannot read --output-schema {path}: {exc}") from None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"--output-schema {path} is not valid JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise InvalidRequestError(
            f"--output-schema {path} must hold a JSON schema object, not {type(schema).__name__}"
        )
    try:
        structured_output(schema)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"--output-schema {path}: {exc}") from None
    return schema


def _print_parsed(result: AgentResult | None) -> None:
    if result is None or result.stop_reason not in ("end_turn", "max_tokens", "finish"):
        stop = result.stop_reason if result is not None else "cancelled"
        raise OutputValidationError(
            f"the agent stopped ({stop}) before giving an answer that matches --output-schema",
            raw=result.text if result is not None else "",
        )
    sys.stdout.write(json.dumps(result.parsed, indent=2, ensure_ascii=False) + "\n")


def _tools(spec: str | None, root: Path | None, read_only: bool) -> list[Tool]:
    names = [n.strip() for n in (spec or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in TOOLSETS]
    if unknown:
        raise InvalidRequestError(
            f"unknown tool set {unknown[0]!r}; available: {', '.join(TOOLSETS)}"
        )
    if "fs" not in names:
        if root is not None:
            raise InvalidRequestError("--root only applies with --tools fs")
        return []
    if root is None:
        raise InvalidRequestError("--tools fs needs --root DIR: the directory the tools may use")
    from hearth.agent.fs_tools import fs_tools

    return fs_tools(root, write=not read_only)


class StepPrinter:
    """Steps as a readable transcript: text as it streams, one line per call and result."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self._mid_line = False

    def print_all(self, steps: Iterable[Step]) -> AgentResult | None:
        """Print every step; the last turn's result."""
        result = None
        for step in steps:
            self.print(step)
            if step.kind == "turn_complete":
                result = step.result
        return result

    def print(self, step: Step) -> None:
        from hearth.agent import (
            CompactedStep,
            OutputRetryStep,
            TextStep,
            ThinkingStep,
            ToolCallStep,
            ToolProgressStep,
            ToolResultStep,
            TurnComplete,
            TurnError,
        )

        if isinstance(step, TextStep):
            self._write(step.text)
            self._mid_line = not step.text.endswith("\n")
        elif isinstance(step, ThinkingStep):
            return
        elif isinstance(step, ToolCallStep):
            self._line(f"→ {step.call.name}({_args(step.call.arguments)})")
        elif isinstance(step, ToolProgressStep):
            self._line(_progress_line(step))
        elif isinstance(step, ToolResultStep):
            self._line(_result_line(step))
        elif isinstance(step, CompactedStep):
            self._line(f"[context compacted ({step.strategy}): {step.detail}]")
        elif isinstance(step, OutputRetryStep):
            self._end()
            self.err.write(f"[the answer did not match the schema, asking again: "
                           f"{_preview(str(step.error))}]\n")  # fmt: skip
        elif isinstance(step, TurnComplete):
            self._end()
            self._stop_note(step.result)
        elif isinstance(step, TurnError):
            self._end()
            if step.error is not None:
                raise step.error
            raise InvalidRequestError(step.message)

    def _stop_note(self, result: AgentResult) -> None:
        notes = {
            "max_rounds": f"[stopped after {result.rounds} rounds (--max-rounds); the task may "
            "be unfinished]",
            "cancelled": "[cancelled]",
            "max_tokens": "[the answer hit the token limit]",
        }
        note = notes.get(result.stop_reason)
        if note is None and not succeeded(result):
            note = "[every tool call failed or was refused; the task is not done]"
        if note is not None:
            self.err.write(note + "\n")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _line(self, text: str) -> None:
        if self._mid_line:
            self._write("\n")
            self._mid_line = False
        self._write(text + "\n")

    def _end(self) -> None:
        if self._mid_line:
            self._write("\n")
            self._mid_line = False


def _args(arguments: str) -> str:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return _preview(arguments)
    if isinstance(value, dict):
        shown = (f"{k}={_preview(json.dumps(v, ensure_ascii=False))}" for k, v in value.items())
        return ", ".join(shown)
    return _preview(arguments)


def _result_line(step: ToolResultStep) -> str:
    content = _one_line_json(step.result.content)
    label = {"ok": "", "error": " error"}.get(step.outcome, f" {step.outcome}")
    first = content.strip().splitlines()[0] if content.strip() else "(empty)"
    more = len(content) - len(first)
    tail = f" (+{more} characters)" if more > 0 else ""
    return f"  ←{label} {_preview(first)}{tail}"


def _one_line_json(content: str) -> str:
    """JSON output (an MCP tool's, often pretty-printed) on one line; other text as it is."""
    if not content.lstrip().startswith(("{", "[")):
        return content
    try:
        return json.dumps(json.loads(content), ensure_ascii=False)
    except ValueError:
        return content


def _progress_line(step: ToolProgressStep) -> str:
    done = f"{step.progress:g}" + (f"/{step.total:g}" if step.total is not None else "")
    said = f" {step.message}" if step.message else ""
    return f"  … {step.call.name}: {done}{_preview(said)}"


def _preview(text: str) -> str:
    """One line for the terminal: control characters (ANSI escapes from a file's content, a
    stray CR) are shown escaped, never sent to the terminal."""
    if len(text) > RESULT_PREVIEW:
        text = text[:RESULT_PREVIEW] + "…"
    return escape_controls(text)
