"""The merged-model cache of a local run (`chat/merged.py`): the clone answers exactly as with
peft's adapter, later processes load the cached merge, and a changed adapter or base never reads
a stale entry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatclone.chat import merged
from chatclone.chat.generation import GenerationSettings
from chatclone.chat.local import LocalGenerator
from chatclone.prompt import ChatMessage
from chatclone.train import runs
from test_chat import make_run
from tiny import tiny_model_dir

RUN = "clone1"
GREEDY = GenerationSettings(max_new_tokens=24, temperature=0.0)
PROMPTS: list[list[ChatMessage]] = [
    [{"role": "system", "content": "You are Sam."}, {"role": "user", "content": text}]
    for text in ("are you free saturday?", "how is biscuit?", "lisbon when?", "[new conversation]")
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_model_dir(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, tiny: str) -> Path:
    return make_run(tmp_path_factory.mktemp("merged") / "ws", RUN, tiny)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "merged-cache"
    monkeypatch.setattr(merged, "cache_root", lambda: root)
    return root


def replies(generator: LocalGenerator) -> list[str]:
    return ["".join(generator.stream(p, GREEDY)) for p in PROMPTS]


def test_merged_model_answers_as_the_adapter_does(run_dir: Path, tiny: str, cache: Path) -> None:
    import torch

    adapter = runs.load_adapter_model(run_dir, tiny, torch.float32).eval()
    with_peft = LocalGenerator(adapter, runs.load_run_tokenizer(run_dir, tiny))
    generator = LocalGenerator.load(run_dir, tiny)
    assert not hasattr(generator.model, "get_base_model")  # merged: no peft wrapper
    assert replies(generator) == replies(with_peft)
    ids = torch.tensor([generator._prompt_list(PROMPTS[0], 8)])
    with torch.inference_mode():
        got, expected = generator.model(input_ids=ids).logits, adapter(input_ids=ids).logits
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)
    base = LocalGenerator.load_base(tiny)  # the adapter is really in the merged weights
    assert replies(base) != replies(generator)


def test_a_second_load_reads_the_cache_without_merging(
    run_dir: Path, tiny: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = replies(LocalGenerator.load(run_dir, tiny))
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
    assert (entries[0] / "model.safetensors").is_file()
    assert entries[0].name == merged.merge_key(run_dir / runs.ADAPTER_DIR, tiny)

    def no_merge(*args: object) -> None:
        raise AssertionError("merged again although the cache holds this adapter")

    monkeypatch.setattr(merged, "merge", no_merge)
    assert replies(LocalGenerator.load(run_dir, tiny)) == first


def test_a_changed_adapter_or_base_gets_a_new_key(run_dir: Path, tiny: str, tmp_path: Path) -> None:
    import shutil

    adapter = tmp_path / "adapter"
    shutil.copytree(run_dir / runs.ADAPTER_DIR, adapter)
    key = merged.merge_key(adapter, tiny)
    assert merged.merge_key(adapter, tiny) == key  # stable
    weights = adapter / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    assert merged.merge_key(adapter, tiny) != key

    base = tmp_path / "base"
    shutil.copytree(tiny, base)
    key = merged.merge_key(adapter, str(base))
    for weight in base.glob("*.safetensors"):  # retrained or replaced in place
        stat = weight.stat()
        os.utime(weight, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert merged.merge_key(adapter, str(base)) != key


def test_a_damaged_entry_is_merged_again(run_dir: Path, tiny: str, cache: Path) -> None:
    expected = replies(LocalGenerator.load(run_dir, tiny))
    (entry,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    (entry / "model.safetensors").write_bytes(b"not a safetensors file")
    assert replies(LocalGenerator.load(run_dir, tiny)) == expected
    assert (entry / "model.safetensors").stat().st_size > 1000


def test_an_unwritable_cache_still_chats(
    run_dir: Path, tiny: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("the cache folder cannot be made under a file")
    monkeypatch.setattr(merged, "cache_root", lambda: blocked / "merged")
    assert replies(LocalGenerator.load(run_dir, tiny))


def test_prune_keeps_the_most_recent_within_the_budget(tmp_path: Path) -> None:
    def entry(n: int, size: int, age: int) -> Path:
        path = tmp_path / f"{n:064x}"
        path.mkdir()
        (path / "model.safetensors").write_bytes(b"\0" * size)
        os.utime(path, (1_000_000 - age, 1_000_000 - age))
        return path

    newest, middle, oldest = entry(1, 600, 0), entry(2, 300, 10), entry(3, 300, 20)
    stale_tmp = tmp_path / ".abc.123"
    stale_tmp.mkdir()
    os.utime(stale_tmp, (0, 0))
    removed = merged.prune(tmp_path, budget=1000)
    assert set(removed) == {oldest, stale_tmp}
    assert newest.is_dir() and middle.is_dir() and not oldest.exists()
    assert merged.prune(tmp_path, budget=10) == [middle]  # the newest stays, whatever its size
    assert newest.is_dir()
