"""The `chatclone` command. Each command is a thin wrapper over a library call; output for people
goes through `chatclone.render`, `--json` output is plain JSON on stdout."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from chatclone import __version__, render
from chatclone.cli_common import JsonOpt, WorkspaceOpt, emit_json
from chatclone.config import DatasetSettings, EvalSettings, TrainSettings, help_for
from chatclone.errors import ChatcloneError
from chatclone.me import set_me, show_me
from chatclone.memory.facts_cli import facts_app
from chatclone.workspace import Workspace

# Each command imports its own stage inside its body: `chatclone --help` and `chat --once` (whose
# time to first word counts) pay only for what they use (benchmarks/first_word.py).

app = typer.Typer(
    name="chatclone",
    help="Turn your exported chat history into a digital clone that texts like you.\n\n"
    "Everything stays on this machine. Start with `chatclone ingest EXPORT`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    add_completion=False,
)

_state = {"debug": bool(os.environ.get("CHATCLONE_DEBUG"))}


def _setting(section: type[Any], name: str) -> str:
    """A flag's help: the help text of the setting it overrides (one source), and where that
    setting lives."""
    table = {DatasetSettings: "dataset", TrainSettings: "train", EvalSettings: "eval"}[section]
    return f"{help_for(section, name)} Default: [{table}] {name} in chatclone.toml."


def _version(value: bool) -> None:
    if value:
        print(f"chatclone {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    if debug:
        _state["debug"] = True


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Exports (files, the folders the tools write, or their zips): WhatsApp, Telegram, "
            "Discord, Messenger, Instagram, Signal, iMessage, SMS, Slack, Google Chat, LINE, "
            "ChatLab, CSV (the README lists what each tool writes).",
            show_default=False,
        ),
    ],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail (and store nothing) if any line is not understood."),
    ] = False,
    date_order: Annotated[
        str | None,
        typer.Option(
            "--date-order",
            help="How the export writes dates: DMY (31/12/24), MDY (12/31/24) or YMD. Default: "
            "inferred from the file, and the report says how.",
            show_default=False,
        ),
    ] = None,
    chat: Annotated[
        str | None,
        typer.Option(
            "--chat",
            help="Store the exports' messages in this chat: a stored chat's name (to merge a "
            "renamed or re-downloaded export into it) or a new name.",
            show_default=False,
        ),
    ] = None,
    as_new_chat: Annotated[
        bool,
        typer.Option(
            "--as-new-chat",
            help="Keep a chat new to the store apart even when its messages overlap a stored "
            "chat's (by default such a chat is merged into the stored one, and the report says so).",
        ),
    ] = False,
) -> None:
    """Read chat exports into the workspace's store. Ingesting the same export twice adds nothing;
    overlapping exports of one chat merge. Any unreadable file stores nothing at all."""
    from chatclone.ingest import ChatChoice, parse_options
    from chatclone.ingest import ingest as run_ingest
    from chatclone.memory.index import MemoryIndex, index_path

    if chat is not None and as_new_chat:
        raise ChatcloneError("--chat NAME and --as-new-chat ask for different things; pick one")
    ws = Workspace.resolve(workspace)
    options = parse_options(ws, date_order)
    choice = ChatChoice(chat, as_new_chat)
    with render.ProgressBars(enabled=not as_json) as bars:
        result = run_ingest(ws, paths, bars.start, strict, options, choice)
    if index_path(ws).exists():  # memory was used: keep it in step with the store
        with MemoryIndex(ws) as index, render.CountBars(enabled=not as_json) as counts:
            index.refresh(counts.start)
    if as_json:
        emit_json(result.to_json())
    else:
        render.ingest_result(result, ws)


@app.command()
def stats(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """What the store holds: messages, chats, senders, and who "me" is and how that was decided."""
    from chatclone.stats import collect_stats

    ws = Workspace.resolve(workspace)
    with ws.open_store() as store:
        data = collect_stats(store, ws.settings())
    if as_json:
        emit_json(data)
    else:
        render.stats(data)


@app.command()
def messages(
    chat: Annotated[
        str | None,
        typer.Option("--chat", help="Only this chat (its name or id).", show_default=False),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every stored message in time order. With `--json`, one JSON object per line (keys `chat`,
    `ts`, `sender`, `kind`, `text`, and more)."""

    ws = Workspace.resolve(workspace)
    with ws.open_store() as store:
        if chat is not None and not store.chat_ids(chat):
            raise ChatcloneError(f"no chat named '{chat}'; `chatclone stats` lists the chats")
        render.message_lines(store.iter_messages(chat), as_json)


