"""The local backend's data path: assistant-only masks, length-grouped batches, the schedule,
and the loss that ignores everything but the replies."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from chatclone.models import load_tokenizer
from chatclone.train.data import (
    IGNORE,
    Encoded,
    collate,
    encode_conversation,
    length_grouped_batches,
)
from chatclone.train.loss import assistant_loss_sum
from chatclone.train.trainer import _lr_factor

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are Sam Rivera, texting on WhatsApp."},
    {"role": "user", "content": "are you coming to nana's 80th?"},
    {"role": "assistant", "content": "obviously\ntrain down that morning", "weight": 1},
    {"role": "user", "content": "bring biscuit"},
    {"role": "assistant", "content": "lol", "weight": 0},
    {"role": "user", "content": "seriously though"},
    {"role": "assistant", "content": "cats hate trains", "weight": 1},
]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return load_tokenizer("default")


def trained_text(tokenizer: Any, sample: Encoded) -> list[str]:
    """The stretches of text that carry a loss, in order."""
    runs: list[list[int]] = []
    previous = False
    for token, label in zip(sample.ids, sample.labels, strict=True):
        if label != IGNORE:
            if not previous:
                runs.append([])
            runs[-1].append(token)
        previous = label != IGNORE
    return [tokenizer.decode(r) for r in runs]


def test_only_weighted_replies_and_their_end_token_carry_loss(tokenizer: Any) -> None:
    sample = encode_conversation(tokenizer, CONVERSATION)
    text = tokenizer.apply_chat_template(
        [{"role": m["role"], "content": m["content"]} for m in CONVERSATION], tokenize=False
    )
    assert sample.ids == tokenizer(text, add_special_tokens=False)["input_ids"]
    assert trained_text(tokenizer, sample) == [
        "obviously\ntrain down that morning<|im_end|>",
        "cats hate trains<|im_end|>",
    ]  # not the system prompt, the user turns, the role headers, nor the weight-0 "lol"
    assert all(
        label in (IGNORE, token) for token, label in zip(sample.ids, sample.labels, strict=True)
    )


def test_user_tokens_carry_no_loss(tokenizer: Any) -> None:
    """Garbage logits at every position that predicts a user or system token leave the loss
    exactly as it is; changing one logit that predicts a reply token changes it."""
    sample = encode_conversation(tokenizer, CONVERSATION)
    batch = collate([sample], tokenizer.pad_token_id)
    vocab = len(tokenizer)
    torch.manual_seed(0)
    logits = torch.randn(1, len(sample.ids), vocab)
    predicts_reply = torch.tensor([label != IGNORE for label in sample.labels[1:]] + [False])

    class Fixed(torch.nn.Module):
        def __init__(self, values: torch.Tensor) -> None:
            super().__init__()
            self.values = values

        def forward(self, **_: Any) -> Any:
            return type("Out", (), {"logits": self.values})()

    base = float(assistant_loss_sum(Fixed(logits), batch, "cpu", selective=False))
    scrambled = logits.clone()
    scrambled[0, ~predicts_reply] = torch.randn(int((~predicts_reply).sum()), vocab) * 50
    assert float(assistant_loss_sum(Fixed(scrambled), batch, "cpu", selective=False)) == base
    nudged = logits.clone()
    first = int(predicts_reply.nonzero()[0])
    nudged[0, first] += torch.randn(vocab) * 5
    assert float(assistant_loss_sum(Fixed(nudged), batch, "cpu", selective=False)) != base


def test_a_template_that_rewrites_history_is_refused(tokenizer: Any) -> None:
    class Rewriting:
        def apply_chat_template(
            self, chat: Any, tokenize: bool, add_generation_prompt: bool = False
        ) -> str:
            # Like templates that drop earlier turns' reasoning: the whole is not prefix-stable.
            return "".join(
                f"<{m['role']}>{m['content'][: 3 if len(chat) > 3 else None]}" for m in chat
            )

    from chatclone.errors import ChatcloneError

    with pytest.raises(ChatcloneError, match="cannot be masked"):
        encode_conversation(Rewriting(), CONVERSATION)


def test_batches_cover_every_sample_once_within_the_budget() -> None:
    lengths = [17, 900, 33, 250, 251, 1200, 64, 64, 64, 5, 700, 300] * 5
    batches = length_grouped_batches(lengths, 1024, seed=3, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        padded = max(lengths[i] for i in batch) * len(batch)
        assert padded <= 1024 or len(batch) == 1  # a sample over the budget goes alone
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert padded / sum(lengths) < 1.1  # similar lengths together: little padding


def test_batches_depend_only_on_seed_and_epoch() -> None:
    lengths = list(range(10, 400, 7))
    first = length_grouped_batches(lengths, 800, seed=1, epoch=0)
    assert first == length_grouped_batches(lengths, 800, seed=1, epoch=0)
    assert first != length_grouped_batches(lengths, 800, seed=1, epoch=1)
    assert len(first) == len(length_grouped_batches(lengths, 800, seed=9, epoch=4))


def test_collate_pads_without_attention_or_loss() -> None:
    batch = collate([Encoded([5, 6, 7], [IGNORE, 6, 7]), Encoded([8], [8])], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch.labels.tolist() == [[IGNORE, 6, 7], [8, IGNORE, IGNORE]]
    assert (batch.tokens, batch.trained) == (4, 3)


def test_learning_rate_warms_up_then_decays_to_zero() -> None:
    factors = [_lr_factor(step, 10, 100) for step in range(100)]
    assert factors[:10] == sorted(factors[:10]) and factors[0] < 0.2
    assert max(factors) == pytest.approx(1.0)
    assert factors[10:] == sorted(factors[10:], reverse=True)
    assert _lr_factor(100, 10, 100) == pytest.approx(0.0, abs=1e-9)
    assert _lr_factor(55, 10, 100) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


def test_gradient_checkpointing_works_on_the_cpu_with_the_same_gradients() -> None:
    """Recomputing activations saves memory without changing what is learned; QLoRA alone stays
    CUDA-only."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from chatclone.config import TrainSettings
    from chatclone.errors import ChatcloneError
    from chatclone.train import hardware

    cpu = hardware.Hardware("cpu", "float32")
    with pytest.raises(ChatcloneError, match="qlora needs a CUDA GPU"):
        hardware.check_settings(cpu, TrainSettings(qlora=True))
    batch = collate([Encoded([5, 6, 7, 8, 9, 10], [-100, -100, -100, 8, 9, 10])], 0)
    grads = []
    for checkpointing in (False, True):
        settings = TrainSettings(gradient_checkpointing=checkpointing, lora_dropout=0.0)
        hardware.check_settings(cpu, settings)
        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=32,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
        )
        model = hardware.prepare_model(LlamaForCausalLM(config), cpu, settings)
        assert model.is_gradient_checkpointing == checkpointing
        lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
        model = get_peft_model(model, lora)
        model.train()
        assistant_loss_sum(model, batch, "cpu", selective=True).backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.requires_grad])
    assert grads[0] and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads, strict=True))
