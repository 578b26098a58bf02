"""The fact sheet: candidate facts about the person, each with the messages it rests on, kept
append-only in `memory/facts.jsonl` and reviewed by the person (`chatclone facts`).

Why append-only: a fact the clone was told must stay explainable later — which messages said it,
when the person confirmed or rejected it, what an edit replaced. So the file holds events, never
rewritten: `fact` (a new fact, from extraction, `add` or `edit`), `evidence` (more messages for a
fact already on file) and `status` (confirmed / rejected). The current view is derived, and so is
time: for a single-valued slot (home, job, employer, partner, age) a newer fact that states a new
state ("moved to X") closes the older one — the older one's `valid_to` is the newer one's
`valid_from` — and both stay listed. `as_of(before)` derives the view as it would have been at an
earlier time, for training samples that must not see the future.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from chatclone.embeddings import DefaultEmbedder, Embedder
from chatclone.errors import ChatcloneError
from chatclone.memory.candidates import Candidate, Evidence, check_slot, fact_key
from chatclone.memory.extract import Progress, embedding_labeler, extract_candidates, merge
from chatclone.memory.llm_extract import LLMExtractor
from chatclone.memory.slots import SINGLE_VALUED, SLOT_WORDS, SLOTS, STATUSES
from chatclone.workspace import Workspace

__all__ = ["STATUSES", "Evidence", "Fact", "FactStore"]

FACTS_FILE = "facts.jsonl"
_NONE_SLOTS = {"sibling", "partner", "pet", "family"}  # "none" reads as "no brothers or sisters"


@dataclass(frozen=True)
class Fact:
    id: str
    slot: str
    value: str
    polarity: str  # "positive" | "negative"
    status: str  # "candidate" | "confirmed" | "rejected"
    valid_from: str | None
    valid_to: str | None
    confidence: float
    evidence: tuple[Evidence, ...]
    origin: str  # "extracted" | "added" | "edited" | "llm"
    superseded_by: str | None = None  # the edit that replaced this fact
    replaces: str | None = None  # the fact this edit replaced

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "slot": self.slot, "value": self.value, "polarity": self.polarity,
            "status": self.status, "valid_from": self.valid_from, "valid_to": self.valid_to,
            "confidence": round(self.confidence, 2), "origin": self.origin,
            "superseded_by": self.superseded_by, "replaces": self.replaces,
            "evidence": [e.to_json() for e in self.evidence],
        }  # fmt: skip

    def line(self) -> str:
        """One short prompt line: "pet: Biscuit, a cat", "sibling: none (no brothers or
        sisters)", "home: Easton (since 2024-04)", "drink: not coffee"."""
        if self.polarity == "negative":
            if self.slot in _NONE_SLOTS:
                why = f"no {SLOT_WORDS[self.slot]}" if self.value in ("none", "") else self.value
                return f"{self.slot}: none ({why})"
            return f"{self.slot}: not {self.value}"
        return f"{self.slot}: {self.value}{self._when()}"

    def _when(self) -> str:
        if self.slot == "trip" and self.valid_from:
            return f" ({self.valid_from}" + (f" to {self.valid_to})" if self.valid_to else ")")
        if self.slot not in SINGLE_VALUED or not self.valid_from:
            return ""
        if self.valid_to:
            return f" ({self.valid_from[:7]} to {self.valid_to[:7]})"
        return f" (since {self.valid_from[:7]})"


@dataclass
class _Record:
    """A fact as its events left it, before time is derived."""

    id: str
    slot: str
    value: str
    polarity: str
    confidence: float
    valid_from: str | None
    valid_to: str | None
    origin: str
    closes: bool
    replaces: str | None
    evidence: list[Evidence] = field(default_factory=list)
    status: str = "candidate"

    @property
    def key(self) -> tuple[str, str, str]:
        return fact_key(self.slot, self.value, self.polarity)

    def known(self, before: str) -> bool:
        return not self.evidence or self.evidence[0].ts < before