@app.command()
def me(
    name: Annotated[
        str | None,
        typer.Argument(help="Your name as it appears in the chats.", show_default=False),
    ] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option(
            "--alias", help="Another name you appear under (repeatable).", show_default=False
        ),
    ] = None,
    unset: Annotated[
        bool, typer.Option("--unset", help="Go back to inferring who you are.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show or set who is being cloned. Without NAME it shows who "me" is and how that was decided."""

    ws = Workspace.resolve(workspace)
    if name is not None or alias or unset:
        warning = set_me(ws, name, alias, unset)
        if warning:
            render.warn(warning)
    decision = show_me(ws)
    if as_json:
        emit_json(render.me_json(decision))
    else:
        render.me(decision)


@app.command()
def build(
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Folder name under datasets/ (default: a timestamp).", show_default=False
        ),
    ] = None,
    session_gap: Annotated[
        str | None,
        typer.Option(
            "--session-gap", help=_setting(DatasetSettings, "session_gap"), show_default=False
        ),
    ] = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="Extra formats besides OpenAI's train/valid.jsonl: sharegpt, hf (repeatable).",
            show_default=False,
        ),
    ] = None,
    pseudonymize_names: Annotated[
        bool | None,
        typer.Option(
            "--pseudonymize-names/--keep-names",
            help=_setting(DatasetSettings, "pseudonymize_names"),
            show_default=False,
        ),
    ] = None,
    low_info_filter: Annotated[
        bool | None,
        typer.Option(
            "--low-info-filter/--no-low-info-filter",
            help=_setting(DatasetSettings, "low_info_filter"),
            show_default=False,
        ),
    ] = None,
    memory: Annotated[
        bool | None,
        typer.Option(
            "--memory/--no-memory", help=_setting(DatasetSettings, "memory"), show_default=False
        ),
    ] = None,
    price: Annotated[
        float | None,
        typer.Option(
            "--price-per-million",
            help="Override the OpenAI training price (USD per 1M tokens).",
            show_default=False,
        ),
    ] = None,
    preview: Annotated[
        int, typer.Option("--preview", help="Print N samples as the model will see them.")
    ] = 0,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build a fine-tuning dataset from the stored chats into datasets/NAME/: conversations split at
    long silences, you as the assistant, private data pseudonymised, every drop counted by reason."""
    from chatclone.dataset.build import BuildOptions, build_dataset

    overrides = {k: v for k, v in (("session_gap", session_gap), ("pseudonymize_names", pseudonymize_names),
                                   ("low_info_filter", low_info_filter), ("memory", memory))
                 if v is not None}  # fmt: skip
    options = BuildOptions(name, ("openai", *(fmt or [])), price, overrides)
    with render.Steps(enabled=not as_json) as steps:
        options.progress = steps.step
        report = build_dataset(Workspace.resolve(workspace), options)
    if as_json:
        emit_json(report.to_json())
    else:
        render.build_report(report)
    if preview:
        render.preview(report, preview, to_stderr=as_json)


@app.command()
def train(
    backend: Annotated[
        str | None,
        typer.Option("--backend", help=_setting(TrainSettings, "backend"), show_default=False),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Dataset name under datasets/ (default: the latest built).",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Run folder name under runs/ (default: a timestamp).", show_default=False
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help=f"{_setting(TrainSettings, 'base')} With --backend openai: "
            f"{_setting(TrainSettings, 'openai_model')[len('OpenAI backend: ') :]}",
            show_default=False,
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", help=_setting(TrainSettings, "epochs"), show_default=False),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option("--max-steps", help=_setting(TrainSettings, "max_steps"), show_default=False),
    ] = None,
    learning_rate: Annotated[
        float | None,
        typer.Option("--lr", help=_setting(TrainSettings, "learning_rate"), show_default=False),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Local backend: continue run NAME from its latest checkpoint.",
            show_default=False,
        ),
    ] = None,
    suffix: Annotated[
        str | None,
        typer.Option("--suffix", help=_setting(TrainSettings, "suffix"), show_default=False),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="openai: start without asking to confirm the cost.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="openai: validate and estimate the cost, then stop; no network access.",
        ),
    ] = False,
    follow: Annotated[
        str | None,
        typer.Option(
            "--follow",
            help="openai: follow job JOB_ID again (after an interruption).",
            show_default=False,
        ),
    ] = None,
    cancel: Annotated[
        str | None, typer.Option("--cancel", help="openai: cancel job JOB_ID.", show_default=False)
    ] = None,
    price: Annotated[
        float | None,
        typer.Option(
            "--price-per-million",
            help="openai: training price override (USD per 1M tokens).",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fine-tune a model on a dataset into runs/NAME/: locally with LoRA (CPU or GPU), or through
    OpenAI's fine-tuning API (cost estimated and confirmed first)."""
    from chatclone.train import backend_for
    from chatclone.train.base import QuietDisplay, TrainFlags, TrainRequest, resolve_request

    ws = Workspace.resolve(workspace)
    flags = TrainFlags(backend, base, epochs, max_steps, learning_rate, suffix)
    given = TrainRequest(
        ws.settings().train, dataset, name, resume, yes, dry_run, follow, cancel, price,
        interactive=not as_json,
        display=QuietDisplay if as_json else render.TrainBar,
        notify=(lambda _: None) if as_json else render.dim,
        job_reporter=render.OpenAIJobDisplay(enabled=not as_json),
    )  # fmt: skip
    request = resolve_request(given.settings, flags, given)
    result = backend_for(request.settings.backend).train(ws, request)
    if not result:  # a second GPU process under `accelerate launch`: the first one reports
        return
    if as_json:
        emit_json(result)
    else:
        render.train_result(result)


