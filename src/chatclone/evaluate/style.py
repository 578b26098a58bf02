"""The person's writing habits as numbers, and how far a system's replies are from them.

A reply is one turn of the person: one or more bubbles joined by "\\n". Each reply gets a row of
cheap, script-agnostic features (`reply_features`). Habit ratios that do not apply to a reply (no
cased letters, no contractions, no bubbles) are NaN and are left out of that feature's mean, so an
emoji-only reply neither counts as lower-case nor as upper-case. Length features are 0 for an
empty reply, and `empty_reply` counts it, so a system that says nothing pays for it.

`style_distance` is two-sided on purpose: a clone that says "lol" in every reply is as wrong as one
that never does. Each gap is divided by how much the person differs from themselves (the gap
between random halves of their real replies), so a habit the person is loose about costs less to
miss than one they never break. Pure Python: no numpy, so importing this stays cheap.
"""

from __future__ import annotations

import math
import random
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# The feature names with the smallest scale each may get: a habit the person never varies on
# (always lower-case) would otherwise divide by ~0. Units are the feature's own.
FEATURE_FLOORS: dict[str, float] = {
    "chars_per_bubble": 1.0,
    "words_per_bubble": 0.25,
    "chars_per_word": 0.1,
    "bubbles_per_turn": 0.05,
    "empty_reply": 0.02,
    "lowercase_ratio": 0.02,
    "starts_lowercase": 0.02,
    "question_end": 0.02,
    "exclamation_end": 0.02,
    "full_stop_end": 0.02,
    "multi_punct_per_bubble": 0.02,
    "ellipsis_per_bubble": 0.02,
    "commas_per_word": 0.01,
    "apostrophe_ratio": 0.02,
    "curly_apostrophe_ratio": 0.02,
    "emoji_per_bubble": 0.02,
    "laughter_per_bubble": 0.02,
    "elongated_per_bubble": 0.02,
}
FEATURES: tuple[str, ...] = tuple(FEATURE_FLOORS)
# The two distribution parts of the distance: which emoji, and which words.
COMPONENT_FLOORS: dict[str, float] = {**FEATURE_FLOORS, "emoji": 0.05, "vocabulary": 0.05}
SPLITS = 20  # random halves of the real replies that estimate the person's own variation
Z_CAP = 10.0  # one habit the person never breaks must not swamp the whole distance
TOP_EMOJI = 10

# Scripts written without spaces between words: each character counts as a word, so that words
# per bubble means something for Chinese, Japanese and Thai (consistently, not linguistically).
_SPACELESS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),  # CJK
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3134F),
)
_PICT = "\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"
_MODIFIERS = "[\ufe0f\U0001f3fb-\U0001f3ff]*"
_EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff]{2}"  # a flag is a pair of regional indicators
    f"|[{_PICT}]{_MODIFIERS}(?:\u200d[{_PICT}]{_MODIFIERS})*"
)
# Laughter written as a word (matched against whole lower-case tokens).
_LAUGH_WORD = re.compile(
    r"a*(?:h+a+){2,}h*|(?:a+h+){2,}a*|(?:h+[eiou]+){2,}h*|(?:j+[aei]+){2,}j*|k{3,}|(?:rs){2,}r?"
    r"|l+o+l+(?:o+l+)*|lm+f*a+o+|rofl\w*|pt?dr+|mdr+|x+d+|(?:х+[аеи]+){2,}х*|ㅋ{2,}|ㅎ{2,}"
    r"|5{3,}|w{3,}|(?:w+k+){2,}w*|ه{3,}|ح{3,}|ח{3,}|(?:χ+α+){2,}"
)
# Laughter inside text with no word boundaries (CJK, Thai) and the laughing emoji.
_LAUGH_FREE = re.compile(
    r"哈{2,}|呵{2,}|嘻{2,}|[(（]笑[)）]|笑{2,}|草+(?=[\s!！。]|$)|ฮ่*า(?:ๆ|(?:ฮ่*า)+)|[😂🤣😹😆]"
)
_ELONGATED = re.compile(r"([^\W\d_])\1\1")
_ELLIPSIS = re.compile(r"\.{2,}|…")
_MULTI_PUNCT = re.compile(r"[!?！？]{2,}")
_END_NOISE = re.compile(rf"(?:\s|{_EMOJI.pattern}|[)\]\"'»”’])+$")
_STRAIGHT = re.compile(r"(?<=[^\W\d_])'(?=[^\W\d_])")
_CURLY = re.compile(r"(?<=[^\W\d_])’(?=[^\W\d_])")
# Contractions by their apostrophe-free spelling; only forms that are not ordinary words ("its",
# "ill", "well", "lets" are left out), so "dont" vs "don't" is a habit, not a guess. A word list
# reads better as text than as 50 quoted strings.
CONTRACTIONS = frozenset(
    """dont cant wont isnt arent wasnt werent didnt doesnt havent hasnt hadnt couldnt wouldnt
    shouldnt mustnt neednt aint im ive youre youve youll youd theyre theyve theyll theyd weve
    whats thats theres heres whos hows wheres hes shes itll itd couldve wouldve shouldve mightve
    yall cest jai jsuis quil quils""".split()  # noqa: SIM905
)


