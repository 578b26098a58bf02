"""The native path of a local chat (`chat/native_model.py`, `chat/native.py`): on CPU a cached
merge of a Llama runs without transformers, and gives what transformers gives: the same logits
to float32 rounding, the same prompt ids, the same tokens greedy and sampled, the same pieces of
text, the same reuse of the prompt's cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatclone.chat import merged, native
from chatclone.chat.generation import GenerationSettings, GeneratorSpec
from chatclone.chat.local import LocalGenerator, NativeGenerator
from chatclone.chat.native_model import NativeLlama, read_config
from chatclone.prompt import ChatMessage
from chatclone.train import runs
from test_chat import make_run
from tiny import tiny_model_dir

GREEDY = GenerationSettings(max_new_tokens=24, temperature=0.0)
SAMPLED = [
    GenerationSettings(max_new_tokens=24, temperature=0.9, seed=seed, top_p=top_p)
    for seed, top_p in ((1, 0.9), (7, 1.0), (42, 0.5))
]
SYSTEM = "You are Sam Rivera, texting on WhatsApp in a chat with a friend. " * 3
PROMPTS: list[list[ChatMessage]] = [
    [{"role": "system", "content": f"{SYSTEM}\n\n{memory}"}, {"role": "user", "content": text}]
    for memory, text in (
        ("Facts: - a cat", "are you free saturday?"),
        ("Facts: - a cat, Biscuit", "how is biscuit? 猫 ça va?"),
        ("Past messages: lisbon", "lisbon when?\n\nreally"),
    )
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A chatclone cache of its own: the merged tiny models go to cache/merged."""
    root = tmp_path_factory.mktemp("native-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(merged, "cache_root", lambda: root / merged.MERGED_DIR)
        yield root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_model_dir(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, tiny: str) -> Path:
    return make_run(tmp_path_factory.mktemp("native") / "ws", "r1", tiny)


@pytest.fixture(scope="module")
def pair(run_dir: Path, tiny: str, cache: Path) -> tuple[LocalGenerator, NativeGenerator]:
    """The run on transformers (which merges it into the cache) and on the native path."""
    hf = LocalGenerator.load(run_dir, tiny)  # nothing cached yet: transformers merges
    assert not isinstance(hf, NativeGenerator)
    fast = LocalGenerator.load(run_dir, tiny)
    assert isinstance(fast, NativeGenerator)
    return hf, fast


def fresh(generator: LocalGenerator) -> LocalGenerator:
    """The generator with no kept cache and no file to read or write one."""
    generator._kept, generator.prefix_path = None, None
    return generator


def tiny_llama(folder: Path, **config: Any) -> Path:
    """A random Llama saved as safetensors, with `config` over the tiny defaults."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    settings: dict[str, Any] = dict(
        vocab_size=300,
        hidden_size=48,
        intermediate_size=80,
        num_hidden_layers=3,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rope_theta=12345.0,
        rms_norm_eps=1e-5,
    )
    settings.update(config)
    torch.manual_seed(1)
    model = LlamaForCausalLM(LlamaConfig(**settings))
    with torch.no_grad():  # norms away from 1, so that a missing weight shows
        for name, param in model.named_parameters():
            if "norm" in name:
                param.uniform_(0.5, 1.5)
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.mark.parametrize(
    "config",
    [
        {"tie_word_embeddings": True},
        {"tie_word_embeddings": False, "attention_bias": True, "mlp_bias": True},
        {"num_key_value_heads": 6, "head_dim": 16},
    ],
    ids=["tied", "untied-with-biases", "no-grouping"],
)
def test_logits_match_transformers(tmp_path: Path, config: dict[str, Any]) -> None:
    import torch
    from transformers import LlamaForCausalLM

    folder = tiny_llama(tmp_path / "m", **config)
    reference = LlamaForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    model = NativeLlama.load(folder)
    assert model is not None
    ids = torch.randint(0, 300, (1, 40), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = reference(input_ids=ids).logits
        whole = model.forward(ids, model.new_cache())
        # 30 tokens, then 9 at once after them, then one: each reads the cache of the others
        cache = model.new_cache()
        model.forward(ids[:, :30], cache)
        after = model.forward(ids[:, 30:39], cache)
        last = model.forward(ids[:, 39:], cache)
    torch.testing.assert_close(whole, expected[:, -1], rtol=0, atol=1e-5)
    torch.testing.assert_close(after, expected[:, 38], rtol=0, atol=1e-5)
    torch.testing.assert_close(last, expected[:, -1], rtol=0, atol=1e-5)
    assert cache.get_seq_length() == 40


@pytest.mark.parametrize(
    "change",
    [
        {"model_type": "mistral"},
        {"rope_parameters": {"rope_theta": 1e4, "rope_type": "linear", "factor": 2.0}},
        {"rope_parameters": None, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}},
        {"hidden_act": "gelu"},
    ],
)
def test_what_the_decoder_does_not_compute_is_left_to_transformers(
    tmp_path: Path, change: dict[str, Any]
) -> None:
    folder = tiny_llama(tmp_path / "m")
    assert read_config(folder) is not None
    config = json.loads((folder / "config.json").read_text())
    config.update(change)
    (folder / "config.json").write_text(json.dumps(config))
    assert read_config(folder) is None
    assert NativeLlama.load(folder) is None


def test_rope_theta_of_either_config_format(tmp_path: Path) -> None:
    folder = tiny_llama(tmp_path / "m")
    config = read_config(folder)
    assert config is not None and config.rope_theta == 12345.0
    data = json.loads((folder / "config.json").read_text())
    data.pop("rope_parameters", None)
    data.update(rope_theta=777.0, rope_scaling=None)  # transformers 4's spelling
    (folder / "config.json").write_text(json.dumps(data))
    config = read_config(folder)
    assert config is not None and config.rope_theta == 777.0


def test_prompt_ids_and_decoding_match_transformers(
    pair: tuple[LocalGenerator, NativeGenerator],
) -> None:
    hf, fast = pair
    for prompt in PROMPTS:
        ids = fast._prompt_list(prompt, 8)
        assert ids == hf._prompt_list(prompt, 8)
        assert fast.tokenizer.decode(ids, skip_special_tokens=True) == hf.tokenizer.decode(
            ids, skip_special_tokens=True
        )
    assert fast.stop_ids == hf.stop_ids
    assert fast.tokenizer.pad_token_id == hf.tokenizer.pad_token_id


def test_greedy_and_sampled_replies_match_transformers(
    pair: tuple[LocalGenerator, NativeGenerator],
) -> None:
    hf, fast = fresh(pair[0]), fresh(pair[1])
    for settings in [GREEDY, *SAMPLED]:
        for prompt in PROMPTS:
            hf._kept = fast._kept = None
            expected = list(hf.stream(prompt, settings))
            got = list(fast.stream(prompt, settings))
            assert got == expected  # the same pieces, so the same text
            assert fast.last_counts == hf.last_counts


def test_a_reply_cut_by_max_new_tokens_is_counted_as_cut(
    pair: tuple[LocalGenerator, NativeGenerator],
) -> None:
    hf, fast = fresh(pair[0]), fresh(pair[1])
    short = GenerationSettings(max_new_tokens=3, temperature=0.0)
    assert list(fast.stream(PROMPTS[0], short)) == list(hf.stream(PROMPTS[0], short))
    assert fast.last_counts == hf.last_counts
    assert fast.last_counts is not None and fast.last_counts.completion_tokens == 3


def test_unseeded_replies_leave_the_random_state_alone(
    pair: tuple[LocalGenerator, NativeGenerator],
) -> None:
    import torch

    fast = fresh(pair[1])
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    "".join(fast.stream(PROMPTS[0], GenerationSettings(max_new_tokens=8, temperature=0.9)))
    assert torch.equal(torch.random.get_rng_state(), state)


def forward_lengths(generator: NativeGenerator, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tokens of every forward pass the generator runs from now on."""
    seen: list[int] = []
    forward = generator.model.forward

    def counted(ids: Any, cache: Any) -> Any:
        seen.append(int(ids.shape[1]))
        return forward(ids, cache)

    monkeypatch.setattr(generator.model, "forward", counted)
    return seen


def test_a_warm_turn_prefills_only_what_changed(
    pair: tuple[LocalGenerator, NativeGenerator], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = fresh(pair[1])
    expected = []
    for prompt in PROMPTS:
        fast._kept = None
        expected.append("".join(fast.stream(prompt, GREEDY)))
    fast._kept = None
    seen = forward_lengths(fast, monkeypatch)
    got, prefills = [], []
    for prompt in [*PROMPTS, PROMPTS[-1]]:
        before = len(seen)
        got.append("".join(fast.stream(prompt, GREEDY)))
        prefills.append(seen[before])
    assert got == [*expected, expected[-1]]
    lengths = [len(fast._prompt_list(p, GREEDY.max_new_tokens)) for p in PROMPTS]
    assert prefills[0] == lengths[0]
    head = len(fast._encode([{"role": "system", "content": SYSTEM}])) - 8
    assert all(p < n - head for p, n in zip(prefills[1:3], lengths[1:], strict=True))
    assert prefills[3] == 1  # the same prompt again: only its last token


def test_the_saved_prompt_cache_is_read_by_either_path(
    pair: tuple[LocalGenerator, NativeGenerator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The next process starts from the file the last one wrote, whichever path wrote it."""
    hf, fast = pair
    writers = [
        NativeGenerator(fast.model, fast.tokenizer, fast.top_k, prefix_path=tmp_path / "a"),
        LocalGenerator(hf.model, hf.tokenizer, prefix_path=tmp_path / "b"),
    ]
    expected = "".join(fresh(fast).stream(PROMPTS[1], GREEDY))
    for first in writers:
        assert first.prefix_path is not None
        "".join(first.stream(PROMPTS[0], GREEDY))
        assert first._saved is not None
        first._saved.join()
        later = NativeGenerator(
            fast.model, fast.tokenizer, fast.top_k, prefix_path=first.prefix_path
        )
        seen = forward_lengths(later, monkeypatch)
        assert "".join(later.stream(PROMPTS[1], GREEDY)) == expected
        assert seen[0] < len(later._prompt_list(PROMPTS[1], GREEDY.max_new_tokens))
        monkeypatch.undo()
        first.prefix_path.write_bytes(b"damaged")  # as good as no file
        again = NativeGenerator(
            fast.model, fast.tokenizer, fast.top_k, prefix_path=first.prefix_path
        )
        assert "".join(again.stream(PROMPTS[1], GREEDY)) == expected


def test_a_failed_step_forgets_the_cache(
    pair: tuple[LocalGenerator, NativeGenerator], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = fresh(pair[1])
    "".join(fast.stream(PROMPTS[0], GREEDY))
    assert fast._kept is not None

    def broken(*args: Any) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(fast.model, "forward", broken)
    with pytest.raises(Exception, match="generation failed"):
        "".join(fast.stream(PROMPTS[1], GREEDY))
    assert fast._kept is None


def test_ctrl_c_inside_a_step_forgets_the_cache(
    pair: tuple[LocalGenerator, NativeGenerator], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = fresh(pair[1])
    "".join(fast.stream(PROMPTS[0], GREEDY))

    def interrupted(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fast.model, "forward", interrupted)
    with pytest.raises(KeyboardInterrupt):
        "".join(fast.stream(PROMPTS[1], GREEDY))
    assert fast._kept is None and not fast._busy.locked()


def test_a_reader_that_stops_early_ends_the_reply(
    pair: tuple[LocalGenerator, NativeGenerator],
) -> None:
    fast = fresh(pair[1])
    pieces = fast.stream(PROMPTS[0], GREEDY)
    next(pieces)
    pieces.close()  # Ctrl-C, a closed page
    assert fast.last_counts is not None and fast.last_counts.completion_tokens >= 1
    assert not fast._busy.locked()


def test_batches_go_to_transformers(pair: tuple[LocalGenerator, NativeGenerator]) -> None:
    hf, fast = pair
    assert fast.generate_batch(PROMPTS, GREEDY) == hf.generate_batch(PROMPTS, GREEDY)
    assert fast._batched is not None and not isinstance(fast._batched, NativeGenerator)


def test_eval_loads_a_run_on_transformers(
    pair: tuple[LocalGenerator, NativeGenerator], run_dir: Path, tiny: str
) -> None:
    """Eval batches its prompts and scores the held-out replies with the model itself: its spec
    asks for transformers even where the merge is cached (a chat's does not)."""
    assert isinstance(LocalGenerator.from_spec(GeneratorSpec(tiny, run_dir)), NativeGenerator)
    for_eval = LocalGenerator.from_spec(GeneratorSpec(tiny, run_dir, batches=True))
    assert not isinstance(for_eval, NativeGenerator)
    assert hasattr(for_eval.tokenizer, "apply_chat_template") and hasattr(for_eval.model, "config")


def test_the_environment_can_turn_it_off(
    pair: tuple[LocalGenerator, NativeGenerator],
    run_dir: Path,
    tiny: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(native.ENV_VAR, "0")
    assert not isinstance(LocalGenerator.load(run_dir, tiny), NativeGenerator)
    monkeypatch.setenv(native.ENV_VAR, "1")
    assert isinstance(LocalGenerator.load(run_dir, tiny), NativeGenerator)


def test_a_generation_config_it_does_not_follow_is_left_to_transformers(tmp_path: Path) -> None:
    assert native.top_k_of(tmp_path) == native.DEFAULT_TOP_K  # no generation config
    (tmp_path / native.GENERATION_CONFIG).write_text(json.dumps({"top_k": 20, "eos_token_id": 2}))
    assert native.top_k_of(tmp_path) == 20
    (tmp_path / native.GENERATION_CONFIG).write_text(json.dumps({"min_p": 0.1}))
    assert native.top_k_of(tmp_path) is None


def test_the_native_path_never_imports_transformers(
    pair: tuple[LocalGenerator, NativeGenerator], run_dir: Path, tiny: str, cache: Path
) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from chatclone.chat.generation import GenerationSettings\n"
        "from chatclone.chat.local import LocalGenerator\n"
        f"g = LocalGenerator.load(Path({str(run_dir)!r}), {tiny!r})\n"
        "m = [{'role': 'system', 'content': 'hi'}, {'role': 'user', 'content': 'yo'}]\n"
        "print(type(g).__name__, repr(''.join(g.stream(m, GenerationSettings(8, 0.0)))))\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('transformers', 'peft')))\n"
    )
    env = {**os.environ, "CHATCLONE_CACHE": str(cache), native.ENV_VAR: "1"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    ).stdout.splitlines()
    said: list[ChatMessage] = [
        {"role": "system", "content": "hi"},
        {"role": "user", "content": "yo"},
    ]
    expected = "".join(fresh(pair[1]).stream(said, GenerationSettings(8, 0.0)))
    assert out == [f"NativeGenerator {expected!r}", "[]"]
    assert runs.run_tokenizer_dir(run_dir, tiny) == run_dir / runs.TOKENIZER_DIR
