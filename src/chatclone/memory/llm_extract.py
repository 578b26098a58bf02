"""The optional LLM extractor: candidate facts from an OpenAI-compatible endpoint, used only
when `[memory] extractor_url` is set; nothing is sent anywhere by default."""

from __future__ import annotations

import json
from collections.abc import Iterator

from chatclone.memory.candidates import Candidate, Evidence
from chatclone.memory.index import documents, my_names
from chatclone.memory.lexicon import day_of
from chatclone.memory.slots import SLOT_WORDS, SLOTS
from chatclone.openai.judge import JudgeEndpoint, judge_key
from chatclone.workspace import Workspace

LLM_PROMPT = (
    "You find facts about one person in messages they wrote. Each line is one of their messages, "
    "numbered. List only facts the writer states about THEMSELVES, one JSON object per line: "
    '{"n": <message number>, "slot": <slot>, "value": <a few words>, "polarity": "positive" or '
    '"negative"}. Negative: they say it is not so ("i don\'t have siblings" → slot sibling, value '
    f"none, negative). Slots: {', '.join(SLOTS)}. No facts: answer nothing. No other text."
)
LLM_BATCH = 40  # messages per request: enough context, short answers


class LLMExtractor:
    """Candidate facts from an OpenAI-compatible endpoint (`[memory] extractor_url`): the
    person's own messages, a batch per request; answers that name no known slot or no message
    of the batch are dropped."""

    def __init__(self, endpoint: JudgeEndpoint, batch: int = LLM_BATCH) -> None:
        self.endpoint = endpoint
        self.batch = batch

    @classmethod
    def from_settings(cls, ws: Workspace) -> LLMExtractor | None:
        """The configured extractor, or None (the default: nothing is sent anywhere)."""
        memory = ws.settings().memory
        memory.check()
        if not memory.extractor_url:
            return None
        env = memory.extractor_api_key_env
        endpoint = JudgeEndpoint(
            memory.extractor_url, memory.extractor_model, name="fact extractor",
            needed_by="the fact extractor (extractor_url)",
            api_key=judge_key(env, "extractor_api_key_env"), key_env=env or None,
        )  # fmt: skip
        return cls(endpoint)

    def candidates(self, ws: Workspace) -> list[Candidate]:
        me = my_names(ws)
        said = [
            Evidence(d.chat, d.ts, d.sender, d.text)
            for d in documents(ws, me)
            if d.kind == "message"
        ]
        batches = [said[i : i + self.batch] for i in range(0, len(said), self.batch)]
        return [c for found in self.endpoint.each(self._ask, batches) for c in found]

    def _ask(self, batch: list[Evidence]) -> list[Candidate]:
        lines = "\n".join(f"{n}. [{e.ts[:10]}] {e.text}" for n, e in enumerate(batch, 1))
        answer = self.endpoint.ask(LLM_PROMPT, lines, max_tokens=600)
        return list(parse_llm_answer(answer, batch))


def parse_llm_answer(answer: str, batch: list[Evidence]) -> Iterator[Candidate]:
    """The facts in an answer: one JSON object per line; anything else is skipped."""
    for line in answer.splitlines():
        try:
            data = json.loads(line.strip().strip(",").removeprefix("```json").strip("`"))
            n, slot = int(data["n"]), str(data["slot"]).strip().lower()
            value, polarity = str(data["value"]).strip(), str(data.get("polarity", "positive"))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if slot in SLOT_WORDS and value and 1 <= n <= len(batch):
            e = batch[n - 1]
            negative = polarity.lower().startswith("neg")
            yield Candidate(slot, value, "negative" if negative else "positive", 0.6, [e],
                            None if slot == "birthday" else day_of(e.ts), origin="llm")  # fmt: skip
