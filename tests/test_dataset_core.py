"""The dataset builder's pure steps: sessions, turns and their drop reasons, samples, the split."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatclone.config import parse_duration
from chatclone.dataset.lowinfo import heuristic_score, is_question, score_replies
from chatclone.dataset.model import Bubble, Drops, Sample, Session, Turn
from chatclone.dataset.samples import (
    chronological_split,
    dedupe,
    render_session,
    render_turn,
    windowed_samples,
)
from chatclone.dataset.sessions import split_sessions
from chatclone.dataset.stream import SessionReader
from chatclone.dataset.turns import blocked_pattern, build_turns, own_messages_only
from chatclone.errors import ChatcloneError
from chatclone.messages import Chat, Kind, Message
from chatclone.prompt import (
    ASSISTANT,
    OPENER,
    TEMPLATE,
    USER,
    ChatContext,
    ChatMessage,
    Identity,
    persona_text,
    system_prompt,
)

ME = {"Sam"}


def msg(ts: str, sender: str | None, text: str, kind: Kind = Kind.TEXT) -> Message:
    return Message("Chat", "whatsapp:1", "whatsapp", f"2024-03-01T{ts}", sender, kind, text)


class Words:
    """A stand-in token counter: one token per word plus one per message."""

    name, exact, note = "words", True, ""

    def count(self, messages: list[dict[str, object]]) -> int:
        return sum(self.count_each(messages))

    def count_each(self, messages: list[dict[str, object]]) -> list[int]:
        return [len(str(m["content"]).split()) + 1 for m in messages]


words = Words()


class FixedPrompt:
    """A prompt builder whose system prompt is the given text, whatever the conversation."""

    def __init__(self, text: str) -> None:
        self.text = text

    def system(self, context: ChatContext, conversation: object = ()) -> str:
        return self.text

    def build(self, context: ChatContext, conversation: list[ChatMessage]) -> list[ChatMessage]:
        return [{"role": "system", "content": self.text}, *conversation]


def session_samples(
    s: Session, system: str, counter: Words, max_tokens: int, sep: str, drops: Drops
) -> list[Sample]:
    """The two steps `build` runs for each session, with this file's word counter."""
    messages = render_session(s, sep, drops)
    sizes = counter.count_each(messages)

    def size(text: str) -> int:
        return counter.count([{"role": "system", "content": text}])

    builder: Any = FixedPrompt(system)
    return (
        windowed_samples(s, messages, sizes, builder, size, max_tokens, drops) if messages else []
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90m", timedelta(minutes=90)), ("3h", timedelta(hours=3)), ("1h30m", timedelta(minutes=90)),
     ("2d", timedelta(days=2)), ("45s", timedelta(seconds=45)), ("1.5h", timedelta(minutes=90))],
)  # fmt: skip
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "3 hours", "h", "0m", "3x"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ChatcloneError):
        parse_duration(text)


def test_sessions_split_only_where_the_gap_is_longer() -> None:
    msgs = [msg("09:00", "Ana", "a"), msg("12:00", "Sam", "b"), msg("15:01", "Ana", "c")]
    sessions = list(split_sessions(msgs, timedelta(hours=3)))
    assert [[m.text for m in s] for s in sessions] == [["a", "b"], ["c"]]
    assert len(list(split_sessions(msgs, timedelta(hours=4)))) == 1
    assert list(split_sessions([], timedelta(hours=3))) == []


def test_turns_keep_bubbles_and_merge_group_speakers() -> None:
    drops = Drops()
    turns = build_turns(
        [msg("09:00", "Ana", "hi"), msg("09:00", "Bo", "hey sam"), msg("09:01", "Sam", "hey"),
         msg("09:01", "Sam", "whats up")],
        ME, drops,
    )  # fmt: skip
    assert [t.role for t in turns] == [USER, ASSISTANT]
    assert [(b.sender, b.text) for b in turns[0].bubbles] == [("Ana", "hi"), ("Bo", "hey sam")]
    assert [b.text for b in turns[1].bubbles] == ["hey", "whats up"]
    assert drops.as_dict() == {}