class FactStore:
    """`memory/facts.jsonl` of a workspace. `embedder` labels open phrases during extraction
    (default: the packaged all-MiniLM-L6-v2 when installed, loaded only if needed)."""

    def __init__(self, ws: Workspace, embedder: Embedder | None = None) -> None:
        self.ws = ws
        self.path: Path = ws.memory_dir / FACTS_FILE
        self._embedder = embedder

    # --- views ---------------------------------------------------------------------------------

    def facts(self, include_rejected: bool = True) -> list[Fact]:
        """Every fact on record, by slot then confidence; superseded ones too (with valid_to
        or superseded_by set)."""
        view = _view(self._records(), before=None)
        return [f for f in view if include_rejected or f.status != "rejected"]

    def current(self) -> list[Fact]:
        """The facts in force now: not rejected, not replaced by an edit, not closed."""
        return [
            f
            for f in self.facts(include_rejected=False)
            if f.superseded_by is None and not (f.slot in SINGLE_VALUED and f.valid_to)
        ]

    def as_of(self, before: str) -> list[Fact]:
        """The view the clone would have had at `before` (ISO date or date-time): facts whose
        first evidence is earlier (evidence cut to what was said by then), closed only by facts
        known by then; rejected ones left out; added facts (no evidence) always count."""
        records = [r for r in self._records() if r.known(before)]
        return [f for f in _view(records, before=before) if f.status != "rejected"]

    def get(self, id: str) -> Fact:
        for f in self.facts():
            if f.id == id:
                return f
        raise ChatcloneError(f"no fact '{id}' on record: `chatclone facts` lists their ids")

    # --- changes (each appends events) -----------------------------------------------------------

    def extract(self, progress: Progress | None = None) -> tuple[int, list[Fact]]:
        """Find candidates in the person's messages and file the new ones; a fact already on
        file only gains the evidence it lacked. Returns (facts added, all facts)."""
        found = extract_candidates(self.ws, self._labeler(), progress)
        llm = LLMExtractor.from_settings(self.ws)
        if llm is not None:
            found = merge([*found, *llm.candidates(self.ws)])
        records = {r.key: r for r in self._records()}
        events: list[dict[str, Any]] = []
        added = 0
        for c in found:
            have = records.get(c.key)
            if have is None:
                added += 1
                events.append(_fact_event(f"f{len(records) + added}", c))
            elif have.origin in ("extracted", "llm"):
                seen = {e.key for e in have.evidence}
                new = [e.to_json() for e in c.evidence if e.key not in seen]
                if new:
                    events.append({"event": "evidence", "id": have.id, "evidence": new})
        self._append(events)
        return added, self.facts()

    def confirm(self, id: str) -> Fact:
        return self._set_status(id, "confirmed")

    def reject(self, id: str) -> Fact:
        return self._set_status(id, "rejected")

    def add(self, slot: str, value: str, negative: bool = False) -> Fact:
        """A fact the person states themselves: confirmed, no evidence needed, dated today,
        and it closes older values of a single-valued slot."""
        value = _value(value)
        c = Candidate(check_slot(slot), value, "negative" if negative else "positive", 1.0, [],
                      None if slot == "birthday" else date.today().isoformat(), closes=True,
                      origin="added")  # fmt: skip
        fid = f"f{len(self._records()) + 1}"
        self._append([_fact_event(fid, c, status="confirmed")])
        return self.get(fid)

    def edit(self, id: str, value: str) -> Fact:
        """A corrected value: a new, confirmed fact that replaces `id` (which stays on record
        with `superseded_by`), keeping its slot, dates and evidence."""
        old = self.get(id)
        if old.superseded_by:
            raise ChatcloneError(
                f"fact {id} was already edited into {old.superseded_by}: edit that"
            )
        c = Candidate(old.slot, _value(value), old.polarity, 1.0, list(old.evidence), old.valid_from,
                      old.valid_to, closes=True, origin="edited")  # fmt: skip
        fid = f"f{len(self._records()) + 1}"
        self._append([_fact_event(fid, c, status="confirmed", replaces=id)])
        return self.get(fid)

    # --- the file --------------------------------------------------------------------------------

    def _set_status(self, id: str, status: str) -> Fact:
        self.get(id)
        self._append([{"event": "status", "id": id, "status": status}])
        return self.get(id)

    def _labeler(self) -> Callable[[list[str]], list[str | None]]:
        """Labels open phrases with the embedder, loaded only when there are some."""

        def label(phrases: list[str]) -> list[str | None]:
            if self._embedder is None:
                try:
                    self._embedder = DefaultEmbedder()
                except ChatcloneError:  # no 'dataset' extra: the lexicon alone labels
                    return [None] * len(phrases)
            return embedding_labeler(self._embedder)(phrases)

        return label

    def _append(self, events: Iterable[dict[str, Any]]) -> None:
        stamp = datetime.now().isoformat(timespec="seconds")
        lines = [json.dumps(e | {"at": stamp}, ensure_ascii=False) + "\n" for e in events]
        if lines:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.writelines(lines)

    def _records(self) -> list[_Record]:
        if not self.path.exists():
            return []
        records: dict[str, _Record] = {}
        for n, line in enumerate(self.path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                _apply(records, json.loads(line))
            except (ValueError, KeyError, TypeError) as e:
                raise ChatcloneError(f"{self.path}:{n}: not a fact event ({e})") from None
        return list(records.values())


def _value(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ChatcloneError("a fact needs a value")
    return value


def _fact_event(fid: str, c: Candidate, status: str = "candidate", replaces: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "event": "fact", "id": fid, "slot": c.slot, "value": c.value, "polarity": c.polarity,
        "confidence": round(c.confidence, 3), "valid_from": c.valid_from, "valid_to": c.valid_to,
        "origin": c.origin, "closes": c.closes, "replaces": replaces, "status": status,
        "evidence": [e.to_json() for e in c.evidence],
    }  # fmt: skip


def _evidence(items: list[dict[str, str]]) -> list[Evidence]:
    return [
        Evidence(e["chat"], e["ts"], e["sender"], e["text"], e.get("context", "")) for e in items
    ]


def _apply(records: dict[str, _Record], e: dict[str, Any]) -> None:
    if e["event"] == "fact":
        records[e["id"]] = _Record(
            e["id"], e["slot"], e["value"], e["polarity"], float(e["confidence"]),
            e["valid_from"], e["valid_to"], e["origin"], bool(e["closes"]), e.get("replaces"),
            _evidence(e["evidence"]), e.get("status", "candidate"),
        )  # fmt: skip
    elif e["event"] == "evidence":
        r = records[e["id"]]
        r.evidence = sorted(r.evidence + _evidence(e["evidence"]), key=lambda x: x.ts)
    elif e["event"] == "status" and e["status"] in STATUSES:
        records[e["id"]].status = e["status"]


def _view(records: list[_Record], before: str | None) -> list[Fact]:
    """Facts from records: who replaced whom (edits), and when each single-valued fact was
    closed by a newer one that states a new state."""
    replaced = {r.replaces: r.id for r in records if r.replaces}
    live = [r for r in records if r.status != "rejected" and r.id not in replaced]
    facts = []
    for r in records:
        valid_to = r.valid_to
        if r.slot in SINGLE_VALUED and r.valid_from and r.id not in replaced:
            later = [
                o.valid_from
                for o in live
                if o.slot == r.slot and o.closes and o.valid_from and o.valid_from > r.valid_from
                and o.key[1:] != r.key[1:]
            ]  # fmt: skip
            valid_to = min(later, default=valid_to)
        evidence = tuple(e for e in r.evidence if before is None or e.ts < before)
        facts.append(
            Fact(
                r.id,
                r.slot,
                r.value,
                r.polarity,
                r.status,
                r.valid_from,
                valid_to,
                r.confidence,
                evidence,
                r.origin,
                replaced.get(r.id),
                r.replaces,
            )
        )
    order = {s: n for n, s in enumerate(SLOTS)}
    return sorted(facts, key=lambda f: (order.get(f.slot, 99), -f.confidence, int(f.id[1:])))
