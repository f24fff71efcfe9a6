"""The ``hearth chat`` prompt: reading input (``\"\"\"`` … ``\"\"\"`` for several lines, as in
Ollama) and the slash commands (/help, /set, /system, /attach, /reset, /bye)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

from hearth.conversation import Conversation
from hearth.errors import InvalidRequestError
from hearth.messages import Message
from hearth.settings import SETTINGS_BY_NAME, GenerationSettings

FENCE = '"""'
HELP_TEXT = "type /help for commands, /bye (or Ctrl-D) to leave"
COMMANDS = """commands:
  /set PARAM VALUE  set a generation setting for the next turns (/set temperature 0.2);
                    PARAM is one of: {keys}
  /set              show the settings in force
  /system TEXT      replace the system prompt (from the next turn; not saved with the log)
  /attach FILE…     send files with the next message: images (PNG, JPEG, WebP, GIF) for a
                    vision model, text files inlined; /attach alone lists them
  /reset            start a new conversation
  /bye, /exit       leave (Ctrl-D too)
  /help             this list
  \"\"\"               start and end a message of several lines"""


class Outcome(Enum):
    NOT_A_COMMAND = "not a command"
    DONE = "done"
    RESET = "reset"
    EXIT = "exit"


def read_message(interactive: bool) -> str | None:
    """The next message typed (or piped): one line, or the lines between two ``\"\"\"``;
    None at the end of input (after a newline, on a terminal, so the shell prompt starts
    on its own line)."""
    line = _read_line(interactive, ">>> ")
    if line is None or not line.lstrip().startswith(FENCE):
        return line
    first = line.lstrip()[len(FENCE) :]
    if first.rstrip().endswith(FENCE):
        return first.rstrip()[: -len(FENCE)]
    lines = [first] if first.strip() else []
    while (more := _read_line(interactive, "... ")) is not None:
        if more.rstrip().endswith(FENCE):
            lines.append(more.rstrip()[: -len(FENCE)])
            return "\n".join(lines).strip("\n")
        lines.append(more)
    return "\n".join(lines).strip("\n") or None


def _read_line(interactive: bool, prompt: str) -> str | None:
    try:
        if interactive:
            return input(prompt)
        line = sys.stdin.readline()
        return line.removesuffix("\n") if line else None
    except EOFError:
        sys.stdout.write("\n")
        sys.stdout.flush()
        return None


def command(conv: Conversation, line: str, attached: list[Path] | None = None) -> Outcome:
    """Run ``line`` if it is a slash command. ``/attach`` adds to ``attached``: the files the
    next message carries."""
    if not line.startswith("/"):
        return Outcome.NOT_A_COMMAND
    name, _, rest = line.partition(" ")
    rest = rest.strip()
    if name in ("/bye", "/exit", "/quit"):
        return Outcome.EXIT
    if name == "/reset":
        conv.reset()
        sys.stderr.write("conversation reset\n")
        return Outcome.RESET
    if name in ("/help", "/?"):
        keys = ", ".join(SETTINGS_BY_NAME)
        sys.stderr.write(COMMANDS.format(keys=keys) + "\n")
    elif name == "/set":
        _set(conv, rest)
    elif name == "/system":
        _system(conv, rest)
    elif name == "/attach" and attached is not None:
        _attach(rest, attached)
    else:
        sys.stderr.write(f"unknown command {name}; {HELP_TEXT}\n")
    return Outcome.DONE


def _set(conv: Conversation, rest: str) -> None:
    from hearth.cli.options import parse_options

    current = conv.settings or GenerationSettings()
    if not rest:
        shown = [f"{n}={getattr(current, n)!r}" for n in SETTINGS_BY_NAME]
        set_ = [s for s in shown if not s.endswith(("=None", "=()"))]
        sys.stderr.write(("settings: " + ", ".join(set_) if set_ else "no settings set") + "\n")
        return
    key, _, value = rest.partition(" ")
    try:
        values = parse_options([f"{key}={value.strip()}"] if value.strip() else [key])
        conv.settings = current.merged(GenerationSettings(**values))  # type: ignore[arg-type]
    except InvalidRequestError as exc:
        sys.stderr.write(f"error: {str(exc).replace('-o ', '/set ')}\n")
        return
    sys.stderr.write(f"set {key} = {value.strip()}\n")


def _system(conv: Conversation, text: str) -> None:
    if not text:
        sys.stderr.write(f"system prompt: {conv.system!r}; change it with /system TEXT\n")
        return
    conv.system = text
    rest = [m for m in conv.messages if m.role != "system"]
    conv.messages = [Message.system(text), *rest]
    sys.stderr.write("system prompt set\n")


def _attach(rest: str, attached: list[Path]) -> None:
    from hearth.cli.attach import read_attachments

    if not rest:
        names = ", ".join(str(p) for p in attached) or "none"
        sys.stderr.write(f"attached to the next message: {names}\n")
        return
    for word in rest.split():
        path = Path(word).expanduser()
        try:
            found = read_attachments([path])
        except InvalidRequestError as exc:
            sys.stderr.write(f"error: {exc}\n")
            continue
        attached.append(path)
        kind = "image" if found.images else "text"
        sys.stderr.write(f"attached {path} ({kind}); it goes with your next message\n")
