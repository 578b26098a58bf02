"""`chatclone chat`: the engine (local LoRA runs, OpenAI models), bubbles, the terminal loop.

A real run folder is made here from a tiny randomly initialised model with a perturbed LoRA
adapter, so these tests neither depend on the training code nor pay for the 135M model; OpenAI is
a MockTransport replaying a stream.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatclone import models
from chatclone.chat import merged, openai_chat, register_generator
from chatclone.chat.engine import (
    BubbleStream,
    Conversation,
    Engine,
    Target,
    open_engine,
    resolve_target,
    split_bubbles,
)
from chatclone.chat.generation import GenerationSettings, GeneratorSpec, fit_messages
from chatclone.chat.local import LocalGenerator
from chatclone.chat.openai_chat import OpenAIGenerator
from chatclone.chat.terminal import ChatOptions, run_chat
from chatclone.errors import ChatcloneError
from chatclone.prompt import OPENER, ChatContext, Identity, system_prompt
from chatclone.train.runs import RunRecord, save_record
from chatclone.workspace import Workspace
from tiny import FakeGenerator, tiny_model_dir

from helpers import cli

ME = "Sam Rivera"
PERSONA = "- I work as a data analyst at a bike-sharing startup.\n- I live in Bristol."
RUN = "clone1"
FT_MODEL = "ft:gpt-4.1-mini-2025-04-14:acme:clone:abc123"
IDENTITY = Identity(ME, "whatsapp", PERSONA)


def prompt(partner: str, identity: Identity = IDENTITY) -> str:
    return system_prompt(identity, ChatContext(partner))


def record(
    name: str, backend: str = "local", model: str | None = None, base: str = "default"
) -> RunRecord:
    return RunRecord(
        name=name,
        backend=backend,
        base=base,
        dataset="ds1",
        dataset_sha256="0" * 64,
        me=ME,
        source="whatsapp",
        persona=PERSONA,
        status="finished",
        model=model,
    )


@pytest.fixture(scope="module", autouse=True)
def merged_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Merged tiny models go to a temporary cache, not the user's (`chat/merged.py`)."""
    root = tmp_path_factory.mktemp("merged-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(merged, "cache_root", lambda: root)
        yield


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_model_dir(tmp_path_factory.mktemp("tiny")))


def make_run(root: Path, name: str, base: str, context_tokens: int | None = None) -> Path:
    """runs/NAME/ with a LoRA adapter on `base` whose B weights are perturbed (with a fixed seed)
    so that the adapter really changes what the model says."""
    import torch
    from peft import LoraConfig, get_peft_model

    run_dir = root / "runs" / name
    run_dir.mkdir(parents=True)
    with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(
            models.load_causal_lm(base), LoraConfig(r=8, target_modules=["q_proj", "v_proj"])
        )
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, param in model.named_parameters():
            if "lora_B" in key:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.01)
    model.save_pretrained(str(run_dir / "adapter"))
    models.load_tokenizer("default").save_pretrained(str(run_dir / "tokenizer"))
    run = record(name, base=base)
    run.context_tokens = context_tokens
    save_record(run_dir, run)
    return run_dir


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, tiny: str) -> Path:
    """A workspace with one local run on the tiny model."""
    root = tmp_path_factory.mktemp("chat") / "ws"
    make_run(root, RUN, tiny)
    return root


@pytest.fixture(scope="module")
def local(ws: Path, tiny: str) -> LocalGenerator:
    return LocalGenerator.load(ws / "runs" / RUN, tiny)


SHORT = GenerationSettings(max_new_tokens=16, temperature=0.0)


# --- the system prompt and the adapter ------------------------------------------------------


def test_system_prompt_is_the_training_prompt(ws: Path, tiny: str) -> None:
    target = resolve_target(Workspace(ws))
    engine = Engine(target, FakeGenerator())
    assert Conversation(engine, "Jordan").prompt_for("hi")[0]["content"] == prompt("Jordan")
    assert (target.backend, target.run, target.me, target.model) == ("local", RUN, ME, tiny)


def test_adapter_changes_the_logits(local: LocalGenerator, tiny: str) -> None:
    import torch

    base = models.load_causal_lm(tiny).eval()
    ids = torch.tensor([local.tokenizer("hey, how was the ride?")["input_ids"]])
    with torch.no_grad():
        tuned = local.model(input_ids=ids).logits
        plain = base(input_ids=ids).logits
    assert not torch.allclose(tuned, plain, atol=1e-4)


