"""A BERT encoder in plain torch: what the default embedder (all-MiniLM-L6-v2) runs on, without
importing transformers, whose import alone cost a chat about four seconds before its first word.

It runs the same operations as transformers' `BertModel` with its default (`sdpa`) attention, in
the same order and on tensors of the same layout, so its vectors are transformers' to the last bit
(`tests/test_memory_embedder.py`): word, position and token-type embeddings summed and normalized;
per layer, scaled dot-product attention under a padding mask, a residual and a layer norm, a GELU
feed-forward block, a residual and a layer norm. Dropout is off (inference).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class BertShape:
    """The `config.json` fields the encoder needs."""

    layers: int
    heads: int
    hidden: int
    eps: float

    @classmethod
    def read(cls, folder: Path) -> BertShape | None:
        """The shape of the BERT saved in `folder`, or None when it is not one this encoder runs
        (another architecture, activation or position scheme)."""
        try:
            config = json.loads((folder / "config.json").read_text("utf-8"))
            if (
                config.get("model_type") != "bert"
                or config.get("hidden_act", "gelu") != "gelu"
                or config.get("position_embedding_type", "absolute") != "absolute"
                or config["hidden_size"] % config["num_attention_heads"]
            ):
                return None
            return cls(
                int(config["num_hidden_layers"]),
                int(config["num_attention_heads"]),
                int(config["hidden_size"]),
                float(config.get("layer_norm_eps", 1e-12)),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


class BertEncoder:
    """The token vectors of a BERT's last layer, as `BertModel(...)[0]` gives them."""

    def __init__(self, shape: BertShape, weights: dict[str, Any]) -> None:
        self.shape = shape
        self.w = weights
        self.head_size = shape.hidden // shape.heads
        self.scaling = self.head_size**-0.5

    @classmethod
    def load(cls, folder: Path) -> BertEncoder | None:
        """The BERT in `folder` (its `config.json` and `model.safetensors`), or None when it is
        not one this encoder runs or its weights are incomplete."""
        from safetensors.torch import load_file

        shape = BertShape.read(folder)
        if shape is None or not (folder / WEIGHTS_FILE).is_file():
            return None
        weights = load_file(str(folder / WEIGHTS_FILE))
        weights = {k.removeprefix("bert."): v for k, v in weights.items()}
        encoder = cls(shape, weights)
        return encoder if all(name in weights for name in encoder.needed()) else None

    def needed(self) -> list[str]:
        names = [
            f"embeddings.{part}.weight"
            for part in ("word_embeddings", "position_embeddings", "token_type_embeddings")
        ]
        names += ["embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
        for i in range(self.shape.layers):
            for part in (
                "attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                "output.dense", "output.LayerNorm",
            ):  # fmt: skip
                names += [f"encoder.layer.{i}.{part}.weight", f"encoder.layer.{i}.{part}.bias"]
        return names

    def __call__(self, ids: Any, mask: Any, types: Any) -> Any:
        """Token vectors (batch, length, hidden) of `ids` with attention `mask` (1: a token, 0:
        padding) and token `types`."""
        import torch
        import torch.nn.functional as F

        w, eps = self.w, self.shape.eps
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        h = F.embedding(ids, w["embeddings.word_embeddings.weight"])
        h = h + F.embedding(types, w["embeddings.token_type_embeddings.weight"])
        h = h + F.embedding(positions, w["embeddings.position_embeddings.weight"])
        h = self._norm(h, "embeddings.LayerNorm", eps)
        # As transformers passes it to sdpa: none when nothing is padding, else a boolean mask of
        # (batch, 1, queries, keys), every query row the keys' padding mask.
        keep = mask.bool()
        attend = (
            None
            if bool(keep.all())
            else keep[:, None, None, :]
            .expand(keep.shape[0], 1, keep.shape[1], keep.shape[1])
            .contiguous()
        )
        for i in range(self.shape.layers):
            h = self._layer(h, attend, f"encoder.layer.{i}.")
        return h

    def _layer(self, h: Any, attend: Any, at: str) -> Any:
        import torch.nn.functional as F

        eps = self.shape.eps
        batch, length = h.shape[:2]
        split = (batch, length, -1, self.head_size)
        q = self._linear(h, at + "attention.self.query").view(split).transpose(1, 2)
        k = self._linear(h, at + "attention.self.key").view(split).transpose(1, 2)
        v = self._linear(h, at + "attention.self.value").view(split).transpose(1, 2)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attend, dropout_p=0.0, scale=self.scaling, is_causal=False
        )
        a = a.transpose(1, 2).contiguous().reshape(batch, length, -1).contiguous()
        a = self._linear(a, at + "attention.output.dense") + h
        a = self._norm(a, at + "attention.output.LayerNorm", eps)
        up = F.gelu(self._linear(a, at + "intermediate.dense"))
        return self._norm(self._linear(up, at + "output.dense") + a, at + "output.LayerNorm", eps)

    def _linear(self, x: Any, name: str) -> Any:
        import torch.nn.functional as F

        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def _norm(self, x: Any, name: str, eps: float) -> Any:
        import torch.nn.functional as F

        return F.layer_norm(
            x, (x.shape[-1],), self.w[name + ".weight"], self.w[name + ".bias"], eps
        )
