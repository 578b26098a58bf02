"""Would a classifier take the system's replies for the person's?

Trained on the training split only: the person's replies against everyone they chat with, on
character n-grams (case and punctuation kept: they are the style) plus the stylometric features of
`style.py`. The raw rate depends on how separable the person is at all, so the report also gives
it normalised between the base model (0) and the person's real held-out replies (1), and the
classifier's own held-out accuracy says how far to trust either.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from chatclone.errors import ChatcloneError
from chatclone.evaluate.style import FEATURES, reply_features

MIN_TEXTS = 10  # per side: fewer and the classifier learns the texts, not the person
HOLDOUT = 0.2  # share of each side kept back to measure the classifier's accuracy
MIN_SPAN = 0.01  # below this gap between base and real, normalising only amplifies noise


def style_matrix(texts: Sequence[str]) -> list[list[float]]:
    """The style features of each text as a row in `FEATURES` order (NaN where undefined)."""
    rows = []
    for text in texts:
        features = reply_features(text)
        rows.append([features[name] for name in FEATURES])
    return rows


def _pipeline(seed: int) -> Any:
    """char_wb 1–4-gram TF-IDF next to the style features (mean-imputed with a missing flag,
    standardised), into a class-balanced logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    ngrams = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 4), lowercase=False, sublinear_tf=True, min_df=1
    )
    style = make_pipeline(
        FunctionTransformer(style_matrix),
        SimpleImputer(strategy="mean", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )
    features = FeatureUnion([("ngrams", ngrams), ("style", style)])
    classifier = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)
    return make_pipeline(features, classifier)


def _split(texts: Sequence[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """A seeded (train, holdout) split with at least one text in the holdout."""
    order = rng.sample(list(texts), len(texts))
    cut = max(1, round(len(order) * HOLDOUT))
    return order[cut:], order[:cut]


class AuthorshipModel:
    """The person (1) vs everyone else (0). `accuracy` and `balanced_accuracy` are measured on a
    seeded holdout before the final model is refitted on all the texts."""

    def __init__(self, pipeline: Any, accuracy: float, balanced_accuracy: float) -> None:
        self.pipeline = pipeline
        self.accuracy = accuracy
        self.balanced_accuracy = balanced_accuracy

    @classmethod
    def fit(cls, person: Sequence[str], others: Sequence[str], seed: int = 0) -> AuthorshipModel:
        """Train on the person's and the others' non-empty texts; ChatcloneError when either side
        has fewer than `MIN_TEXTS`."""
        mine = [t for t in person if t.strip()]
        theirs = [t for t in others if t.strip()]
        if len(mine) < MIN_TEXTS or len(theirs) < MIN_TEXTS:
            raise ChatcloneError(
                f"the authorship classifier needs at least {MIN_TEXTS} non-empty replies from the "
                f"person and {MIN_TEXTS} from the people they chat with; got {len(mine)} and "
                f"{len(theirs)}"
            )
        rng = random.Random(seed)
        mine_train, mine_test = _split(mine, rng)
        theirs_train, theirs_test = _split(theirs, rng)
        trial = _pipeline(seed).fit(
            mine_train + theirs_train, [1] * len(mine_train) + [0] * len(theirs_train)
        )
        hits_mine = sum(int(p) == 1 for p in trial.predict(mine_test))
        hits_theirs = sum(int(p) == 0 for p in trial.predict(theirs_test))
        accuracy = (hits_mine + hits_theirs) / (len(mine_test) + len(theirs_test))
        balanced = (hits_mine / len(mine_test) + hits_theirs / len(theirs_test)) / 2
        final = _pipeline(seed).fit(mine + theirs, [1] * len(mine) + [0] * len(theirs))
        return cls(final, accuracy, balanced)

    def probability(self, texts: Sequence[str]) -> list[float]:
        """P(the person wrote it) per text; an empty text is nobody's style and gets 0.0."""
        written = [i for i, t in enumerate(texts) if t.strip()]
        result = [0.0] * len(texts)
        if written:
            column = list(self.pipeline.classes_).index(1)
            scores = self.pipeline.predict_proba([texts[i] for i in written])[:, column]
            for i, score in zip(written, scores.tolist(), strict=True):
                result[i] = float(score)
        return result

    def rate(self, texts: Sequence[str]) -> float:
        """Share of the texts taken for the person's (probability ≥ 0.5); 0.0 for no texts.
        Empty texts count as not the person's."""
        if not texts:
            return 0.0
        return sum(1 for p in self.probability(texts) if p >= 0.5) / len(texts)


def normalised(rate: float | None, base: float | None, real: float | None) -> float | None:
    """(rate − base) / (real − base): 0 sounds like the base model, 1 like the person.

    None when any of the three is missing (None or NaN), or when real − base < `MIN_SPAN` (the
    classifier cannot tell the base model from the person, or prefers the base model). Not
    clipped: below 0 is less like the person than the base model, above 1 more "person-like"
    than the person's own replies.
    """
    if rate is None or base is None or real is None:
        return None
    if math.isnan(rate) or math.isnan(base) or math.isnan(real):
        return None
    span = real - base
    if span < MIN_SPAN:
        return None
    return (rate - base) / span