def test_local_stream_is_reproducible_with_a_seed(local: LocalGenerator) -> None:
    messages = [{"role": "system", "content": "You are Sam."}, {"role": "user", "content": "hi"}]
    sampled = GenerationSettings(max_new_tokens=16, temperature=0.9, seed=3)
    first = "".join(local.stream(messages, sampled))
    assert first == "".join(local.stream(messages, sampled))
    assert "".join(local.stream(messages, SHORT)) == "".join(local.stream(messages, SHORT))
    assert first.strip()


def test_local_prompt_drops_the_oldest_exchanges(local: LocalGenerator) -> None:
    old = [{"role": "user", "content": "word " * 300}, {"role": "assistant", "content": "ok"}]
    messages = [
        {"role": "system", "content": "You are Sam."},
        *old * 4,
        {"role": "user", "content": "and now?"},
    ]
    ids = local._prompt_ids(messages, max_new_tokens=16)
    text = local.tokenizer.decode(ids[0])
    assert ids.shape[1] <= 1024
    assert text.startswith("<|im_start|>system\nYou are Sam.") and "and now?" in text


def test_a_single_message_too_long_is_a_clear_error(local: LocalGenerator) -> None:
    messages = [{"role": "user", "content": "word " * 2000}]
    with pytest.raises(ChatcloneError, match="too long"):
        list(local.stream(messages, SHORT))
    with pytest.raises(ChatcloneError, match="no room"):
        list(local.stream(messages[:1], GenerationSettings(max_new_tokens=100_000)))


def test_fit_messages_keeps_the_system_prompt_and_starts_with_user() -> None:
    def m(role: str, n: int) -> dict[str, str]:
        return {"role": role, "content": "x" * n}

    messages = [
        m("system", 5),
        m("user", 10),
        m("assistant", 10),
        m("user", 10),
        m("assistant", 10),
        m("user", 10),
    ]

    def count(ms: list[dict[str, str]]) -> int:
        return sum(len(x["content"]) for x in ms)

    assert fit_messages(messages, count, 100) == messages
    assert fit_messages(messages, count, 35) == [messages[0], *messages[3:]]
    assert fit_messages(messages, count, 1) == [messages[0], messages[-1]]


# --- bubbles --------------------------------------------------------------------------------


def test_bubbles_split_on_newlines_inside_and_across_pieces() -> None:
    stream = BubbleStream()
    shown = [
        e
        for piece in ["hey", " you\nwant", " to", "\n", "\n", " come?\n"]
        for e in stream.feed(piece)
    ]
    assert stream.result() == ["hey you", "want to", "come?"]
    assert [starts for starts, _ in shown] == [True, False, True, False, True]
    assert "".join(text for _, text in shown) == "hey youwant tocome?"


def test_blank_lines_are_not_bubbles() -> None:
    assert split_bubbles("\n\n  \nok\r\n\n\nsee you  \n") == ["ok", "see you"]
    assert split_bubbles("") == []


# --- the CLI: --once ------------------------------------------------------------------------


def test_once_prints_a_reproducible_reply(ws: Path) -> None:
    args = ("chat", "-w", ws, "--once", "hey, you around?", "--max-new-tokens", "16")
    first = cli(*args, "--seed", "5")
    assert first.code == 0, first.err
    assert first.out.strip()
    assert RUN in first.err  # what was loaded, on stderr only
    assert cli(*args, "--seed", "5").out == first.out
    greedy = cli(*args, "--temperature", "0")  # greedy: reproducible without a seed
    assert greedy.code == 0 and cli(*args, "--temperature", "0").out == greedy.out
    assert "Loading weights" not in greedy.err


def test_once_json(ws: Path, tiny: str) -> None:
    run = cli("chat", "-w", ws, "--once", "hi", "--json", "--max-new-tokens", "16", "--seed", "1")
    assert run.code == 0, run.err
    data = run.json()
    assert set(data) == {"reply", "bubbles", "run", "model", "memory"}
    assert data["memory"] is False  # nothing stored in this workspace to remember
    assert (data["run"], data["model"]) == (RUN, tiny)
    assert data["reply"] == "\n".join(data["bubbles"])


def test_unknown_run_is_a_clear_error(ws: Path) -> None:
    run = cli("chat", "-w", ws, "--run", "nope", "--once", "hi")
    assert run.code != 0
    assert "no run 'nope'" in run.err and RUN in run.err and "Traceback" not in run.err


def test_no_workspace_is_a_clear_error(tmp_path: Path) -> None:
    run = cli("chat", "-w", tmp_path, "--once", "hi")
    assert run.code != 0 and "chatclone train" in run.err


