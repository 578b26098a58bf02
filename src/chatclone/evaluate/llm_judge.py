"""An optional LLM judge of fact probes, through any OpenAI-compatible chat completions endpoint.

Off by default: nothing is sent anywhere unless `[eval] judge_url` is set. What is sent is each
probe's question, kind, accepted and wrong strings and the clone's reply, one request per reply, a
few at a time, through the one client path (`openai.client`): its timeout, retries and one-line
errors. In 'back' mode (`BackedJudge`) only the replies the rule judge is unsure of are sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from chatclone.config import EvalSettings
from chatclone.errors import ChatcloneError
from chatclone.evaluate.probes import VERDICTS, FactJudge, Judgement, Probe
from chatclone.openai.judge import WORKERS, JudgeEndpoint, judge_key

PROMPT = (
    "You judge a chatbot that imitates one person, answering a friend's question about the "
    "person's life. You get the QUESTION, its KIND, the ACCEPTED answers (a correct reply contains "
    "one of them, in any case or wording), the WRONG answers (typical of a wrong reply: a stale "
    "value, or playing along with a false premise) and the REPLY. Kinds: answerable (the chats "
    "establish the value), changed (the value changed over time; the accepted one is the latest), "
    "unanswerable (the chats never say), false_premise (the question assumes something false).\n"
    "Verdicts:\n"
    "correct: gives the accepted (current) value, or rejects a false premise, and adds no other "
    "specific personal fact;\n"
    "wrong: commits to a value the chats contradict, such as a wrong answer or a stale value;\n"
    "abstain: declines, says it does not know, or deflects without asserting a fact;\n"
    "hallucinated: asserts a specific personal fact the chats do not support: any concrete answer "
    "to an unanswerable question, playing along with a false premise, or a right answer padded "
    "with invented detail.\n"
    "A reply may name an old or wrong value only to deny it. Answer with one word: correct, wrong, "
    "abstain or hallucinated."
)
_VERDICT = re.compile(r"\b(" + "|".join(VERDICTS) + r")\b", re.I)


class LLMFactJudge:
    """Gives each reply a verdict through a `JudgeEndpoint` at `url` (ending in /v1); `client`
    replaces the SDK client (tests)."""

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60,
        max_retries: int = 2,
        workers: int = WORKERS,
        key_env: str | None = None,
        client: Any = None,
    ) -> None:
        self.endpoint = JudgeEndpoint(
            url, model, name="fact judge", needed_by="the LLM fact judge ([eval] judge_url)",
            api_key=api_key, timeout=timeout, max_retries=max_retries, workers=workers,
            key_env=key_env, client=client,
        )  # fmt: skip

    def judge_all(self, pairs: Sequence[tuple[Probe, str]]) -> list[Judgement]:
        """A judgement per pair, in the order given; the first error stops the rest."""
        return self.endpoint.each(self._one, pairs)

    def _one(self, pair: tuple[Probe, str]) -> Judgement:
        answer = self.endpoint.ask(PROMPT, render_case(*pair), max_tokens=12)
        m = _VERDICT.search(answer)
        if m is None:
            raise ChatcloneError(
                f"the fact judge at {self.endpoint.url} answered {answer!r}, not a verdict"
            )
        return Judgement(m.group(1).lower(), f"LLM judge: {m.group(1).lower()}")


def render_case(probe: Probe, reply: str) -> str:
    """The user message for one reply: everything the verdict depends on, nothing else."""
    accepted = "; ".join(probe.answers) or "(none)"
    wrong = "; ".join(probe.wrong) or "(none)"
    return (
        f"QUESTION: {probe.question}\nKIND: {probe.kind}\nACCEPTED: {accepted}\n"
        f"WRONG: {wrong}\nREPLY: {reply}"
    )


class BackedJudge:
    """The rule judge's verdicts, with the LLM's where the rules were unsure: only those replies
    are sent."""

    def __init__(self, rules: FactJudge, llm: FactJudge) -> None:
        self.rules = rules
        self.llm = llm

    def judge_all(self, pairs: Sequence[tuple[Probe, str]]) -> list[Judgement]:
        judgements = self.rules.judge_all(pairs)
        unsure = [i for i, j in enumerate(judgements) if not j.sure]
        settled = self.llm.judge_all([pairs[i] for i in unsure])
        for i, llm in zip(unsure, settled, strict=True):
            rule = judgements[i]
            judgements[i] = Judgement(llm.verdict, f"{llm.reason} (rules: {rule.reason})")
        return judgements


def llm_judge_from_settings(settings: EvalSettings) -> LLMFactJudge:
    """The configured LLM judge; `judge_url` must be set."""
    settings.check()  # judge_url needs judge_model
    env = settings.judge_api_key_env
    key = judge_key(env, "[eval] judge_api_key_env")
    return LLMFactJudge(settings.judge_url, settings.judge_model, key, key_env=env or None)
