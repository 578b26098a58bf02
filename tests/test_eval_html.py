"""report.html from report.json: the page renders, shows every system and figure, loads nothing
from anywhere, escapes chat text, survives missing parts and is byte-for-byte repeatable.

Run: .venv/bin/pytest -q tests/test_eval_html.py
"""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

from chatclone.evaluate.html import render_html

FEATURES = {
    "chars_per_bubble": (31.2, 4.1),
    "words_per_bubble": (6.3, 0.9),
    "bubbles_per_turn": (1.8, 0.4),
    "lowercase_ratio": (0.86, 0.05),
    "question_rate": (0.14, 0.04),
    "exclamation_rate": (0.21, 0.06),
    "emoji_per_bubble": (0.09, 0.03),
    "laughter_per_bubble": (0.05, 0.02),
}


def style(shift: float, authorship: float, distance: float) -> dict[str, Any]:
    """A style block whose features sit about `shift` of the person's spread from theirs, some
    above and some below (the base model's laughter far past the plot's edge)."""
    zs = [shift * ((i % 4) - 1.5) for i in range(len(FEATURES) - 1)] + [shift * 3]
    features = {
        name: {"system": real + z * scale, "real": real, "scale": scale, "z": z}
        for z, (name, (real, scale)) in zip(zs, FEATURES.items(), strict=True)
    }
    return {
        "distance": distance,
        "authorship": authorship,
        "authorship_normalised": authorship / 0.71,
        "copy_rate": 0.0 if shift != 0.4 else 0.04,  # only the fine-tuned run saw the chats
        "distinct_1": 0.52 + shift / 10,
        "distinct_2": 0.91 - shift / 20,
        "features": features,
        "emoji": {
            "system": [["😂", 4], ["🙃", 2]] if shift == 0 else [["😂", 2], ["👍", 2]],
            "real": [["😂", 4], ["🙃", 2]],
            "overlap": 1.0 if shift == 0 else 0.5,
        },
        "vocabulary_overlap": 1.0 - shift / 10,
    }


PROBES = [
    ("pet-name", "answerable", "whats your cats name?"),
    ("home-town", "answerable", "where did you grow up again"),
    ("job", "changed", "where do you work now?"),
    ("sister-kids", "unanswerable", "hows your sisters kid doing"),
    ("boat", "false_premise", "how's the new boat?? <b>sailing</b> yet"),
]
REASONS = {
    "correct": "gives the recorded answer",
    "wrong": "names something the chats contradict",
    "abstain": "says it does not know",
    "hallucinated": "states a fact the chats never give",
}


def facts(
    answers: list[tuple[str, str]], accuracy: float, update: Any, hits: int
) -> dict[str, Any]:
    """Fact results: a (verdict, reply) per probe of PROBES, and headline figures over a larger
    probe set (as a real run with more probes than the page shows would have)."""
    probes = [
        {
            "probe_id": pid,
            "kind": kind,
            "question": question,
            "reply": reply,
            "verdict": verdict,
            "reason": REASONS[verdict],
        }
        for (pid, kind, question), (verdict, reply) in zip(PROBES, answers, strict=True)
    ]
    by_kind: dict[str, dict[str, int]] = {}
    for probe in probes:
        counts = by_kind.setdefault(
            probe["kind"], {"correct": 0, "wrong": 0, "abstain": 0, "hallucinated": 0}
        )
        counts[probe["verdict"]] += 1
    return {
        "accuracy": accuracy,
        "hallucination_rate": 0.6 if hits < 5 else 0.1,
        "abstention_rate": 0.1 if hits < 5 else 0.17,
        "update_accuracy": update,
        "n": len(probes),
        "intervals": {
            "accuracy": [round(accuracy - 0.2, 2), round(accuracy + 0.2, 2)],
            "hallucination_rate": [0.33, 0.85] if hits < 5 else [0.0, 0.3],
            "abstention_rate": [0.0, 0.25] if hits < 5 else [0.0, 0.42],
            "update_accuracy": None,
        },
        "counts": {
            "accuracy": [hits, 12],
            "hallucination_rate": [6, 10] if hits < 5 else [1, 10],
            "abstention_rate": [1, 12] if hits < 5 else [2, 12],
            "update_accuracy": [round(update * 5), 5] if update is not None else None,
        },
        "by_kind": by_kind,
        "probes": probes,
    }


def system(name: str, kind: str, **parts: Any) -> dict[str, Any]:
    real = kind == "real"
    return {
        "name": name,
        "kind": kind,
        "backend": None if real else "local",
        "model": None if real else "default",
        "run": name if kind == "run" else None,
        "style": parts.get("style"),
        "loss": parts.get("loss"),
        "facts": parts.get("facts"),
        "seconds": {"generate": 21.3, "loss": 2.2, "facts": 9.8},
    }