def _spaceless(ch: str) -> bool:
    code = ord(ch)
    return code >= 0x0E00 and any(lo <= code <= hi for lo, hi in _SPACELESS)


def words(text: str) -> list[str]:
    """Lower-case word tokens in any script: runs of letters, digits and combining marks (an
    apostrophe between letters stays inside, normalised to '); each CJK/Thai character is a
    word of its own. Emoji and punctuation are not words."""
    tokens: list[str] = []
    current: list[str] = []
    text = text.casefold()
    previous_spaceless = False
    for i, ch in enumerate(text):
        kind = unicodedata.category(ch)[0]
        if _spaceless(ch):
            if current:
                tokens.append("".join(current))
                current = []
            if kind == "M" and previous_spaceless and tokens:
                tokens[-1] += ch  # a Thai vowel or tone mark belongs to its letter
            elif kind in "LMN":
                tokens.append(ch)
            previous_spaceless = True
            continue
        previous_spaceless = False
        if kind in "LN" or (kind == "M" and current):
            current.append(ch)
        elif ch in "'’" and current and i + 1 < len(text) and text[i + 1].isalpha():
            current.append("'")
        elif current:
            tokens.append("".join(current))
            current = []
    if current:
        tokens.append("".join(current))
    return tokens


def emoji(text: str) -> list[str]:
    """The emoji in `text`, one per pictograph with its skin tone and ZWJ parts (variation
    selectors dropped, so "❤️" and "❤" are the same emoji)."""
    return [m.group().replace("\ufe0f", "") for m in _EMOJI.finditer(text)]


def laughter(text: str) -> int:
    """How many laughs: "haha", "lol", "jaja", "kkkk", "rsrs", "mdr", "xD", "ㅋㅋ", "555", "www",
    "wkwk", "хаха", "哈哈", "(笑)", "草", "😂"…"""
    laughing_words = sum(1 for w in words(text) if _LAUGH_WORD.fullmatch(w))
    return laughing_words + len(_LAUGH_FREE.findall(text))


def _bubbles(reply: str) -> list[str]:
    return [b.strip() for b in reply.split("\n") if b.strip()]


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else math.nan


def _ending(bubble: str) -> str:
    """What the bubble ends with, before trailing emoji, spaces and closing quotes."""
    return _END_NOISE.sub("", bubble)


@dataclass
class _Reply:
    features: dict[str, float]
    emoji: Counter[str]
    words: Counter[str]
    laughs: int


