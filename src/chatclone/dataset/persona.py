"""`persona.md`: the facts and backstory the user writes about themselves, and the system prompt.

Fine-tuning teaches style; facts come from here (and, later, retrieval), so the same system prompt is
used in training and in every chat with the clone.
"""

from __future__ import annotations

import re
from pathlib import Path

PERSONA_FILE = "persona.md"
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
SOURCE_NAMES = {"whatsapp": "WhatsApp", "telegram": "Telegram"}


def ensure_persona(root: Path) -> Path:
    """The workspace's persona file, created from the template on first use."""
    path = root / PERSONA_FILE
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


def system_prompt(me: str, chat: str, is_group: bool, source: str, persona: str) -> str:
    """Names the person, says this is a chat, and adds the persona where there is one."""
    where = f'the group chat "{chat}"' if is_group else f"a chat with {chat}"
    prompt = (
        f"You are {me}, texting on {SOURCE_NAMES.get(source, source)} in {where}. Reply as {me} would, in the "
        "same tone, length and habits; separate messages go on separate lines."
    )
    if persona:
        prompt += f"\n\nAbout {me}:\n{persona}"
    return prompt
