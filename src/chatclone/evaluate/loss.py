"""Held-out loss: the mean negative log-likelihood per reply token of the person's real held-out
replies under a local model (the run, or the base model with no adapter).

The same masks and loss as training (`train.data`, `train.loss.validation_loss`): the replies'
tokens count, the prompt and the friends' messages are context, and context-only replies
(weight 0) carry no loss, so a run's figure here equals its validation loss at the end of
training. A remote model (OpenAI) gives no token probabilities: its loss is null.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatclone.dataset.report import VALID_FILE
from chatclone.models import context_length
from chatclone.train.data import collate, encode_file, group_by_tokens
from chatclone.train.loss import validation_loss

BATCH_TOKENS = 8192


def heldout_loss(generator: Any, dataset_dir: Path, max_tokens: int) -> dict[str, Any] | None:
    """`{"valid_nll", "tokens", "samples"}` for a generator holding a transformers model and its
    tokenizer (a local one), else None."""
    model, tokenizer = getattr(generator, "model", None), getattr(generator, "tokenizer", None)
    if model is None or tokenizer is None or not hasattr(model, "parameters"):
        return None
    window = min(max_tokens, context_length(model, tokenizer))
    samples, _ = encode_file(tokenizer, dataset_dir / VALID_FILE, window)
    if not samples:
        return None
    lengths = [len(s.ids) for s in samples]
    order = sorted(range(len(samples)), key=lengths.__getitem__)
    pad = tokenizer.pad_token_id if isinstance(tokenizer.pad_token_id, int) else 0
    batches = [
        collate([samples[i] for i in group], pad)
        for group in group_by_tokens(order, lengths, BATCH_TOKENS)
    ]
    device = str(next(model.parameters()).device)
    nll = validation_loss(model, batches, device)
    return {
        "valid_nll": round(nll, 4),
        "tokens": sum(b.trained for b in batches),
        "samples": len(samples),
    }
