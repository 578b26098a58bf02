"""The style metrics and the authorship classifier on tiny hand-made replies."""

from __future__ import annotations

import json
import math
import random

import pytest

from chatclone.errors import ChatcloneError
from chatclone.evaluate.authorship import MIN_TEXTS, AuthorshipModel, normalised
from chatclone.evaluate.style import (
    FEATURES,
    copy_rate,
    distinct_n,
    emoji,
    laughter,
    reply_features,
    style_distance,
    style_profile,
    words,
)

REAL = [
    "ok lol",
    "yeah im on my way 😂",
    "dont worry about it",
    "haha sure\nsee u there",
    "omg noo",
    "im so tired lol",
    "wait what",
    "sounds good 👍",
    "idk maybe tomorrow\nor friday",
    "lmao yes",
    "ill call u later",
    "that was sooo good",
]


def test_a_copy_of_the_real_replies_is_at_distance_zero() -> None:
    result = style_distance(list(REAL), REAL)
    assert result["distance"] == pytest.approx(0.0, abs=1e-9)
    assert all(f["z"] in (0.0, None) for f in result["features"].values())
    assert result["features"]["lowercase_ratio"]["z"] == 0.0
    assert result["emoji"]["overlap"] == pytest.approx(1.0)
    assert result["vocabulary_overlap"] == pytest.approx(1.0)
    assert json.loads(json.dumps(result)) == result  # JSON-ready: no NaN, no tuples or sets


def test_shouting_is_far_on_case_and_exclamation() -> None:
    shouting = ["OK!!!", "SURE!!!", "YES!!!", "NO WAY!!!"] * 3
    result = style_distance(shouting, REAL)
    features = result["features"]
    assert features["lowercase_ratio"]["system"] == 0.0
    assert features["lowercase_ratio"]["real"] == 1.0
    assert features["lowercase_ratio"]["z"] > 5
    assert features["exclamation_end"]["z"] > 5
    assert features["multi_punct_per_bubble"]["z"] > 5
    assert result["distance"] > 2


def _with_lol(share: float, n: int = 40) -> list[str]:
    """Replies of which `share` laugh once."""
    return [f"reply number {i} lol" if i < share * n else f"reply number {i}" for i in range(n)]


def test_overshooting_and_undershooting_a_habit_both_cost() -> None:
    real = _with_lol(0.5)
    assert style_distance(real, real)["distance"] == 0.0
    never = style_distance(_with_lol(0.0), real)
    always = style_distance(_with_lol(1.0), real)
    assert never["distance"] > 0.5 and always["distance"] > 0.5
    assert never["features"]["laughter_per_bubble"]["z"] == pytest.approx(
        always["features"]["laughter_per_bubble"]["z"]
    )


def test_the_scale_is_the_persons_own_variation() -> None:
    steady = ["a b c d e"] * 20  # always five words
    loose = ["a", "a b c d e f g h i"] * 10  # five on average, but all over the place
    system = ["a b c d e f g"] * 20  # two words longer than either on average
    z_steady = style_distance(system, steady)["features"]["words_per_bubble"]
    z_loose = style_distance(system, loose)["features"]["words_per_bubble"]
    assert z_steady["system"] - z_steady["real"] == z_loose["system"] - z_loose["real"] == 2.0
    assert z_steady["scale"] == 0.25  # the floor: the person never varies
    assert z_loose["scale"] > z_steady["scale"]
    assert z_loose["z"] < z_steady["z"]


def test_distance_is_deterministic_for_a_seed() -> None:
    system = ["Hello there.", "How are you?", "lol", ""]
    first = style_distance(system, REAL, seed=3)
    assert style_distance(system, REAL, seed=3) == first
    assert style_distance(system, REAL, seed=4)["features"] != first["features"]


@pytest.mark.parametrize(
    "text",
    [
        "haha",
        "lol",
        "LMAO",
        "jajaja",
        "kkkkk",
        "rsrs",
        "mdr",
        "xD",
        "ㅋㅋㅋ",
        "555",
        "ตลก555",
        "www",
        "草",
        "哈哈哈",
        "wkwkwk",
        "хахаха",
        "هههه",
        "😂",
        "(笑)",
    ],
)
def test_laughter_in_many_scripts(text: str) -> None:
    assert laughter(text) == 1
    assert reply_features(f"ok\n{text}")["laughter_per_bubble"] == 0.5