@app.command()
def export(
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="What to make: ollama (a Modelfile folder for `ollama create`), gguf (one file "
            "for llama.cpp), vllm (the adapter and the `vllm serve` command) or merged (a full "
            "transformers folder).",
            show_default=False,
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option("--run", help="The run to export (default: the latest).", show_default=False),
    ] = None,
    merged: Annotated[
        bool,
        typer.Option("--merged", help="The same as --format merged."),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Where to write it (default: runs/NAME/FORMAT).", show_default=False
        ),
    ] = None,
    partner: Annotated[
        str,
        typer.Option(
            "--partner", help="Whom the clone is texting, for the system prompt it carries."
        ),
    ] = "a friend",
    outtype: Annotated[
        str,
        typer.Option(
            "--outtype", help="GGUF weight type: f16, f32 or q8_0 (gguf, and ollama via GGUF)."
        ),
    ] = "f16",
    converter: Annotated[
        Path | None,
        typer.Option(
            "--converter",
            help="llama.cpp's convert_hf_to_gguf.py (or a llama.cpp folder) for GGUF files.",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a local run's clone for Ollama, llama.cpp (GGUF), vLLM, or as a merged model."""
    from chatclone.export.options import ExportOptions
    from chatclone.export.registry import FORMATS, run_export

    if merged and format_ not in (None, "merged"):
        raise ChatcloneError(f"--merged and --format {format_} ask for different things; pick one")
    chosen = "merged" if merged else format_
    if chosen is None:
        raise ChatcloneError(f"say what to export: --format {'|'.join(FORMATS)} (or --merged)")
    options = ExportOptions(chosen, run, out, partner, outtype, converter)
    result = run_export(Workspace.resolve(workspace), options)
    if as_json:
        emit_json(result)
        return
    render.out.print(
        f"Wrote the {chosen} export to [bold]{result['path']}[/] ({result['size_mb']} MB)"
    )
    if "command" in result:
        render.out.print(f"Run it with: {result['command']}", markup=False)


@app.command()
def chat(
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="The run to talk to (default: the latest trained one).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Talk to an OpenAI model instead: openai:ft:… (needs OPENAI_API_KEY).",
            show_default=False,
        ),
    ] = None,
    once: Annotated[
        str | None,
        typer.Option(
            "--once",
            help="Send TEXT, print the clone's reply and exit (for scripts).",
            show_default=False,
        ),
    ] = None,
    partner: Annotated[
        str,
        typer.Option(
            "--partner", help="Who the clone thinks it is texting (goes into the system prompt)."
        ),
    ] = "a friend",
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", help="Longest reply, in tokens.")
    ] = 200,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Sampling temperature (0: greedy).")
    ] = 0.7,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Fix sampling for reproducible replies.", show_default=False),
    ] = None,
    memory: Annotated[
        bool,
        typer.Option(
            "--memory/--no-memory",
            help="Remind the clone every turn of the facts and past messages on record that "
            "the conversation touches (see `chatclone recall` and `chatclone facts`).",
        ),
    ] = True,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Chat with your clone in the terminal (streamed; /reset starts over, /exit quits)."""
    from chatclone.chat.terminal import ChatOptions, run_chat

    options = ChatOptions(
        run, model, once, partner, max_new_tokens, temperature, seed, as_json, memory
    )
    run_chat(Workspace.resolve(workspace), options)


@app.command()
def serve(
    run: Annotated[
        str | None,
        typer.Option(
            "--run", help="The run to serve (default: the latest trained one).", show_default=False
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Serve an OpenAI model instead: openai:ft:… (needs OPENAI_API_KEY).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Anything but this machine (127.0.0.1, ::1) needs an "
            "API key.",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Require this key (Authorization: Bearer KEY) on every API call; 'auto' makes "
            "one and prints it once. Default: $CHATCLONE_API_KEY, else none on 127.0.0.1.",
            show_default=False,
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A host name clients may use besides IP addresses and localhost (repeatable); "
            "other names are refused (DNS rebinding).",
            show_default=False,
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            help="Let pages from this origin call the API from a browser (repeatable; none by "
            "default).",
            show_default=False,
        ),
    ] = None,
    max_queue: Annotated[
        int,
        typer.Option(
            "--max-queue",
            help="Requests that may wait behind the one being answered; more get 503 with "
            "Retry-After.",
        ),
    ] = 16,
    memory: Annotated[
        bool,
        typer.Option(
            "--memory/--no-memory",
            help="Remind the clone every turn of the facts and past messages on record.",
        ),
    ] = True,
    workspace: WorkspaceOpt = None,
) -> None:
    """Serve your clone on this machine: an OpenAI-compatible API at /v1 and a chat page at /."""
    from chatclone.chat.server.command import ServeOptions, run_serve

    options = ServeOptions(
        run,
        model,
        host,
        port,
        api_key,
        allowed_host or [],
        cors_origin or [],
        max_queue,
        memory,
    )
    run_serve(Workspace.resolve(workspace), options)


@app.command("eval")
def eval_(
    run: Annotated[
        list[str] | None,
        typer.Option(
            "--run",
            help="A run to evaluate (repeatable; default: the latest local run).",
            show_default=False,
        ),
    ] = None,
    base: Annotated[
        bool,
        typer.Option("--base", help="Also evaluate the base model: same prompts, no fine-tuning."),
    ] = False,
    probes: Annotated[
        Path | None,
        typer.Option(
            "--probes",
            help="Fact probes, JSONL of {id, question, kind, answers, wrong} (default: "
            "probes.jsonl in the workspace, if there is one).",
            show_default=False,
        ),
    ] = None,
    replies: Annotated[
        Path | None,
        typer.Option(
            "--replies",
            help="With --probes: judge this JSONL of {probe_id, reply} alone (no model, no "
            "workspace) and print the verdicts.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Folder under evals/ (default: a timestamp).", show_default=False
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Dataset whose validation split is held out (default: the one the runs trained on).",
            show_default=False,
        ),
    ] = None,
    heldout_turns: Annotated[
        int | None,
        typer.Option(
            "--heldout-turns", help=_setting(EvalSettings, "heldout_turns"), show_default=False
        ),
    ] = None,
    max_new_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-new-tokens", help=_setting(EvalSettings, "max_new_tokens"), show_default=False
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help=_setting(EvalSettings, "seed"), show_default=False)
    ] = None,
    memory: Annotated[
        str,
        typer.Option(
            "--memory",
            help="Prompts with the memory block or without: 'as-trained' (each run as its "
            "dataset was built, the base model as the dataset), 'on', 'off', or 'both' (every "
            "system twice, NAME and NAME+memory: the ablation of memory and grounding).",
        ),
    ] = "as-trained",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure how much a clone texts like the person (style on held-out replies, authorship,
    held-out loss) and how often it invents facts (fact probes); writes evals/NAME/report.json
    and report.html and prints the systems side by side."""
    from chatclone.evaluate.run import EvalOptions, run_eval, score_replies

    if replies is not None:
        if probes is None:
            raise ChatcloneError("--replies needs --probes FILE: the probes the replies answer")
        result = score_replies(probes, replies, _eval_settings(workspace, None, None, seed))
        return emit_json(result) if as_json else render.verdicts(result)
    ws = Workspace.resolve(workspace)
    settings = _eval_settings(workspace, heldout_turns, max_new_tokens, seed)
    default_probes = ws.root / "probes.jsonl"
    probes = probes or (default_probes if default_probes.is_file() else None)
    options = EvalOptions(list(run or []), base, probes, name, dataset, settings, memory)
    with render.CountBars(enabled=not as_json) as bars:
        report = run_eval(ws, options, bars.start, None if as_json else render.dim)
    emit_json(report) if as_json else render.eval_report(report)