def test_run_without_adapter_says_to_resume(ws: Path, tmp_path: Path) -> None:
    broken = tmp_path / "ws"
    shutil.copytree(ws, broken)
    shutil.rmtree(broken / "runs" / RUN / "adapter")
    run = cli("chat", "-w", broken, "--run", RUN, "--once", "hi")
    assert run.code != 0
    assert f"chatclone train --resume {RUN}" in run.err and f"'{RUN}'" in run.err


def test_json_needs_once(ws: Path) -> None:
    run = cli("chat", "-w", ws, "--json")
    assert run.code != 0 and "--once" in run.err


# --- the interactive loop -------------------------------------------------------------------


Recorder = FakeGenerator
SYSTEM = prompt("a friend")


def fake_engine(pieces: list[str]) -> tuple[Engine, Recorder]:
    recorder = Recorder(pieces)
    target = Target("local", "default", IDENTITY, RUN)
    return Engine(target, recorder), recorder


def scripted(lines: list[str]) -> Callable[[str], str]:
    """Input that gives these lines, then end of input (Ctrl-D)."""
    queue = iter(lines)

    def read(prompt: str) -> str:
        try:
            return next(queue)
        except StopIteration:
            raise EOFError from None

    return read


def test_reset_clears_the_history(capsys: pytest.CaptureFixture[str]) -> None:
    engine, recorder = fake_engine(["sure", "\nwhen?"])
    run_chat(
        Workspace(Path(".")),
        ChatOptions(),
        engine=engine,
        read=scripted(["hi", "tomorrow?", "/reset", "hello again", "/exit", "unsent"]),
    )
    assert len(recorder.prompts) == 3
    assert [m["content"] for m in recorder.prompts[1]] == [
        SYSTEM,
        "hi",
        "sure\nwhen?",
        "tomorrow?",
    ]
    assert recorder.prompts[2] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "hello again"},
    ]
    out = capsys.readouterr().out
    assert "/exit" in out and RUN in out  # the banner: what is loaded and how to quit
    assert f"{ME} › sure\n{ME} › when?" in out


def test_end_of_input_and_ctrl_c_quit_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    engine, recorder = fake_engine(["ok"])
    run_chat(Workspace(Path(".")), ChatOptions(), engine=engine, read=scripted(["hi"]))
    assert len(recorder.prompts) == 1

    def interrupt(prompt: str) -> str:
        raise KeyboardInterrupt

    run_chat(Workspace(Path(".")), ChatOptions(), engine=engine, read=interrupt)
    assert len(recorder.prompts) == 1


def test_ctrl_c_during_a_reply_stops_only_that_reply(capsys: pytest.CaptureFixture[str]) -> None:
    class Interrupted(Recorder):
        def stream(
            self, messages: list[dict[str, str]], settings: GenerationSettings
        ) -> Iterator[str]:
            self.prompts.append(messages)
            yield "wait"
            if len(self.prompts) == 1:
                raise KeyboardInterrupt

    interrupted = Interrupted([])
    engine = Engine(Target("local", "default", IDENTITY, RUN), interrupted)
    run_chat(Workspace(Path(".")), ChatOptions(), engine=engine, read=scripted(["a", "b"]))
    assert len(interrupted.prompts) == 2 and len(interrupted.prompts[1]) == 2  # "a" was dropped
    assert "(stopped)" in capsys.readouterr().out


def test_empty_first_message_or_new_lets_the_clone_open(capsys: pytest.CaptureFixture[str]) -> None:
    engine, recorder = fake_engine(["hey!"])
    run_chat(
        Workspace(Path(".")), ChatOptions(), engine=engine, read=scripted(["", "", "yo", "/new"])
    )
    users = [p[-1]["content"] for p in recorder.prompts]
    assert users == [OPENER, "yo", OPENER]  # the second empty line is not sent
    assert len(recorder.prompts[2]) == 2  # /new started over


def test_a_failed_reply_does_not_end_the_chat(capsys: pytest.CaptureFixture[str]) -> None:
    class Failing(Recorder):
        def stream(
            self, messages: list[dict[str, str]], settings: GenerationSettings
        ) -> Iterator[str]:
            self.prompts.append(messages)
            yield from ()
            raise ChatcloneError("OpenAI (ft:x): boom")

    failing = Failing([])
    engine = Engine(Target("openai", "openai:ft:x", IDENTITY), failing)
    run_chat(Workspace(Path(".")), ChatOptions(), engine=engine, read=scripted(["a", "b"]))
    assert len(failing.prompts) == 2 and len(failing.prompts[1]) == 2  # nothing was remembered
    assert "boom" in capsys.readouterr().err