def test_every_dropped_message_and_turn_is_counted() -> None:
    drops = Drops()
    turns = build_turns(
        [
            msg("09:00", None, "Ana added Bo", Kind.SYSTEM),
            msg("09:01", "Ana", "", Kind.DELETED),
            msg("09:02", "Ana", "", Kind.MEDIA),  # Ana's turn: media only
            msg("09:03", "Sam", "", Kind.MEDIA),
            msg("09:03", "Sam", "look at this cat", Kind.MEDIA),  # a caption is text
            msg("09:04", "Bo", "https://example.com/x"),  # link only
            msg("09:05", "Sam", "secret project stuff"),  # blocked word
            msg("09:06", "Ana", "missed call", Kind.CALL),
            msg("09:07", "Ana", "lunch?"),
        ],
        ME, drops, blocked_pattern(["secret project"]),
    )  # fmt: skip
    assert [(t.role, [b.text for b in t.bubbles]) for t in turns] == [
        (ASSISTANT, ["look at this cat"]),
        (USER, ["lunch?"]),
    ]
    assert drops.as_dict() == {
        "blocked_word_turn": 1, "call_message": 1, "deleted_message": 1, "link_only_turn": 1,
        "media_message": 2, "media_only_turn": 1, "system_message": 1,
    }  # fmt: skip


def test_blocked_words_match_whole_words_only() -> None:
    pattern = blocked_pattern(["cat", " "])
    assert pattern is not None
    assert pattern.search("my Cat is cute") and not pattern.search("concatenate")
    assert blocked_pattern([]) is None


def test_a_session_is_mine_only_when_no_one_elses_turn_is_left() -> None:
    def turns(*messages: Message) -> list[Turn]:
        return build_turns(list(messages), ME, Drops())

    assert own_messages_only(turns(msg("09:00", "Sam", "note to self"), msg("09:01", "Sam", "x")))
    # Ana's photo without a caption leaves no turn of hers: nobody is answered here either.
    assert own_messages_only(
        turns(msg("09:00", "Ana", "", Kind.MEDIA), msg("09:01", "Sam", "nice pic"))
    )
    assert not own_messages_only(turns(msg("09:00", "Ana", "hi?")))
    assert not own_messages_only(turns(msg("09:00", "Sam", "hi"), msg("09:01", "Ana", "hey")))


class ChatsStore:
    """The three calls `SessionReader` makes of a store, over messages held in memory."""

    def __init__(self, chats: dict[str, list[Message]]) -> None:
        self.messages = chats

    def chats(self) -> list[Chat]:
        return [Chat(name, name, "whatsapp") for name in self.messages]

    def chat_senders(self, chat_id: str) -> set[str]:
        return {m.sender for m in self.messages[chat_id] if m.sender is not None}

    def iter_messages(self, chat_id: str) -> list[Message]:
        return self.messages[chat_id]


def test_sessions_of_only_my_messages_are_counted_read_then_dropped() -> None:
    """Dropped as soon as their turns are built: not passed on to any later step (scoring,
    samples), yet in the totals like every session dropped whole, so that the report's
    `sessions` is `sessions_kept` plus the dropped ones."""
    drops = Drops()
    reader = SessionReader(timedelta(hours=1), None, drops)
    store: Any = ChatsStore(
        {
            "Ana": [
                msg("09:00", "Ana", "lunch?"), msg("09:01", "Sam", "yes"),
                msg("12:00", "Sam", "talking to myself"), msg("12:01", "Sam", "again"),
                msg("15:00", "Ana", "hello?"),
                msg("18:00", "Ana", "", Kind.MEDIA), msg("18:01", "Sam", "nice pic"),
            ],
            "Notes": [msg("09:00", "Sam", "buy milk"), msg("11:00", "Sam", "call mum")],
        }
    )  # fmt: skip
    kept = list(reader.sessions(store, ME, lambda text: text))
    shown = [[b.text for t in s.turns for b in t.bubbles] for s, _ in kept]
    assert shown == [["lunch?", "yes"], ["hello?"]]
    assert drops.counts["own_messages_only_session"] == 4
    assert (reader.count, reader.turns) == (6, 7)
    assert reader.count == len(kept) + drops.counts["own_messages_only_session"]
    assert sum(reader.sources.values()) == reader.count