def make_report() -> dict[str, Any]:
    return {
        "name": "eval-20261128-2301",
        "created": "2026-11-28T23:01:00+00:00",
        "dataset": "ds-1",
        "seconds": 84.2,
        "settings": {
            "runs": ["run-1"],
            "base": True,
            "probes": "probes.jsonl",
            "heldout_turns": 40,
            "max_new_tokens": 60,
            "temperature": 0.7,
            "seed": 0,
            "batch_size": 8,
            "judge": "rules",
        },
        "heldout": {"turns": 40, "sessions": 6, "training_replies": 350},
        "authorship_model": {"accuracy": 0.83, "person": 350, "others": 410},
        "systems": [
            system("real", "real", style=style(0.0, 0.71, 0.0)),
            system(
                "base",
                "base",
                style=style(1.5, 0.12, 2.37),
                loss={"valid_nll": 3.41, "tokens": 812},
                facts=facts(
                    [
                        ("wrong", "My cat's name is Whiskers."),
                        ("correct", "I grew up in Leeds."),
                        ("wrong", "I work at a bank."),
                        ("hallucinated", "She's doing great!\n<script>alert('x')</script>"),
                        ("hallucinated", "It's wonderful, we sail every weekend."),
                    ],
                    0.25,
                    0.0,
                    3,
                ),
            ),
            system(
                "run-1",
                "run",
                style=style(0.4, 0.48, 0.93),
                loss={"valid_nll": 2.0467, "tokens": 812},
                facts=facts(
                    [
                        ("correct", "biscuit!\nhes asleep on my laptop"),
                        ("correct", "leeds obvs"),
                        ("correct", "the bike shop now\nleft the bank in march"),
                        ("abstain", "no idea tbh\nhavent asked her in ages"),
                        ("abstain", "what boat 😂"),
                    ],
                    0.62,
                    0.8,
                    8,
                ),
            ),
        ],
        "examples": [
            {
                "context": "how was the climbing",
                "real": "so good\nsent the blue v5!!",
                "replies": {
                    "base": "It was a great experience.",
                    "run-1": "sooo good\nfinally sent it",
                },
            },
            {
                "context": "did u see this <img src=x onerror=alert(1)>",
                "real": "lmaooo",
                "replies": {"base": "Yes, I did.", "run-1": ""},
            },
        ],
    }


def test_the_page_shows_every_system_and_its_figures() -> None:
    page = render_html(make_report())
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for text in ("eval-20261128-2301", "ds-1", "2026-11-28 23:01 UTC", "84.2 s", "rules"):
        assert text in page
    for name in ("real", "base", "run-1"):
        assert f"<th>{name}<br>" in page
    assert "3.410" in page and "2.047" in page  # NLL to three decimals
    assert "0.62 <small>[0.42, 0.82]</small> <small>8/12</small>" in page  # value, interval, counts
    assert "2.37" in page and "0.17" in page  # style distance and normalised authorship (0.12/0.71)
    assert page.count("<svg") == 3  # style dots, verdict stacks, fact bars
    assert "AI" in page and "private" in page
    for kind in ("answerable", "changed", "unanswerable", "false premise"):
        assert f"<h3>{kind} <small>" in page
    # a reply's lines are separate bubbles
    assert '<div class="b">biscuit!</div><div class="b">hes asleep on my laptop</div>' in page


class Tags(HTMLParser):
    """Every tag the browser would see and its attributes (escaped text stays text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_the_page_loads_nothing_from_anywhere() -> None:
    page = render_html(make_report())
    parser = Tags()
    parser.feed(page)
    names = {tag for tag, _ in parser.tags}
    assert {"svg", "table", "style"} <= names
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "image", "use", "a"}
    for tag, attrs in parser.tags:
        for attr, value in attrs:
            # The SVG namespace is an identifier a browser never fetches; nothing else names a URL.
            if (tag, attr) == ("svg", "xmlns"):
                assert value == "http://www.w3.org/2000/svg"
                continue
            assert attr not in {"src", "href", "xlink:href", "srcset", "action", "background"}
            assert "//" not in (value or "") and "url(" not in (value or "")
    rest = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in rest and "https://" not in rest
    assert "@import" not in rest and "url(" not in rest and "@font-face" not in rest


def test_chat_text_is_escaped() -> None:
    report = make_report()
    report["systems"][1]["name"] = "<i>base</i>"
    page = render_html(report)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;sailing&lt;/b&gt;" in page
    assert "&lt;i&gt;base&lt;/i&gt;" in page and "<i>" not in page
    assert "<script" not in page.lower()


def test_missing_parts_render() -> None:
    report = make_report()
    for item in report["systems"]:
        item["facts"] = None
    report["systems"][1]["loss"] = None
    report["systems"][1]["style"] = None
    report["examples"] = []
    page = render_html(report)
    assert page.count("No probes given.") == 2  # the facts and the probes sections
    assert "No held-out samples" in page
    assert page.count("<svg") == 1  # only the style dots remain
    assert "—" in page


def test_a_bare_report_renders() -> None:
    page = render_html({"name": "empty", "systems": [system("real", "real")], "examples": None})
    assert "empty" in page and "No style measures" in page and "No probes given." in page
    assert render_html({}).startswith("<!DOCTYPE html>")


def test_nulls_inside_metrics_show_a_dash() -> None:
    report = make_report()
    base, run = report["systems"][1], report["systems"][2]
    base["style"] = None  # a system with facts but no style
    run["facts"]["update_accuracy"] = None
    run["style"]["features"]["lowercase_ratio"]["z"] = None  # worked out from the means
    del run["style"]["features"]["question_rate"]  # a feature only some systems have
    page = render_html(report)
    assert re.search(r"<th>update accuracy</th>.*?<td class=\"num\">—</td></tr>", page)
    distance = r"<th>style distance</th><td>.*?</td><td[^>]*>0.00</td><td[^>]*>—</td>"
    assert re.search(distance, page)  # base's style cells are dashes
    assert "run-1: 0.89 vs real 0.86 (z +0.60)" in page
    assert "My cat&#x27;s name is Whiskers." in page  # base's probes still shown


def test_the_same_report_gives_the_same_page() -> None:
    report = make_report()
    first = render_html(report)
    assert render_html(copy.deepcopy(report)) == first
    assert report == make_report()  # rendering leaves the report alone
