"""The one place a prompt is built: the system line, the persona, the opener marker and the
chat-message type, for `build` (training samples), `chat` (and later the server and eval) alike.

`PromptBuilder(identity).build(context, conversation)` returns the system message followed by the
conversation. It is handed the conversation so far (a training window, or a chat's history and new
message) so that a per-window or per-turn block (retrieved memories) can join the system prompt
here without either caller changing. Fine-tuning teaches style; facts come from `persona.md` (and
later retrieval), so the same builder makes the training prompts and every chat's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NotRequired, Protocol, TypedDict

USER, ASSISTANT, SYSTEM = "user", "assistant", "system"
# A session the person opens starts with this user message in training; a chat sends it to have
# the clone text first.
OPENER = "[new conversation]"
DEFAULT_SOURCE = "whatsapp"
SOURCE_NAMES = {
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "discord": "Discord",
    "line": "LINE",
    "chatlab": "ChatLab",
    "signal": "Signal",
    "slack": "Slack",
    "sms": "SMS",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "googlechat": "Google Chat",
    "imessage": "iMessage",
    "csv": "a messenger",
}


class ChatMessage(TypedDict):
    """One message of a conversation, in OpenAI's chat shape. `weight` (assistant messages of a
    training sample only): 0 keeps the reply as context without learning from it."""

    role: str
    content: str
    weight: NotRequired[int]


@dataclass(frozen=True)
class Identity:
    """Whom the clone plays: the person's name, the messenger most of the data comes from, and
    the persona text exactly as the dataset's prompts had it (pseudonymised if the dataset was)."""

    me: str
    source: str = DEFAULT_SOURCE
    persona: str = ""


@dataclass(frozen=True)
class ChatContext:
    """Where the conversation takes place: the chat's name (or the person texting) and whether it
    is a group."""

    partner: str
    is_group: bool = False


class MemorySource(Protocol):
    """Something that recalls what is on record for a conversation (a block of text, "" for
    nothing); the memory stage provides one."""

    def recall(self, identity: Identity, conversation: Sequence[ChatMessage]) -> str: ...


@dataclass(frozen=True)
class PromptBuilder:
    identity: Identity
    memory: MemorySource | None = None

    def system(self, context: ChatContext, conversation: Sequence[ChatMessage] = ()) -> str:
        """The system prompt for this conversation: who, where, how, the persona and, with a
        memory source, what it recalls for these messages."""
        me = self.identity.me
        where = (
            f'the group chat "{context.partner}"'
            if context.is_group
            else f"a chat with {context.partner}"
        )
        source = SOURCE_NAMES.get(self.identity.source, self.identity.source)
        prompt = (
            f"You are {me}, texting on {source} in {where}. Reply as {me} would, in the "
            "same tone, length and habits; separate messages go on separate lines."
        )
        if self.identity.persona:
            prompt += f"\n\nAbout {me}:\n{self.identity.persona}"
        recalled = self.memory.recall(self.identity, conversation) if self.memory else ""
        if recalled:  # it starts with its own heading (`memory.block.HEADING`)
            prompt += f"\n\n{recalled}"
        return prompt

    def build(self, context: ChatContext, conversation: Sequence[ChatMessage]) -> list[ChatMessage]:
        """The whole prompt: the system message, then the conversation as given."""
        head: ChatMessage = {"role": SYSTEM, "content": self.system(context, conversation)}
        return [head, *conversation]


def system_prompt(identity: Identity, context: ChatContext) -> str:
    """The system prompt without memory (what a conversation with no messages yet gets)."""
    return PromptBuilder(identity).system(context)


# --- persona.md ----------------------------------------------------------------------------------

TEMPLATE = """# Persona

<!-- chatclone puts what you write here into the system prompt of every training example and of
every chat with your clone. Short lines work best. Text inside these comment markers is ignored. -->

## Facts about me
<!-- For example:
- I work as a data analyst at a bike-sharing startup.
- I live in Bristol with my cat, Biscuit.
-->

## Backstory and plans
<!-- Anything the clone should know and get right: family, friends, hobbies, trips. -->
"""

_COMMENT = re.compile(r"<!--.*?-->", re.S)


def ensure_persona(path: Path) -> Path:
    """The workspace's persona file (`Workspace.persona_path`), created from the template on first
    use."""
    if not path.exists():
        path.write_text(TEMPLATE, "utf-8")
    return path


def persona_text(path: Path) -> str:
    """What the user wrote: comments removed, and nothing at all if only headings remain."""
    if not path.exists():
        return ""
    text = _COMMENT.sub("", path.read_text("utf-8"))
    # The file's title ("# Persona") is for the user, not the model.
    lines = [line.rstrip() for line in text.splitlines() if not re.match(r"#\s", line)]
    if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        return ""
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
