"""What `chatclone export` was asked for, shared by every format, and the helpers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatclone import models
from chatclone.chat.generation import DEFAULT_CONTEXT_TOKENS, GenerationSettings
from chatclone.prompt import ChatContext, system_prompt
from chatclone.train.runs import RunRecord

OUTTYPES = ("f16", "f32", "q8_0")
# What `chatclone chat` samples with; the exports carry the same defaults.
CHAT_DEFAULTS = GenerationSettings()
MEMORY_NOTE = (
    "The system prompt is the clone's prompt for this partner without the memory block: "
    "`chatclone chat` adds what it recalls to each turn's system prompt, which a static "
    "export cannot do."
)


@dataclass(frozen=True)
class ExportOptions:
    format: str
    run: str | None = None
    out: Path | None = None
    partner: str = "a friend"
    outtype: str = "f16"
    converter: Path | None = None


def clone_system_prompt(record: RunRecord, partner: str) -> str:
    """The system prompt `chatclone chat --partner PARTNER` starts a conversation with."""
    return system_prompt(record.identity, ChatContext(partner))


def architecture(config: Any) -> str:
    """The model class a transformers config names first (`LlamaForCausalLM`…): what Ollama's
    and llama.cpp's converters pick their conversion by."""
    return str((getattr(config, "architectures", None) or ["?"])[0])


def base_config(record: RunRecord) -> Any:
    """The config of the run's base model, read without loading any weights: merging keeps the
    architecture, so an export checks it here, before the slow merge."""
    from transformers import AutoConfig

    with models.quiet_loading():
        return AutoConfig.from_pretrained(models.base_model_path(record.base))


def history_tokens(record: RunRecord) -> int:
    return record.context_tokens or DEFAULT_CONTEXT_TOKENS


def model_name(run: str) -> str:
    """A name for the exported model that Ollama and vLLM accept: chatclone-RUN, lower case."""
    return "chatclone-" + re.sub(r"[^a-z0-9._-]+", "-", run.lower()).strip("-.")