def _analyse(reply: str) -> _Reply:
    bubbles = _bubbles(reply)
    if not bubbles:
        features = dict.fromkeys(FEATURES, math.nan)
        features.update(chars_per_bubble=0.0, words_per_bubble=0.0, bubbles_per_turn=0.0)
        features["empty_reply"] = 1.0
        return _Reply(features, Counter(), Counter(), 0)
    n = len(bubbles)
    tokens = [w for b in bubbles for w in words(b)]
    found_emoji = [e for b in bubbles for e in emoji(b)]
    laughs = sum(laughter(b) for b in bubbles)
    cased = [c for c in reply if c.islower() or c.isupper()]
    starts = [next((c for c in b if c.islower() or c.isupper()), "") for b in bubbles]
    starts = [c for c in starts if c]
    ends = [_ending(b) for b in bubbles]
    contractions = [w for w in tokens if w.replace("'", "") in CONTRACTIONS]
    straight, curly = len(_STRAIGHT.findall(reply)), len(_CURLY.findall(reply))
    features = {
        "chars_per_bubble": sum(len(b) for b in bubbles) / n,
        "words_per_bubble": len(tokens) / n,
        "chars_per_word": _ratio(sum(len(w) for w in tokens), len(tokens)),
        "bubbles_per_turn": float(n),
        "empty_reply": 0.0,
        "lowercase_ratio": _ratio(sum(c.islower() for c in cased), len(cased)),
        "starts_lowercase": _ratio(sum(c.islower() for c in starts), len(starts)),
        "question_end": sum(e.endswith(("?", "？")) for e in ends) / n,
        "exclamation_end": sum(e.endswith(("!", "！")) for e in ends) / n,
        "full_stop_end": sum(e.endswith("。") or _is_full_stop(e) for e in ends) / n,
        "multi_punct_per_bubble": sum(len(_MULTI_PUNCT.findall(b)) for b in bubbles) / n,
        "ellipsis_per_bubble": sum(len(_ELLIPSIS.findall(b)) for b in bubbles) / n,
        "commas_per_word": _ratio(sum(reply.count(c) for c in ",，、"), len(tokens)),
        "apostrophe_ratio": _ratio(sum("'" in w for w in contractions), len(contractions)),
        "curly_apostrophe_ratio": _ratio(curly, straight + curly),
        "emoji_per_bubble": len(found_emoji) / n,
        "laughter_per_bubble": laughs / n,
        "elongated_per_bubble": sum(_is_elongated(w) for w in tokens) / n,
    }
    return _Reply(features, Counter(found_emoji), Counter(tokens), laughs)


def _is_full_stop(ending: str) -> bool:
    return ending.endswith(".") and not ending.endswith("..")


def _is_elongated(word: str) -> bool:
    """ "sooo", "yesss": a letter held three times, but not a laugh ("kkkk", "555")."""
    return bool(_ELONGATED.search(word)) and not _LAUGH_WORD.fullmatch(word)


def reply_features(reply: str) -> dict[str, float]:
    """The features of one reply, keyed by `FEATURES`; NaN where a habit does not apply."""
    return _analyse(reply).features


@dataclass
class _Group:
    means: dict[str, float]
    emoji: Counter[str]
    words: Counter[str]


