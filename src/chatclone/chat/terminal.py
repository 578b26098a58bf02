"""`chatclone chat`: talk to the clone in the terminal, or get one reply for a script (`--once`).

Interactive: replies stream in as they are generated, each bubble on its own line after the clone's
name; `/reset` starts over, `/new` lets the clone text first, `/exit`, Ctrl-D or Ctrl-C quit (a
Ctrl-C during a reply only stops that reply). `--once TEXT` prints the reply, one bubble per line
(or JSON with `--json`), and nothing else on stdout: loading messages go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from rich.markup import escape

from chatclone import render
from chatclone.chat import timings
from chatclone.chat.engine import DEFAULT_PARTNER, BubbleStream, Conversation, Engine, open_engine
from chatclone.chat.generation import GenerationSettings
from chatclone.errors import ChatcloneError
from chatclone.workspace import Workspace

HELP = "/reset starts over, /new lets {me} text first, /exit or Ctrl-D quits"


@dataclass
class ChatOptions:
    run: str | None = None
    """A run name under runs/; None: the latest usable run."""
    model: str | None = None
    """openai:MODEL instead of a run."""
    once: str | None = None
    """Send this, print the reply and exit."""
    partner: str = DEFAULT_PARTNER
    max_new_tokens: int = 200
    temperature: float = 0.7
    seed: int | None = None
    as_json: bool = False
    memory: bool = True
    """Remind the clone of facts and past messages every turn (`memory.block`)."""

    def settings(self) -> GenerationSettings:
        return GenerationSettings(self.max_new_tokens, self.temperature, self.seed)


def run_chat(
    ws: Workspace,
    options: ChatOptions,
    *,
    read: Callable[[str], str] | None = None,
    engine: Engine | None = None,
) -> None:
    """The `chat` command. `read` (a prompt → a line, EOFError at the end) and `engine` are for
    tests; by default lines come from the terminal and the engine from the workspace."""
    timings.mark("chat")
    settings = options.settings()
    settings.check()
    if options.as_json and options.once is None:
        raise ChatcloneError("--json goes with --once TEXT (the interactive chat is for people)")
    if engine is None:
        with render.CountBars(enabled=not options.as_json) as bars:
            engine = open_engine(
                ws, options.run, options.model, _loading, options.memory, bars.start
            )
        timings.mark("engine")
    conversation = Conversation(engine, options.partner)
    if options.once is not None:
        reply_once(conversation, options.once, settings, options.as_json)
    else:
        chat_loop(conversation, settings, read or _read_line)


def _loading(message: str) -> None:
    render.err.print(f"[dim]{message}[/]")


def reply_once(
    conversation: Conversation, text: str, settings: GenerationSettings, as_json: bool
) -> None:
    bubbles = BubbleStream()
    for piece in conversation.reply(text, settings):
        if timings.enabled():
            timings.mark("first_token")
            timings.report()
        bubbles.feed(piece)
    result = bubbles.result()
    if as_json:
        data = {
            "reply": "\n".join(result),
            "bubbles": result,
            "run": conversation.engine.target.run,
            "model": conversation.engine.target.model,
            "memory": conversation.engine.memory is not None,
        }
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write("".join(f"{b}\n" for b in result))


def chat_loop(
    conversation: Conversation, settings: GenerationSettings, read: Callable[[str], str]
) -> None:
    """Read a line, stream the reply, until /exit, end of input or Ctrl-C at the prompt."""
    target = conversation.engine.target
    render.out.print(
        f"Chatting with [bold]{escape(target.me)}[/]: {escape(target.describe())}, "
        f"{conversation.engine.describe_memory()}"
    )
    render.out.print(f"[dim]{escape(HELP.format(me=target.me))}[/]")
    while True:
        try:
            line = read("You › ").strip()
        except (EOFError, KeyboardInterrupt):
            render.out.print()
            return
        if line == "/exit":
            return
        if not _command(line, conversation) and (line or not conversation.history):
            _show_reply(conversation, line, settings)


def _command(line: str, conversation: Conversation) -> bool:
    """Handle a /command; False for a message to send (including /new's empty opener)."""
    if line == "/reset":
        conversation.reset()
        render.out.print("[dim](history cleared)[/]")
        return True
    if line == "/new":
        conversation.reset()
        return False
    if line.startswith("/") and " " not in line:
        render.out.print(
            f"[dim]{escape(f'unknown command {line}; ' + HELP.format(me='the clone'))}[/]"
        )
        return True
    return False


def _show_reply(conversation: Conversation, line: str, settings: GenerationSettings) -> None:
    """Stream one reply, a new line with the clone's name for each bubble. A failed reply is
    reported and the chat goes on; Ctrl-C stops just this reply."""
    text = "" if line == "/new" else line
    bubbles, shown = BubbleStream(), 0
    try:
        for piece in conversation.reply(text, settings):
            for starts, chunk in bubbles.feed(piece):
                if starts:
                    _start_bubble(conversation.engine.target.me, after_another=shown > 0)
                    shown += 1
                render.out.print(chunk, end="", markup=False, emoji=False, soft_wrap=True)
    except KeyboardInterrupt:
        render.out.print(("\n" if shown else "") + "[dim](stopped)[/]")
        return
    except ChatcloneError as e:
        if shown:
            render.out.print()
        render.err.print(f"[red]error:[/] {escape(str(e))}")
        return
    render.out.print("" if shown else "[dim](no reply)[/]")


def _start_bubble(me: str, after_another: bool) -> None:
    if after_another:
        render.out.print()
    render.out.print(f"[bold cyan]{escape(me)} ›[/] ", end="")


def _read_line(prompt: str) -> str:
    return render.out.input(f"[bold]{prompt}[/]")
