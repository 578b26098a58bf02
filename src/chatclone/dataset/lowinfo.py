"""Finding the replies that say little about the person ("ok", "lol", "👍").

Such replies stay in the samples as context but are not trained on (weight 0), and are counted as
`low_information_reply`. Each assistant turn gets a score in [0, 1]:

- a cheap heuristic: 0 for emoji or punctuation only, 0.05 for filler words only ("ok", "haha",
  "jaja", "oui"), else rising with the number of content words (six or more give 1);
- with the embedding model (the packaged all-MiniLM-L6-v2, offline; see `chatclone.embeddings`):
  how close the reply is to the question it answers, when the turn before it asks
  who/what/when/where/why/how or ends in "?", and to the persona's topics (the lines of
  persona.md, or generic ones about work, home, family, plans). A reply that is about the question
  or about the person is informative even when short.

score = 0.5 × heuristic + 0.5 × embedding closeness (rescaled from cosine 0.1–0.5 to 0–1); a filler
reply keeps its heuristic score. Replies below `low_info_threshold` (default 0.35) are low-information.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatclone.embeddings import Embedder

FILLERS = frozenset(
    """ok okay okk k kk kay lol lmao lmfao rofl haha hahaha hah ha hehe heh xd yes yeah yep yup ya
    yea yas no nope nah sure thanks thx ty tysm np hmm hm mm omg wow nice cool same true fr ikr oh
    ah aw aww alright right good great fine sweet lovely perfect agreed indeed def definitely ofc
    jaja jajaja vale si sí claro bueno gracias oui non merci ouais ja nein danke genau gut super
    grazie certo bene sim não obrigado obrigada kkk kkkk nee jawel dank bedankt oké prima
    """.split()
)
_QUESTION = re.compile(
    r"\?|\b(?:who|what|when|where|why|how|which|qui|quoi|quand|où|pourquoi|comment|quién|qué|"
    r"cuándo|dónde|por qué|cómo|wer|wann|wo|warum|wie|chi|cosa|quando|dove|perché|"
    r"quem|onde|porque|wat|wanneer|waar|waarom|hoe)\b",
    re.I,
)
GENERIC_TOPICS = (
    "my job and where I work",
    "where I live and my home",
    "my family, my friends and my pets",
    "my hobbies and what I do for fun",
    "my plans, trips and what I am going to do",
    "how I feel and what happened to me",
    "my opinion and what I like or dislike",
)


def heuristic_score(text: str) -> float:
    words = re.findall(r"\w+", text.casefold())
    if not words:
        return 0.0
    content = [w for w in words if w not in FILLERS and len(w) > 2]
    if not content:
        return 0.05
    return min(1.0, len(content) / 6)


def is_question(text: str) -> bool:
    return bool(_QUESTION.search(text))


def score_replies(
    replies: Sequence[str],
    contexts: Sequence[str],
    topics: Sequence[str],
    embedder: Embedder | None,
) -> list[float]:
    """A score per reply; `contexts[i]` is the user turn that `replies[i]` answers ("" if none)."""
    heuristic = [heuristic_score(r) for r in replies]
    if embedder is None or not replies:
        return heuristic
    reply_vecs = embedder.encode(list(replies))
    topic_vecs = embedder.encode(list(topics or GENERIC_TOPICS))
    asked = [i for i, c in enumerate(contexts) if c and is_question(c)]
    question_vecs = embedder.encode([contexts[i] for i in asked]) if asked else None
    closeness = (reply_vecs @ topic_vecs.T).max(axis=1)
    if question_vecs is not None:
        to_question = (reply_vecs[asked] * question_vecs).sum(axis=1)
        for row, i in enumerate(asked):
            closeness[i] = max(closeness[i], to_question[row])
    scores = []
    for h, c in zip(heuristic, closeness.tolist(), strict=True):
        scores.append(h if h <= 0.05 else 0.5 * h + 0.5 * min(1.0, max(0.0, (c - 0.1) / 0.4)))
    return scores