def _nanmean(values: Iterable[float]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    return math.fsum(defined) / len(defined) if defined else math.nan


def _group(replies: Sequence[_Reply]) -> _Group:
    """Each feature's mean over the replies where it is defined, and the pooled counts."""
    means = {name: _nanmean(r.features[name] for r in replies) for name in FEATURES}
    emoji_counts: Counter[str] = Counter()
    word_counts: Counter[str] = Counter()
    for r in replies:
        emoji_counts.update(r.emoji)
        word_counts.update(r.words)
    return _Group(means, emoji_counts, word_counts)


def _total_variation(a: Counter[str], b: Counter[str]) -> float:
    """Half the L1 gap between two frequency distributions: 0 identical, 1 disjoint; NaN when
    either is empty (the rate features already say that one side never does it)."""
    total_a, total_b = sum(a.values()), sum(b.values())
    if not total_a or not total_b:
        return math.nan
    keys = sorted(a.keys() | b.keys())  # a fixed order keeps the float sum reproducible
    return 0.5 * math.fsum(abs(a[k] / total_a - b[k] / total_b) for k in keys)


def _gaps(a: _Group, b: _Group) -> dict[str, float]:
    gaps = {name: abs(a.means[name] - b.means[name]) for name in FEATURES}
    gaps["emoji"] = _total_variation(a.emoji, b.emoji)
    gaps["vocabulary"] = _total_variation(a.words, b.words)
    return gaps


def _scales(real: Sequence[_Reply], seed: int) -> dict[str, float]:
    """How far apart two random halves of the person's replies are, per part (mean over
    `SPLITS` seeded splits), never below the part's floor."""
    seen: dict[str, list[float]] = {name: [] for name in COMPONENT_FLOORS}
    rng = random.Random(seed)
    if len(real) >= 2:
        for _ in range(SPLITS):
            order = rng.sample(range(len(real)), len(real))
            half = len(real) // 2
            first = _group([real[i] for i in order[:half]])
            second = _group([real[i] for i in order[half:]])
            for name, gap in _gaps(first, second).items():
                if not math.isnan(gap):
                    seen[name].append(gap)
    return {
        name: max(floor, statistics.fmean(seen[name]) if seen[name] else 0.0)
        for name, floor in COMPONENT_FLOORS.items()
    }


def _json(value: float) -> float | None:
    return None if math.isnan(value) else value


def _top_emoji(counts: Counter[str]) -> list[list[Any]]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [[e, c] for e, c in ranked[:TOP_EMOJI]]


def style_profile(replies: Sequence[str]) -> dict[str, Any]:
    """The person's (or a system's) habits: feature means (None where never defined), the top
    emoji with counts, the share of replies that laugh, and the sorted vocabulary."""
    analysed = [_analyse(r) for r in replies]
    group = _group(analysed)
    laughing = sum(1 for r in analysed if r.laughs)
    return {
        "replies": len(analysed),
        "features": {name: _json(group.means[name]) for name in FEATURES},
        "emoji": _top_emoji(group.emoji),
        "laughter_rate": laughing / len(analysed) if analysed else 0.0,
        "vocabulary": sorted(group.words),
    }


def style_distance(system: Sequence[str], real: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """How far `system`'s habits are from the person's `real` held-out replies (JSON-ready).

    Per part (each feature, the emoji distribution, the word distribution): z = |system − real|
    / scale, where scale is the mean gap between random halves of `real` (`SPLITS` splits
    seeded by `seed`, never below the part's floor); z ≈ 1 means "as different as the person is
    from themselves". `distance` is the mean of the z's capped at `Z_CAP`; parts undefined on
    either side (None in the result) are left out, and `distance` is None when nothing can be
    compared. Emoji and vocabulary gaps are total variation distances; their overlaps are 1 − it.
    """
    system_replies = [_analyse(r) for r in system]
    real_replies = [_analyse(r) for r in real]
    system_group, real_group = _group(system_replies), _group(real_replies)
    gaps = _gaps(system_group, real_group)
    scales = _scales(real_replies, seed)
    z = {name: gap / scales[name] for name, gap in gaps.items()}
    counted = [min(value, Z_CAP) for value in z.values() if not math.isnan(value)]
    features = {
        name: {
            "system": _json(system_group.means[name]),
            "real": _json(real_group.means[name]),
            "scale": scales[name],
            "z": _json(z[name]),
        }
        for name in FEATURES
    }
    return {
        "distance": statistics.fmean(counted) if counted else None,
        "features": features,
        "emoji": {
            "system": _top_emoji(system_group.emoji),
            "real": _top_emoji(real_group.emoji),
            "overlap": _json(1.0 - gaps["emoji"]),
            "scale": scales["emoji"],
            "z": _json(z["emoji"]),
        },
        "vocabulary_overlap": _json(1.0 - gaps["vocabulary"]),
        "vocabulary_z": _json(z["vocabulary"]),
    }


def distinct_n(replies: Sequence[str], n: int) -> float:
    """Distinct word n-grams / all word n-grams over the replies (n-grams do not cross replies);
    0.0 when there are none. Low values mean a clone that repeats itself."""
    grams: list[tuple[str, ...]] = []
    for reply in replies:
        tokens = words(reply)
        grams.extend(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def copy_rate(replies: Sequence[str], training: Iterable[str]) -> float:
    """Share of the non-empty replies that repeat a training reply word for word (ignoring case
    and spacing): a clone that memorised rather than learned the person. 0.0 when none."""
    seen = {_normalise(t) for t in training}
    said = [n for n in (_normalise(r) for r in replies) if n]
    return sum(1 for n in said if n in seen) / len(said) if said else 0.0