def test_cleaning_runs_on_every_kept_text() -> None:
    turns = build_turns([msg("09:00", "Ana", "call me at 555")], ME, Drops(), None, str.upper)
    assert turns[0].bubbles[0].text == "CALL ME AT 555"


def session(*turns: tuple[str, str], group: bool = False) -> Session:
    made = [Turn(role, [Bubble("Ana" if role == USER else "Sam", t, "2024-03-01T09:00")])
            for role, t in turns]  # fmt: skip
    return Session("Chat", "whatsapp:1", group, made)


def test_a_session_i_open_starts_with_the_opener() -> None:
    s = session((ASSISTANT, "morning!"), (USER, "hi sam"), (ASSISTANT, "coffee?"))
    [sample] = session_samples(s, "sys", words, 1000, "\n", Drops())
    assert [m["role"] for m in sample.messages] == ["system", USER, ASSISTANT, USER, ASSISTANT]
    assert sample.messages[1]["content"] == OPENER


def test_sessions_where_i_never_answer_are_dropped() -> None:
    drops = Drops()
    assert session_samples(session((USER, "hello?")), "s", words, 100, "\n", drops) == []
    assert session_samples(session((ASSISTANT, "anyone?")), "s", words, 100, "\n", drops) == []
    assert drops.as_dict() == {"no_reply_session": 2}


def test_windows_never_cut_a_turn_and_overlap_by_one_exchange() -> None:
    turns = [(USER if i % 2 == 0 else ASSISTANT, f"message number {i}") for i in range(10)]
    drops = Drops()
    samples = session_samples(session(*turns), "sys", words, 2 + 4 * 4, "\n", drops)
    contents = [[m["content"] for m in s.messages[1:]] for s in samples]
    for window in contents:
        assert len(window) % 2 == 0
    # every assistant turn is trained in some window; consecutive windows share one exchange
    trained = {c for w in contents for c in w[1::2]}
    assert trained == {f"message number {i}" for i in range(1, 10, 2)}
    for a, b in itertools.pairwise(contents):
        assert a[-2:] == b[:2]
    assert all(s.tokens <= 18 for s in samples)


def test_an_exchange_too_long_for_any_window_is_counted() -> None:
    long = " ".join(["word"] * 50)
    drops = Drops()
    s = session((USER, long), (ASSISTANT, "ok then"), (USER, "and?"), (ASSISTANT, "fine"))
    samples = session_samples(s, "sys", words, 20, "\n", drops)
    assert drops.as_dict() == {"too_long_exchange": 1}
    assert [m["content"] for m in samples[0].messages[1:]] == ["and?", "fine"]


def test_group_user_turns_name_their_senders_and_low_info_replies_have_weight_0() -> None:
    turn = Turn(USER, [Bubble("Ana", "hi", "t"), Bubble("Bo", "yo", "t")])
    assert render_turn(turn, True, "\n")["content"] == "Ana: hi\nBo: yo"
    assert render_turn(turn, False, " / ")["content"] == "hi / yo"
    quiet = Turn(ASSISTANT, [Bubble("Sam", "ok", "t")], train=False)
    assert render_turn(quiet, False, "\n") == {"role": ASSISTANT, "content": "ok", "weight": 0}
    drops = Drops()
    s = Session("Chat", "c", False, [Turn(USER, [Bubble("Ana", "hi", "t")]), quiet])
    assert session_samples(s, "sys", words, 100, "\n", drops) == []
    assert drops.as_dict() == {"low_information_sample": 1}


def sample(start: str, *contents: str) -> Sample:
    roles = [USER, ASSISTANT] * len(contents)
    messages = [{"role": "system", "content": "s"}] + [
        {"role": r, "content": c} for r, c in zip(roles, contents, strict=False)
    ]
    return Sample(messages, "Chat", start)


def test_dedupe_drops_exact_and_near_repeats() -> None:
    drops = Drops()
    kept = dedupe(
        [sample("1", "hi", "hello!"), sample("2", "hi", "hello!"), sample("3", "Hi", "hello"),
         sample("4", "hi", "bye")],
        drops,
    )  # fmt: skip
    assert [s.session_start for s in kept] == ["1", "4"]
    assert drops.as_dict() == {"duplicate_sample": 1, "near_duplicate_sample": 1}


