"""The training loss: cross-entropy on the assistant's tokens only, summed (the caller divides by
the number of trained tokens in the whole optimizer step, so every token weighs the same however
the micro-batches fall).

The output head runs only at the positions that have a label. With replies a small share of each
conversation (system prompt and friends' messages are context), this skips most of the largest
matrix product of a small model; a model whose head does more than a linear layer (logit
soft-capping) or a DistributedDataParallel wrapper gets the plain full forward instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatclone.train.data import IGNORE, Batch


def assistant_loss_sum(model: Any, batch: Batch, device: str, selective: bool) -> Any:
    """Sum of the per-token losses over the batch's labelled tokens (a scalar tensor)."""
    import torch.nn.functional as F

    ids = batch.input_ids.to(device)
    mask = batch.attention_mask.to(device)
    targets = batch.labels.to(device)[:, 1:]
    keep = targets != IGNORE
    parts = _head_parts(model) if selective else None
    if parts is None:
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1]
        return F.cross_entropy(logits[keep].float(), targets[keep], reduction="sum")
    decoder, head = parts
    hidden = decoder(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    logits = head(hidden[:, :-1][keep])
    return F.cross_entropy(logits.float(), targets[keep], reduction="sum")


def validation_loss(model: Any, batches: Sequence[Batch], device: str) -> float:
    """Mean loss per assistant token over `batches`, without gradients and in eval mode (the
    model is left in eval mode): a trained model's validation loss, for the trainer and eval."""
    import torch

    model.eval()
    total = 0.0
    with torch.no_grad():
        for batch in batches:
            total += float(assistant_loss_sum(model, batch, device, selective=True))
    trained = sum(batch.trained for batch in batches)
    return total / max(trained, 1)


def _head_parts(model: Any) -> tuple[Any, Any] | None:
    """The transformer body and the output head of a causal LM (peft-wrapped or not), or None
    when the head is not a plain linear projection of the body's last hidden state."""
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(causal, "config", None)
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    try:
        decoder, head = causal.get_decoder(), causal.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None
    if decoder is None or head is None or decoder is causal:
        return None
    return decoder, head