def test_conversation_remembers_bubbles_joined_by_newlines() -> None:
    engine, _ = fake_engine(["one\n", "\n two", "\n"])
    conversation = Conversation(engine)
    assert "".join(conversation.reply("hi", SHORT)) == "one\n\n two\n"
    assert conversation.history[-1] == {"role": "assistant", "content": "one\ntwo"}


# --- OpenAI ---------------------------------------------------------------------------------


def sse(pieces: list[str]) -> bytes:
    """A streamed chat.completions response, as OpenAI sends it."""
    events = []
    for text in [None, *pieces]:
        delta = {"role": "assistant", "content": ""} if text is None else {"content": text}
        chunk = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": FT_MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
        events.append(f"data: {json.dumps(chunk)}\n\n")
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()


def mock_client(handler: Callable[[Any], Any]) -> Any:
    import httpx2
    from openai import OpenAI

    transport = httpx2.MockTransport(handler)
    return OpenAI(
        api_key="not-a-key", max_retries=0, http_client=httpx2.Client(transport=transport)
    )


@pytest.fixture
def openai_replay(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every request body sent to the (mock) OpenAI API; replies "on my way" in three pieces."""
    import httpx2

    bodies: list[dict[str, Any]] = []

    def handler(request: Any) -> Any:
        assert request.url.path == "/v1/chat/completions"
        bodies.append(json.loads(request.content))
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=sse(["on my", " way\nsee", " you soon"]),
        )

    monkeypatch.setattr(openai_chat, "openai_client", lambda: mock_client(handler))
    return bodies


@pytest.fixture
def openai_ws(tmp_path: Path) -> Path:
    run_dir = tmp_path / "runs" / "ft1"
    run_dir.mkdir(parents=True)
    save_record(run_dir, record("ft1", "openai", FT_MODEL))
    return tmp_path


def test_an_openai_run_is_used_only_when_named(openai_ws: Path) -> None:
    """The latest run being an OpenAI one must not send a chat to OpenAI unasked."""
    run = cli("chat", "-w", openai_ws, "--once", "hi")
    assert run.code != 0 and "--run ft1" in run.err


def test_openai_run_streams_with_the_training_prompt(
    openai_ws: Path, openai_replay: list[dict[str, Any]]
) -> None:
    run = cli(
        "chat",
        "-w",
        openai_ws,
        "--run",
        "ft1",
        "--once",
        "where are you?",
        "--json",
        "--partner",
        "Jordan",
        "--max-new-tokens",
        "50",
        "--temperature",
        "0",
    )
    assert run.code == 0, run.err
    assert run.json() == {
        "reply": "on my way\nsee you soon",
        "bubbles": ["on my way", "see you soon"],
        "run": "ft1",
        "model": f"openai:{FT_MODEL}",
        "memory": False,
    }
    (body,) = openai_replay
    assert (body["model"], body["stream"], body["max_completion_tokens"]) == (FT_MODEL, True, 50)
    assert body["messages"] == [
        {"role": "system", "content": prompt("Jordan")},
        {"role": "user", "content": "where are you?"},
    ]


def test_openai_model_takes_its_identity_from_the_latest_dataset(
    tmp_path: Path, openai_replay: list[dict[str, Any]]
) -> None:
    dataset = tmp_path / "datasets" / "ds1"
    dataset.mkdir(parents=True)
    (dataset / "train.jsonl").write_text("{}\n", "utf-8")
    report = {"me": "Alex Kim", "sources": {"telegram": 3, "whatsapp": 1}, "persona": "- I surf."}
    (dataset / "report.json").write_text(json.dumps(report), "utf-8")
    run = cli("chat", "-w", tmp_path, "--model", f"openai:{FT_MODEL}", "--once", "hi")
    assert run.code == 0, run.err
    assert run.out == "on my way\nsee you soon\n"
    system = openai_replay[0]["messages"][0]
    assert system == {
        "role": "system",
        "content": prompt("a friend", Identity("Alex Kim", "telegram", "- I surf.")),
    }


def test_openai_model_without_a_dataset_uses_me_from_settings(tmp_path: Path) -> None:
    assert cli("me", "Sam Rivera", "-w", tmp_path).code == 0
    target = resolve_target(Workspace(tmp_path), model=f"openai:{FT_MODEL}")
    assert target.identity == Identity(ME, "whatsapp", "")
    assert (target.run, target.model) == (None, f"openai:{FT_MODEL}")


def test_openai_model_needs_to_know_who_me_is(tmp_path: Path) -> None:
    with pytest.raises(ChatcloneError, match="chatclone me NAME"):
        resolve_target(Workspace(tmp_path), model=f"openai:{FT_MODEL}")


def test_model_must_be_openai(tmp_path: Path) -> None:
    run = cli("chat", "-w", tmp_path, "--model", "gpt-4o", "--once", "hi")
    assert run.code != 0 and "openai:" in run.err


def test_openai_key_missing_is_a_clear_error(
    openai_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    run = cli("chat", "-w", openai_ws, "--run", "ft1", "--once", "hi")
    assert run.code != 0 and "OPENAI_API_KEY" in run.err


def test_openai_error_is_one_line() -> None:
    import httpx2

    def handler(request: Any) -> Any:
        error = {
            "message": f"The model `{FT_MODEL}` does not exist",
            "type": "invalid_request_error",
        }
        return httpx2.Response(404, json={"error": error})

    generator = OpenAIGenerator(FT_MODEL, mock_client(handler))
    with pytest.raises(ChatcloneError, match="does not exist") as info:
        list(generator.stream([{"role": "user", "content": "hi"}], SHORT))
    assert "\n" not in str(info.value)


def test_openai_run_without_model_yet(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "ft2"
    run_dir.mkdir(parents=True)
    pending = record("ft2", "openai")
    pending.status, pending.extra = "running", {"job_id": "ftjob-1"}
    save_record(run_dir, pending)
    with pytest.raises(ChatcloneError, match="--follow ftjob-1"):
        open_engine(Workspace(tmp_path), run="ft2")


# --- the context a chat keeps, the registry, concurrency ------------------------------------


def test_a_2048_token_dataset_keeps_2048_tokens_of_history(tmp_path: Path, tiny: str) -> None:
    make_run(tmp_path, "long", tiny, context_tokens=2048)
    engine = open_engine(Workspace(tmp_path), run="long")
    assert engine.target.context_tokens == 2048
    generator = engine.generator
    assert isinstance(generator, LocalGenerator) and generator.context_tokens == 2048
    conversation = Conversation(engine)
    for i in range(6):  # about 1,500 tokens of history
        conversation.history += [
            {"role": "user", "content": f"question {i}: " + "word " * 120},
            {"role": "assistant", "content": "answer " * 120},
        ]
    ids = generator._prompt_ids(conversation.prompt_for("and now?"), max_new_tokens=16)
    assert 1024 < ids.shape[1] <= 2048
    assert "question 0:" in generator.tokenizer.decode(ids[0])  # nothing was dropped


def test_an_older_run_takes_the_context_of_its_dataset(tmp_path: Path, tiny: str) -> None:
    make_run(tmp_path, "old", tiny)  # run.json without context_tokens
    dataset = tmp_path / "datasets" / "ds1"
    dataset.mkdir(parents=True)
    (dataset / "train.jsonl").write_text("{}\n", "utf-8")
    report = {"me": ME, "settings": {"max_context_tokens": 2048}}
    (dataset / "report.json").write_text(json.dumps(report), "utf-8")
    assert resolve_target(Workspace(tmp_path), run="old").context_tokens == 2048
    (dataset / "report.json").unlink()
    assert resolve_target(Workspace(tmp_path), run="old").context_tokens == 1024


def test_generators_come_from_the_registry(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import chatclone.chat as registry

    fake = FakeGenerator(["from the fake"])
    specs: list[GeneratorSpec] = []

    def factory(spec: GeneratorSpec) -> FakeGenerator:
        specs.append(spec)
        return fake

    registry.generator_backends()  # the built-ins first, then the test's replacement
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_generator("local", factory)
    run = cli("chat", "-w", ws, "--once", "hi", "--partner", "Jordan")
    assert run.code == 0, run.err
    assert run.out == "from the fake\n"
    assert specs[0].run_dir == ws / "runs" / RUN and specs[0].context_tokens == 1024
    assert fake.prompts[0][0]["content"] == prompt("Jordan")
    with pytest.raises(ChatcloneError, match="no chat backend 'nope'"):
        registry.generator_for("nope", specs[0])


def test_concurrent_callers_get_their_own_seeded_reply(local: LocalGenerator) -> None:
    import threading

    import torch

    messages: list[Any] = [{"role": "user", "content": "hi there"}]
    sampled = [GenerationSettings(max_new_tokens=12, temperature=0.9, seed=s) for s in (1, 2)]
    alone = ["".join(local.stream(messages, s)) for s in sampled]
    state = torch.get_rng_state()
    together: dict[int, str] = {}

    def ask(k: int) -> None:
        together[k] = "".join(local.stream(messages, sampled[k]))

    threads = [threading.Thread(target=ask, args=(k,)) for k in (0, 1, 0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [together[0], together[1]] == alone
    assert torch.equal(torch.get_rng_state(), state)  # a seed is the reply's, not the process's
