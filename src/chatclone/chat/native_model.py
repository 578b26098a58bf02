"""A Llama decoder in plain torch, read from a model folder's config.json and safetensors: what
a chat on CPU runs instead of transformers' `LlamaForCausalLM` (issue 14).

Importing transformers' Llama costs seconds before any weight is read (it pulls in
torch.distributed, torch._dynamo, sympy…); this module needs torch and `safetensors` only. It
computes what transformers computes, operation for operation (RMSNorm in float32, rotary
embeddings from `rope_theta`, grouped-query attention through `scaled_dot_product_attention`, a
SiLU MLP, a tied or untied head), so its logits match to float32 rounding
(tests/test_chat_native.py).

`read_config(folder)` says whether a folder is such a model; anything it does not know (another
architecture, scaled rotary embeddings, an activation other than SiLU) is None, and the caller
uses transformers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"


@dataclass(frozen=True)
class LlamaConfig:
    """What the decoder needs from config.json; `max_position_embeddings` and
    `num_hidden_layers` under transformers' names (`models.context_length` and `prefix.py` read
    them)."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    max_position_embeddings: int
    tie_word_embeddings: bool
    attention_bias: bool
    mlp_bias: bool


def read_config(folder: Path) -> LlamaConfig | None:
    """The folder's Llama config, or None when it is not a Llama this decoder computes exactly
    (or has no safetensors weights)."""
    try:
        data = json.loads((folder / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("model_type") != "llama":
        return None
    if not ((folder / WEIGHTS_FILE).is_file() or (folder / WEIGHTS_INDEX).is_file()):
        return None
    theta = _rope_theta(data)
    if theta is None or data.get("hidden_act", "silu") != "silu":
        return None
    if data.get("pretraining_tp", 1) != 1:
        return None
    try:
        heads = int(data["num_attention_heads"])
        hidden = int(data["hidden_size"])
        return LlamaConfig(
            vocab_size=int(data["vocab_size"]),
            hidden_size=hidden,
            intermediate_size=int(data["intermediate_size"]),
            num_hidden_layers=int(data["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=int(data.get("num_key_value_heads") or heads),
            head_dim=int(data.get("head_dim") or hidden // heads),
            rms_norm_eps=float(data.get("rms_norm_eps", 1e-6)),
            rope_theta=theta,
            max_position_embeddings=int(data.get("max_position_embeddings", 2048)),
            tie_word_embeddings=bool(data.get("tie_word_embeddings", False)),
            attention_bias=bool(data.get("attention_bias", False)),
            mlp_bias=bool(data.get("mlp_bias", False)),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _rope_theta(data: dict[str, Any]) -> float | None:
    """The rotary base of plain (unscaled) rotary embeddings: `rope_parameters` in transformers
    5, `rope_theta` and a null `rope_scaling` before. Any scaling (linear, dynamic, llama3,
    yarn…) is None: transformers computes those."""
    params = data.get("rope_parameters")
    if isinstance(params, dict):
        if params.get("rope_type", "default") != "default":
            return None
        theta = params.get("rope_theta", data.get("rope_theta", 10000.0))
    else:
        scaling = data.get("rope_scaling")
        if scaling is not None and (
            not isinstance(scaling, dict)
            or scaling.get("rope_type", scaling.get("type", "default")) != "default"
        ):
            return None
        theta = data.get("rope_theta", 10000.0)
    return float(theta) if isinstance(theta, int | float) else None


class KVCache:
    """Each layer's keys (after the rotary embedding) and values, (1, kv_heads, positions,
    head_dim) in float32: the layout of transformers' cache, so `prefix.py` saves and loads both
    alike (`key_cache` and `value_cache` are the names it reads)."""

    def __init__(self, layers: int) -> None:
        self.key_cache: list[Any] = [None] * layers
        self.value_cache: list[Any] = [None] * layers

    def get_seq_length(self) -> int:
        keys = self.key_cache[0]
        return 0 if keys is None else int(keys.shape[-2])

    def crop(self, length: int) -> None:
        """Keep the first `length` positions (a negative `length`: drop that many), as
        transformers' `DynamicCache.crop`."""
        if length < 0:
            length = self.get_seq_length() + length
        for i, (keys, values) in enumerate(zip(self.key_cache, self.value_cache, strict=True)):
            if keys is not None:
                self.key_cache[i] = keys[..., :length, :]
                self.value_cache[i] = values[..., :length, :]

    def update(self, keys: Any, values: Any, layer: int) -> tuple[Any, Any]:
        import torch

        if self.key_cache[layer] is not None:
            keys = torch.cat([self.key_cache[layer], keys], dim=-2)
            values = torch.cat([self.value_cache[layer], values], dim=-2)
        self.key_cache[layer], self.value_cache[layer] = keys, values
        return keys, values


class NativeLlama:
    """The decoder: `forward(ids, cache)` runs new tokens through it, appending their keys and
    values to `cache`, and returns the logits of the last one (all that generation reads)."""

    def __init__(self, config: LlamaConfig, weights: dict[str, Any]) -> None:
        import torch

        self.config = config
        self.weights = weights
        dim = config.head_dim
        self.inv_freq = 1.0 / (
            config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.float) / dim)
        )
        self.head = weights.get("lm_head.weight", weights["model.embed_tokens.weight"])

    @classmethod
    def load(cls, folder: Path) -> NativeLlama | None:
        """The model in `folder` in float32, or None when it is not one this decoder runs or its
        weights cannot be read (transformers then loads it, or says what is wrong)."""
        config = read_config(folder)
        if config is None:
            return None
        try:
            weights = _read_weights(folder)
            model = cls(config, weights)
            model.check()
        except Exception:  # a damaged or unexpected file: the transformers path reports it
            return None
        return model

    def check(self) -> None:
        """Every weight the decoder reads is there, with the head the config asks for."""
        c = self.config
        names = ["model.embed_tokens.weight", "model.norm.weight"]
        for i in range(c.num_hidden_layers):
            names += [f"model.layers.{i}.{n}.weight" for n in _LAYER_WEIGHTS]
        if not c.tie_word_embeddings:
            names.append("lm_head.weight")
        missing = [n for n in names if n not in self.weights]
        if missing:
            raise KeyError(f"missing weights: {missing[:3]}")

    def parameters(self) -> Iterator[Any]:
        yield self.weights["model.embed_tokens.weight"]

    def new_cache(self) -> KVCache:
        return KVCache(self.config.num_hidden_layers)

    def forward(self, ids: Any, cache: KVCache) -> Any:
        """Logits (1, vocab) for the token after `ids` (1, n), given what `cache` holds."""
        import torch
        import torch.nn.functional as F

        c, w = self.config, self.weights
        past = cache.get_seq_length()
        n = int(ids.shape[1])
        x = F.embedding(ids, w["model.embed_tokens.weight"])
        positions = torch.arange(past, past + n, dtype=torch.long)[None, :]
        freqs = positions[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        mask = None
        if n > 1 and past:  # new tokens after cached ones: each sees the cache and its past
            mask = torch.arange(past + n)[None, :] <= torch.arange(past, past + n)[:, None]
            mask = mask[None, None]
        for i in range(c.num_hidden_layers):
            p = f"model.layers.{i}."
            h = _rms_norm(x, w[p + "input_layernorm.weight"], c.rms_norm_eps)
            x = x + self._attention(h, p + "self_attn.", i, cos, sin, mask, cache)
            h = _rms_norm(x, w[p + "post_attention_layernorm.weight"], c.rms_norm_eps)
            gate = F.silu(_linear(h, w, p + "mlp.gate_proj"))
            x = x + _linear(gate * _linear(h, w, p + "mlp.up_proj"), w, p + "mlp.down_proj")
        last = _rms_norm(x[:, -1:], w["model.norm.weight"], c.rms_norm_eps)
        return F.linear(last, self.head)[:, -1]

    def _attention(
        self, h: Any, p: str, layer: int, cos: Any, sin: Any, mask: Any, cache: KVCache
    ) -> Any:
        import torch.nn.functional as F

        c, w = self.config, self.weights
        n = h.shape[1]
        shape = (1, n, -1, c.head_dim)
        q = _linear(h, w, p + "q_proj").view(shape).transpose(1, 2)
        k = _linear(h, w, p + "k_proj").view(shape).transpose(1, 2)
        v = _linear(h, w, p + "v_proj").view(shape).transpose(1, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        k, v = cache.update(k, v, layer)
        groups = c.num_attention_heads // c.num_key_value_heads
        scale = c.head_dim**-0.5
        if mask is None:  # as transformers' sdpa path on CPU: grouped heads, causal when n > 1
            out = F.scaled_dot_product_attention(
                q, k, v, is_causal=n > 1, scale=scale, enable_gqa=groups > 1
            )
        else:
            k, v = _repeat_kv(k, groups), _repeat_kv(v, groups)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
        out = out.transpose(1, 2).reshape(1, n, -1)
        return _linear(out, w, p + "o_proj")


_LAYER_WEIGHTS = (
    "input_layernorm",
    "post_attention_layernorm",
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


def _read_weights(folder: Path) -> dict[str, Any]:
    import torch
    from safetensors.torch import load_file

    index = folder / WEIGHTS_INDEX
    if index.is_file():
        files = sorted(set(json.loads(index.read_text("utf-8"))["weight_map"].values()))
    else:
        files = [WEIGHTS_FILE]
    weights: dict[str, Any] = {}
    for name in files:
        weights.update(load_file(str(folder / name)))
    return {k: v if v.dtype == torch.float32 else v.float() for k, v in weights.items()}


def _linear(x: Any, weights: dict[str, Any], name: str) -> Any:
    import torch.nn.functional as F

    return F.linear(x, weights[name + ".weight"], weights.get(name + ".bias"))


def _rms_norm(x: Any, weight: Any, eps: float) -> Any:
    import torch

    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def _rotate_half(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _repeat_kv(x: Any, groups: int) -> Any:
    if groups == 1:
        return x
    batch, heads, length, dim = x.shape
    x = x[:, :, None].expand(batch, heads, groups, length, dim)
    return x.reshape(batch, heads * groups, length, dim)
