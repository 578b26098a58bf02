"""`is_plain`, the reader's shortcut past `classify`: it may say "ask classify" as often as it
likes, but where it says a message is plain text, `classify` must agree exactly.

Run: .venv/bin/pytest tests/test_whatsapp_plain.py
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from chatclone.messages import Kind
from chatclone.parsers.whatsapp import markers
from chatclone.parsers.whatsapp.classify import _EXACT, classify, is_plain

PLAIN = (Kind.TEXT,)
# Every marker the classifier knows, as it is stored (normalized) and as exports write it.
FORMS = sorted({*_EXACT, *markers.CALL_PREFIXES, *markers.DOCUMENT_ENDINGS})
# Characters that normalizing strips, maps or merges, and letters whose case is tricky.
AWKWARD = " \t\u00a0\u202f\u200e\u200f\u202a\u2066\u061c\ufeff.。ΣσςİßſKÅǅﬁ"


def agrees(text: str) -> bool:
    return not is_plain(text) or classify(text) == (Kind.TEXT, text, False, None)


def variants(form: str, rng: random.Random) -> list[str]:
    """A marker with its case changed, awkward characters around it and words before or after."""
    out = [form, form.upper(), form.title(), form.capitalize(), form.swapcase()]
    for _ in range(6):
        pad = "".join(rng.choice(AWKWARD) for _ in range(rng.randint(0, 2)))
        word = rng.choice(["", "ok ", "Mum: ", "ja ", "👍 "])
        tail = rng.choice(["", " ok", " 👍", "!", ".", " x"])
        chosen = rng.choice(out[:5])
        out += [pad + chosen + pad, word + chosen, chosen + tail, pad + chosen + tail]
    return out


def test_no_marker_is_taken_for_plain_text() -> None:
    rng = random.Random(14)
    wrong = [t for form in FORMS for t in variants(form, rng) if not agrees(t)]
    assert wrong == []


def test_most_ordinary_texts_skip_the_classifier() -> None:
    """The shortcut earns its place: everyday messages are decided by it (and none of them is a
    marker, which the test above guards)."""
    texts = ["haha ok", "see you at 8", "Are you coming tonight", "lol", "Thanks so much 😊",
             "Ich komme später", "¿Dónde estás", "Да, конечно", "今天下雨了吗", "ok"]  # fmt: skip
    assert sum(map(is_plain, texts)) >= 8
    assert all(agrees(t) for t in texts)


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(FORMS),
            st.sampled_from(list(AWKWARD)),
            st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
            st.sampled_from(["<", ">", "(", ")", "://", "\n", " ", "attached", "omitted"]),
        ),
        max_size=6,
    ).map("".join)
)
def test_plain_is_never_wrong(text: str) -> None:
    assert agrees(text)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(FORMS), st.text(alphabet=AWKWARD + "aZ1 ", max_size=4))
def test_a_marker_in_any_case_with_awkward_edges(form: str, edge: str) -> None:
    for text in (form.upper() + edge, edge + form.title(), edge + form + edge):
        assert agrees(text)