@pytest.mark.parametrize("text", ["hello", "ha", "lolly", "kk", "1000", "what", "笑话"])
def test_not_laughter(text: str) -> None:
    assert laughter(text) == 0


def test_emoji_are_counted_whole() -> None:
    assert emoji("hi 👍🏽 ❤️ 👨‍👩‍👧 🇫🇷 :)") == ["👍🏽", "❤", "👨‍👩‍👧", "🇫🇷"]
    assert reply_features("😂😂\nok")["emoji_per_bubble"] == 1.0
    profile = style_profile(["😂😂 ok", "❤️", "😂", "нет"])
    assert profile["emoji"] == [["😂", 3], ["❤", 1]]
    assert profile["laughter_rate"] == 0.5


def test_emoji_distribution_is_compared_when_both_use_emoji() -> None:
    real = ["ok 😂", "sure 😂", "yes ❤️", "no 😂"] * 3
    other_emoji = ["ok 🙏", "sure 🙏", "yes 🙏", "no 🙏"] * 3
    no_emoji = ["ok", "sure", "yes", "no"] * 3
    assert style_distance(other_emoji, real)["emoji"]["overlap"] == 0.0
    assert style_distance(other_emoji, real)["emoji"]["z"] > 1
    assert style_distance(no_emoji, real)["emoji"]["overlap"] is None  # the rate says it instead
    assert style_distance(no_emoji, real)["features"]["emoji_per_bubble"]["z"] > 1


