"""Cheap stand-ins for tests: a tiny randomly initialised causal LM built from a config (no
download, loads in milliseconds) and a fake generator that records every prompt."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from chatclone import models
from chatclone.chat.generation import GenerationSettings
from chatclone.prompt import ChatMessage


def tiny_model_dir(folder: Path, context: int = 4096) -> Path:
    """A 2-layer Llama (SmolLM2's architecture) with random weights and the default model's
    tokenizer, saved as a model folder that `models.load_causal_lm(str(folder))` loads."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = models.load_tokenizer("default")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


class FakeGenerator:
    """A generator that records every prompt and answers with fixed pieces."""

    def __init__(self, pieces: Sequence[str] = ("ok",)) -> None:
        self.pieces = list(pieces)
        self.prompts: list[list[dict[str, Any]]] = []

    def stream(
        self, messages: Sequence[ChatMessage], settings: GenerationSettings
    ) -> Iterator[str]:
        self.prompts.append([dict(m) for m in messages])
        yield from self.pieces
