"""Not run itself: imported by benchmarks/train_throughput.py and benchmarks/gpu_train.py (as a
module beside them: a script's own folder is on `sys.path`).

The TRL side both compare chatclone against: TRL's `SFTTrainer` set up as they share it, one pass
with chatclone's default LoRA (r, alpha and dropout on every linear layer), learning rate, cosine
schedule, warm-up, AdamW and seed, nothing saved, logged or shown, and a collator wrapper that
counts what each batch computes on and trains on. The LoRA and the one-pass arguments are also
train_throughput's naive `transformers.Trainer`'s. For train_throughput's conversational dataset:
SmolLM2's chat template marked for `assistant_only_loss`, and the check that TRL's reply mask is
chatclone's in every sample.
"""

from __future__ import annotations

from typing import Any


def require_trl(missing: str) -> None:
    """Stop with `missing` (how to install TRL) where TRL cannot be imported."""
    try:
        from trl import SFTConfig, SFTTrainer  # noqa: F401
    except ImportError:
        raise SystemExit(missing) from None


def lora_config(settings: Any) -> Any:
    """chatclone's LoRA (`TrainSettings`) as peft's `LoraConfig`, on every linear layer."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def one_pass_arguments(settings: Any) -> dict[str, Any]:
    """The `TrainingArguments` (or `SFTConfig`) fields every baseline shares: one pass with
    chatclone's optimizer, schedule and seed (`TrainSettings`), nothing saved, logged or shown."""
    return {
        "num_train_epochs": 1,
        "learning_rate": settings.learning_rate,
        "lr_scheduler_type": "cosine",
        "warmup_steps": settings.warmup_ratio,  # below 1: a share of the steps
        "optim": "adamw_torch",  # torch.optim.AdamW, as chatclone uses
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "seed": settings.seed,
        "report_to": [],
        "save_strategy": "no",
        "logging_strategy": "no",
        "disable_tqdm": True,
        "dataloader_pin_memory": False,
    }


def sft_trainer(
    model: Any, rows: list[dict[str, Any]], tokenizer: Any, callbacks: Any = None, **arguments: Any
) -> tuple[Any, CountingCollator]:
    """TRL's `SFTTrainer` for one pass over `rows` with chatclone's LoRA and optimizer, its
    collator wrapped in a `CountingCollator`; `arguments` are the side's own `SFTConfig` fields
    (output folder, device, precision, batching). Call `require_trl` first."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from chatclone.config import TrainSettings

    s = TrainSettings()
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**one_pass_arguments(s), **arguments),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(s),
        callbacks=callbacks,
    )
    counted = CountingCollator(trainer.data_collator)
    trainer.data_collator = counted
    return trainer, counted


class CountingCollator:
    """Wraps a collator: counts the tokens each batch computes on (padding included) and the
    labelled positions after the shift (the tokens trained on), batch by batch."""

    def __init__(self, collate: Any) -> None:
        self.collate, self.padded = collate, 0
        self.trained: list[int] = []

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        batch = self.collate(features)
        self.padded += int(batch["input_ids"].numel())
        self.trained.append(int((batch["labels"][:, 1:] != -100).sum()))
        return batch


# --- train_throughput's conversational dataset ----------------------------------------------


def trl_training_template(template: str) -> str:
    """SmolLM2's ChatML template with TRL's `{% generation %}` markers around each reply the
    clone learns from (its text and `<|im_end|>`, as chatclone masks it; a reply with `"weight":
    0`, OpenAI's format for context-only replies, stays outside). TRL ships such training
    variants for the templates it knows (`trl/chat_templates/*_training.jinja`), not for
    SmolLM2's, so this is what a practitioner writes for `assistant_only_loss=True`."""
    turn = "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    if turn not in template:
        raise SystemExit("the default model's chat template changed: update trl_training_template")
    reply = (
        "{% if message['role'] == 'assistant' and message['weight'] != 0 %}"
        "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
        "{% endgeneration %}{{ '\n' }}{% else %}" + turn + "{% endif %}"
    )
    return template.replace(turn, reply)


def check_trl_masks(tokenizer: Any, chats: list[list[dict[str, Any]]], encoded: list[Any]) -> None:
    """TRL's assistant mask (what `assistant_only_loss` trains on, from the same call TRL makes)
    marks exactly the tokens chatclone's labels mark, in every sample."""
    from chatclone.train.data import IGNORE

    for number, (chat, sample) in enumerate(zip(chats, encoded, strict=True), 1):
        out = tokenizer.apply_chat_template(
            chat, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        mask = [int(label != IGNORE) for label in sample.labels]
        if list(out["input_ids"]) != sample.ids or list(out["assistant_masks"]) != mask:
            raise SystemExit(f"sample {number}: TRL's reply mask differs from chatclone's")