def test_split_holds_out_the_most_recent_sessions() -> None:
    samples = [sample(f"2024-03-{d:02d}", "q", "a") for d in (5, 1, 9, 3, 7, 2, 8, 4, 6, 10)]
    train, valid = chronological_split(samples, 0.2)
    assert sorted(s.session_start for s in valid) == ["2024-03-09", "2024-03-10"]
    assert max(s.session_start for s in train) < min(s.session_start for s in valid)
    assert chronological_split(samples, 0.0)[1] == []
    assert chronological_split(samples, 0.2) == (train, valid)  # deterministic


def test_persona_template_is_empty_until_filled(tmp_path: Path) -> None:
    path = tmp_path / "persona.md"
    path.write_text(TEMPLATE)
    assert persona_text(path) == ""
    path.write_text(TEMPLATE + "\n- I have a cat called Biscuit.\n")
    assert "- I have a cat called Biscuit." in persona_text(path)
    assert "<!--" not in persona_text(path)
    prompt = system_prompt(
        Identity("Sam", "whatsapp", persona_text(path)), ChatContext("Family", is_group=True)
    )
    assert prompt.startswith("You are Sam, texting on WhatsApp in the group chat")
    assert "# Persona" not in prompt and "## Facts about me" in prompt
    assert "About Sam:" in prompt and "Biscuit" in prompt
    assert "About" not in system_prompt(Identity("Sam", "telegram"), ChatContext("Jo"))


@pytest.mark.parametrize(
    ("text", "low"),
    [("ok", True), ("lol", True), ("👍", True), ("haha ok", True), ("jaja vale", True),
     ("...", True), ("i work at a bike-sharing startup as their only data analyst", False)],
)  # fmt: skip
def test_heuristic_score(text: str, low: bool) -> None:
    assert (heuristic_score(text) < 0.35) is low


def test_questions_in_several_languages() -> None:
    assert all(map(is_question, ["where do you live", "¿dónde vives?", "wo wohnst du", "ok?"]))
    assert not is_question("it was fun")


class FakeEmbedder:
    """Vectors that put texts about cats close to each other."""

    def encode(self, texts: list[str]) -> object:
        import numpy as np

        vecs = np.array([[1.0, 0.0] if "cat" in t.lower() else [0.0, 1.0] for t in texts])
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def test_embedding_closeness_lifts_a_short_answer_to_the_question() -> None:
    replies = ["cat is fine", "cat is fine", "ok"]
    contexts = ["how is the cat?", "nice weather", "how is the cat?"]
    scores = score_replies(replies, contexts, ["weather talk"], FakeEmbedder())
    assert scores[0] > 0.35 > scores[1]  # same reply: informative only as an answer
    assert scores[2] == heuristic_score("ok")  # fillers stay low whatever they answer


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 400), max_size=40),
    st.sampled_from([0, 1, 30, 59, 60, 61, 119, 120, 180, 24 * 60]),
    st.booleans(),
)
def test_sessions_split_where_every_time_is_compared(
    steps: list[int], gap_minutes: int, seconds: bool
) -> None:
    """The split skips parsing the times of messages in the same hour: the sessions must be
    those of comparing every message's time with the one before (steps in minutes, around hour
    and day boundaries, with and without seconds)."""
    start, gap = datetime(2024, 3, 14, 22, 37), timedelta(minutes=gap_minutes)
    stamps = list(itertools.accumulate(steps, lambda t, s: t + timedelta(minutes=s), initial=start))
    fmt = "%Y-%m-%dT%H:%M:%S" if seconds else "%Y-%m-%dT%H:%M"
    msgs = [
        Message("c", "c", "x", t.strftime(fmt), "A", Kind.TEXT, str(i))
        for i, t in enumerate(stamps)
    ]

    want: list[list[Message]] = []
    for i, m in enumerate(msgs):
        if i == 0 or stamps[i] - stamps[i - 1] > gap:
            want.append([])
        want[-1].append(m)
    assert list(split_sessions(msgs, gap)) == want
