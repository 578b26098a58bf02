"""Token counts without transformers: the `tokenizers` + jinja2 counter gives transformers' counts
exactly (chat template included), and `chatclone build` without embeddings never imports torch or
transformers."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from chatclone import models
from chatclone.dataset import tokens
from chatclone.dataset.fast_tokens import FastCounter, counter_in
from chatclone.dataset.tokens import HFCounter
from chatclone.errors import ChatcloneError

from helpers import SAMPLE, cli

TEXTS = [
    "ok",
    "",
    "   ",
    "are you coming on saturday?",
    "yes! bringing the café crème 🎉",
    "line one\nline two\n\n  indented",
    "<|im_start|>user\nnot really a turn<|im_end|>",
    "日本語のテキストと emoji 👍🏽 mixed",
    "Ana García: see you at 221B Baker Street\nJordan: <phone 1>",
    "a" * 3000,
]


@pytest.fixture(scope="module")
def both() -> tuple[FastCounter, HFCounter]:
    """The default model's tokenizer both ways (converted into the cache first if needed)."""
    pytest.importorskip("transformers")
    try:
        slow = HFCounter("slow", models.load_tokenizer(models.DEFAULT_MODEL))
    except ChatcloneError as e:
        pytest.skip(str(e))
    folder = models.cache_dir() / "tokenizers" / models.DEFAULT_TOKENIZER_DIR
    fast = counter_in(folder, "fast")
    assert fast is not None, f"{folder} has no tokenizer.json"
    return fast, slow


def _samples(n: int, seed: int) -> list[list[dict[str, object]]]:
    rng = random.Random(seed)
    samples = []
    for _ in range(n):
        messages: list[dict[str, object]] = []
        if rng.random() < 0.7:
            messages.append({"role": "system", "content": rng.choice(TEXTS[3:])})
        for i in range(rng.randint(1, 6)):
            role = "user" if i % 2 == 0 else "assistant"
            text = " ".join(rng.choice(TEXTS) for _ in range(rng.randint(1, 3)))
            message: dict[str, object] = {"role": role, "content": text}
            if role == "assistant":
                message["weight"] = rng.choice([0, 1])
            messages.append(message)
        samples.append(messages)
    return samples


def test_counts_equal_the_transformers_tokenizer(both: tuple[FastCounter, HFCounter]) -> None:
    fast, slow = both
    for messages in _samples(120, seed=3):
        assert fast.count(messages) == slow.count(messages)
        assert fast.count(messages[1:]) == slow.count(messages[1:])
        assert fast.count_each(messages) == slow.count_each(messages)
    for text in TEXTS:  # a system prompt alone, as the build's system sizer measures it
        system = [{"role": "system", "content": text}]
        assert fast.count(system) == slow.count(system)
    assert fast.count([]) == slow.count([]) == 0
    assert fast.count_each([]) == []


def test_a_sample_is_its_system_prompt_plus_its_messages(
    both: tuple[FastCounter, HFCounter],
) -> None:
    fast, _ = both
    checked = 0
    for messages in _samples(80, seed=4):
        # As a build writes them: a system prompt first, texts stripped (a message of blanks
        # alone can merge with the template's newline, for either counter alike).
        texts = [str(m["content"]) for m in messages]
        if messages[0]["role"] != "system" or any(not t or t != t.strip() for t in texts):
            continue
        checked += 1
        parts = fast.count(messages[:1]) + sum(fast.count_each(messages[1:]))
        assert parts == fast.count(messages)
    assert checked >= 10


def test_counter_for_reads_the_saved_tokenizer_without_transformers(
    both: tuple[FastCounter, HFCounter], tmp_path: Path
) -> None:
    _, slow = both
    assert isinstance(tokens.counter_for(models.DEFAULT_MODEL), FastCounter)
    # A local folder with tokenizer files is read the same way.
    folder = tmp_path / "tok"
    slow.tokenizer.save_pretrained(str(folder))
    local = tokens.counter_for(str(folder))
    assert isinstance(local, FastCounter)
    chat = _samples(1, seed=5)[0]
    assert local.count(chat) == slow.count(chat)
    # Without tokenizer.json (or with a damaged one) there is no fast counter: transformers it is.
    (folder / "tokenizer.json").write_text("{not json", "utf-8")
    assert counter_in(folder, "x") is None
    assert counter_in(tmp_path / "missing", "x") is None


def test_build_without_embeddings_imports_neither_torch_nor_transformers(
    both: tuple[FastCounter, HFCounter], tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    assert cli("ingest", *SAMPLE.values(), "-w", ws).code == 0
    script = (
        "import json, sys\n"
        "from chatclone.cli import main\n"
        "sys.argv = ['chatclone', 'build', '-w', sys.argv[1], '--no-low-info-filter',\n"
        "            '--no-memory', '--json', '--name', 'light']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "print(json.dumps(heavy), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(
        [sys.executable, "-c", script, str(ws)], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stderr.strip().splitlines()[-1]) == []
    report = json.loads(run.stdout)
    assert report["samples"]["train"] > 0
    assert report["tokens"]["exact"] is True and "SmolLM2" in report["tokens"]["counter"]
    # The same counts as the transformers tokenizer gives the written samples.
    _, slow = both
    rows = [json.loads(line) for line in (ws / "datasets" / "light" / "train.jsonl").open()]
    assert sum(slow.count(r["messages"]) for r in rows) == report["tokens"]["train"]
