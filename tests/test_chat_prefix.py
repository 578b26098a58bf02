"""A warm turn starts from the last prompt's key/value cache, cut to the beginning the two
prompts share (the system prompt up to the memory block): the same replies, less prefill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatclone.chat import merged
from chatclone.chat.generation import GenerationSettings
from chatclone.chat.local import MIN_SHARED_TOKENS, LocalGenerator
from chatclone.prompt import ChatMessage
from test_chat import make_run
from tiny import tiny_model_dir

GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0)
SYSTEM = "You are Sam Rivera, texting on WhatsApp in a chat with a friend. " * 3


def turn(memory: str, *said: str) -> list[ChatMessage]:
    """A prompt like a chat's: the same system head, a block that changes, the history."""
    messages: list[ChatMessage] = [{"role": "system", "content": f"{SYSTEM}\n\n{memory}"}]
    for i, text in enumerate(said):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return messages


TURNS = [
    turn("Facts: - a cat", "are you free saturday?"),
    turn("Facts: - a cat, Biscuit", "are you free saturday?", "yes", "how is biscuit?"),
    turn("Past messages: lisbon", "lisbon when?"),
    turn("Past messages: lisbon", "lisbon when?"),  # the very same prompt again
]


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGenerator]:
    root = tmp_path_factory.mktemp("prefix")
    tiny = str(tiny_model_dir(root / "tiny"))
    run_dir = make_run(root / "ws", "r1", tiny)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(merged, "cache_root", lambda: root / "cache")
        yield LocalGenerator.load(run_dir, tiny)


def prefill_lengths(generator: LocalGenerator) -> tuple[list[int], Any]:
    """The tokens each generation's first forward pass was given (its prefill)."""
    seen: list[int] = []
    state = {"first": True}

    def hook(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if state["first"]:
            seen.append(int(kwargs["input_ids"].shape[1]))
            state["first"] = False

    handle = generator.model.register_forward_pre_hook(hook, with_kwargs=True)
    return seen, (handle, state)


def test_replies_are_those_of_a_fresh_prefill(generator: LocalGenerator) -> None:
    fresh = []
    for prompt in TURNS:
        generator._kept = None
        fresh.append("".join(generator.stream(prompt, GREEDY)))
    generator._kept = None
    assert ["".join(generator.stream(p, GREEDY)) for p in TURNS] == fresh


def test_a_warm_turn_prefills_only_what_changed(generator: LocalGenerator) -> None:
    generator._kept = None
    seen, (handle, state) = prefill_lengths(generator)
    lengths = []
    try:
        for prompt in TURNS:
            lengths.append(len(generator._prompt_list(prompt, GREEDY.max_new_tokens)))
            state["first"] = True
            "".join(generator.stream(prompt, GREEDY))
    finally:
        handle.remove()
    head = len(generator._encode([{"role": "system", "content": SYSTEM}])) - 8
    assert head > MIN_SHARED_TOKENS
    assert seen[0] == lengths[0]  # nothing to reuse yet
    assert all(s < n - head for s, n in zip(seen[1:], lengths[1:], strict=True))
    assert seen[3] == 1  # the same prompt: only its last token is run again


def test_a_failed_reply_forgets_the_cache(
    generator: LocalGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    "".join(generator.stream(TURNS[0], GREEDY))
    assert generator._kept is not None

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("out of memory")

    model = generator.model
    monkeypatch.setattr(model, "generate", broken)
    with pytest.raises(Exception, match="generation failed"):
        "".join(generator.stream(TURNS[1], GREEDY))
    assert generator._kept is None


def test_the_next_process_starts_from_the_saved_prompt(
    generator: LocalGenerator, tmp_path: Path
) -> None:
    path = tmp_path / "prefix.safetensors"
    first = LocalGenerator(generator.model, generator.tokenizer, prefix_path=path)
    expected = ["".join(first.stream(p, GREEDY)) for p in TURNS[:2]]
    assert first._saved is not None
    first._saved.join()
    assert path.is_file()

    later = LocalGenerator(generator.model, generator.tokenizer, prefix_path=path)  # a new process
    seen, (handle, _state) = prefill_lengths(later)
    try:
        got = ["".join(later.stream(p, GREEDY)) for p in TURNS[:2]]
    finally:
        handle.remove()
    assert got == expected
    assert seen[0] < len(later._prompt_list(TURNS[0], GREEDY.max_new_tokens))

    path.write_bytes(b"damaged")  # as good as no file
    again = LocalGenerator(generator.model, generator.tokenizer, prefix_path=path)
    assert ["".join(again.stream(p, GREEDY)) for p in TURNS[:2]] == expected


def test_a_saved_prompt_is_kept_with_its_merged_model(generator: LocalGenerator) -> None:
    assert generator.prefix_path is not None
    entry = generator.prefix_path.parent  # the merged model's entry: pruned and keyed with it
    assert generator.prefix_path.name == "prefix.safetensors"
    assert entry.parent.name == "cache" and (entry / "model.safetensors").is_file()