def _eval_settings(
    workspace: Path | None, heldout: int | None, max_new: int | None, seed: int | None
) -> EvalSettings:
    """[eval] of the workspace's chatclone.toml (defaults without one), flags on top."""
    settings = Workspace.resolve(workspace).settings().eval
    given: dict[str, Any] = {"heldout_turns": heldout, "max_new_tokens": max_new, "seed": seed}
    return replace(settings, **{k: v for k, v in given.items() if v is not None})


app.add_typer(facts_app, name="facts")


@app.command()
def recall(
    query: Annotated[str, typer.Argument(help="What to be reminded of, in any words.")],
    k: Annotated[int, typer.Option("--k", help="How many messages to show.")] = 5,
    before: Annotated[
        str | None,
        typer.Option(
            "--before",
            help="Only what was said before this date or date-time (2024-05-01, 2024-05-01T18:00).",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what the clone would be reminded of: your own messages that best match QUERY (full
    text and meaning), with chat, time and what they answered. Indexes new messages first."""
    from chatclone.memory.index import MemoryIndex
    from chatclone.memory.recall import recall as run_recall

    ws = Workspace.resolve(workspace)
    with MemoryIndex(ws) as index, render.CountBars(enabled=not as_json) as bars:
        index.refresh(bars.start)
        hits = run_recall(index, query, k, before)
    if as_json:
        emit_json({"hits": [h.to_json() for h in hits]})
    else:
        render.recall_hits(hits)


@app.command()
def demo(
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", help="Where to put the demo clone.")
    ] = Path("chatclone-demo"),
    train_steps: Annotated[
        int,
        typer.Option("--train-steps", help="LoRA steps to train (0: skip training and the chat)."),
    ] = 16,
) -> None:
    """Run the whole path on the bundled sample (three synthetic chats of "Sam Rivera") with the
    default model on this machine: ingest, stats, build a dataset, a few minutes of LoRA training
    on CPU, a short scripted chat with the clone and an eval of it against the base model."""
    from chatclone.demo import run_demo

    run_demo(Workspace.resolve(workspace), train_steps)


def main() -> None:
    """Entry point: typed errors become one line on stderr and a non-zero exit."""
    try:
        app()
    except ChatcloneError as e:
        if _state["debug"]:
            raise
        print(f"chatclone: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("chatclone: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:
        if _state["debug"]:
            raise
        print(
            f"chatclone: internal error: {type(e).__name__}: {e} "
            "(run with --debug for the traceback, and please report it)",
            file=sys.stderr,
        )
        sys.exit(70)