def test_words_in_scripts_without_spaces() -> None:
    assert words("我今天很好") == ["我", "今", "天", "很", "好"]
    assert words("今日は ok!") == ["今", "日", "は", "ok"]
    assert words("Don’t you THINK? I'm fine") == ["don't", "you", "think", "i'm", "fine"]
    assert words("привет, как дела") == ["привет", "как", "дела"]
    assert words("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # combining marks stay in the word
    assert reply_features("我今天很好")["words_per_bubble"] == 5.0
    assert math.isnan(reply_features("我今天很好")["lowercase_ratio"])  # no cased letters


def test_apostrophe_habits() -> None:
    assert reply_features("dont worry im fine")["apostrophe_ratio"] == 0.0
    assert reply_features("don't worry i'm fine")["apostrophe_ratio"] == 1.0
    assert reply_features("don’t worry im fine")["apostrophe_ratio"] == 0.5
    assert reply_features("don’t")["curly_apostrophe_ratio"] == 1.0
    assert math.isnan(reply_features("see you")["apostrophe_ratio"])
    # a reply without contractions does not dilute the habit: NaN is left out of the mean
    profile = style_profile(["dont", "see you", "ok"])
    assert profile["features"]["apostrophe_ratio"] == 0.0
    assert style_profile(["see you"])["features"]["apostrophe_ratio"] is None


def test_empty_replies() -> None:
    features = reply_features("")
    assert set(features) == set(FEATURES)
    assert features["empty_reply"] == 1.0 and features["chars_per_bubble"] == 0.0
    assert reply_features(" \n ")["bubbles_per_turn"] == 0.0
    silent = style_distance(["", "", ""] * 4, REAL)
    assert silent["features"]["empty_reply"]["z"] == 1.0 / 0.02  # the floor: never empty
    assert silent["distance"] > 5
    assert style_distance([], REAL)["distance"] is None
    assert style_distance(REAL, [])["distance"] is None
    assert style_profile([])["replies"] == 0
    assert distinct_n([], 1) == 0.0 and distinct_n(["", ""], 2) == 0.0
    assert copy_rate(["", " "], ["x"]) == 0.0


def test_feature_rows_are_numeric_for_any_input() -> None:
    for text in ["", "...", "😂", "!!!", "a", "我", "\n\n", "x" * 500, "?? ¿ ¡"]:
        features = reply_features(text)
        assert tuple(features) == FEATURES
        assert all(isinstance(v, float) for v in features.values())


def test_distinct_n_exact() -> None:
    replies = ["a b a b", "a b c"]
    # unigrams: a b a b a b c -> 3 distinct of 7; bigrams: ab ba ab | ab bc -> 3 distinct of 5
    assert distinct_n(replies, 1) == 3 / 7
    assert distinct_n(replies, 2) == 3 / 5
    assert distinct_n(["一二"], 2) == 1.0


def test_copy_rate_exact() -> None:
    training = ["See you  later", "ok lol"]
    replies = ["see you later", "OK LOL", "something new", ""]
    assert copy_rate(replies, training) == 2 / 3


def _person(rng: random.Random, n: int) -> list[str]:
    """Lower-case, no apostrophes, laughs, emoji."""
    starts = ["ya", "omg", "idk", "lol", "nah", "im", "dont", "haha", "wait", "bruh"]
    ends = ["lol", "😂", "haha", "😭", "lmao", "fr", "tbh", "🙃"]
    topics = ["the party", "work", "that movie", "dinner", "the bus", "my mom", "the game"]
    return [
        f"{rng.choice(starts)} {rng.choice(topics)} {rng.choice(['was', 'is'])} "
        f"{rng.choice(['wild', 'ok', 'sooo long', 'fine', 'mid'])} {rng.choice(ends)}"
        for _ in range(n)
    ]


def _others(rng: random.Random, n: int) -> list[str]:
    """Capitalised, punctuated, apostrophes."""
    starts = ["Sure", "I don't know", "Thanks", "Good morning", "Honestly", "I'm not sure"]
    topics = ["the meeting", "the report", "your plan", "the trip", "dinner", "the game"]
    return [
        f"{rng.choice(starts)}, {rng.choice(topics)} {rng.choice(['sounds', 'looks', 'seems'])} "
        f"{rng.choice(['great', 'fine', 'difficult', 'interesting'])}."
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def authorship() -> tuple[AuthorshipModel, list[str], list[str]]:
    rng = random.Random(7)
    model = AuthorshipModel.fit(_person(rng, 40), _others(rng, 60), seed=0)
    return model, _person(rng, 20), _others(rng, 20)


def test_authorship_tells_the_person_from_the_others(
    authorship: tuple[AuthorshipModel, list[str], list[str]],
) -> None:
    model, person, others = authorship
    real_rate, base_rate = model.rate(person), model.rate(others)
    assert real_rate >= 0.9 and base_rate <= 0.1
    assert model.accuracy >= 0.9 and model.balanced_accuracy >= 0.9
    assert normalised(real_rate, base=base_rate, real=real_rate) == 1.0
    copy_system = list(person)
    assert normalised(model.rate(copy_system), base=base_rate, real=real_rate) == pytest.approx(1)
    assert normalised(base_rate, base=base_rate, real=real_rate) == 0.0
    probabilities = model.probability([*person[:3], "", *others[:3]])
    assert all(p > 0.5 for p in probabilities[:3]) and probabilities[3] == 0.0
    assert all(p < 0.5 for p in probabilities[4:])
    assert model.rate([]) == 0.0 and model.probability([]) == []
    assert model.rate(["", ""]) == 0.0


def test_authorship_is_deterministic() -> None:
    rng = random.Random(1)
    person, others, probe = _person(rng, 20), _others(rng, 20), _person(rng, 5)
    first = AuthorshipModel.fit(person, others, seed=2)
    second = AuthorshipModel.fit(person, others, seed=2)
    assert first.probability(probe) == second.probability(probe)
    assert first.accuracy == second.accuracy


def test_authorship_needs_enough_texts() -> None:
    rng = random.Random(0)
    with pytest.raises(ChatcloneError, match=f"at least {MIN_TEXTS}"):
        AuthorshipModel.fit(_person(rng, MIN_TEXTS - 1), _others(rng, 50))
    with pytest.raises(ChatcloneError, match="got 20 and 0"):
        AuthorshipModel.fit(_person(rng, 20), [""] * 30)


def test_normalised_edge_cases() -> None:
    assert normalised(None, 0.1, 0.9) is None  # the system was not scored
    assert normalised(0.5, None, 0.9) is None
    assert normalised(0.5, 0.1, None) is None
    assert normalised(0.5, 0.4, 0.4) is None  # the classifier cannot tell base from real
    assert normalised(0.5, 0.6, 0.2) is None  # it prefers the base model: meaningless
    assert normalised(0.9, 0.2, 0.6) == pytest.approx(1.75)  # not clipped
    assert normalised(0.0, 0.2, 0.6) == pytest.approx(-0.5)
