"""Ollama Modelfiles: written from parts, and read back the way `ollama create` reads them, so an
export checks its own Modelfile before writing it.

The reader follows Ollama's parser (ollama/ollama parser/parser.go): `#` comments on their own
lines, case-insensitive instructions, values that run to the end of the line unless quoted with
`"…"` or `\"\"\"…\"\"\"` (then they may span lines), surrounding whitespace trimmed, and characters
that Go does not count as printable (zero-width joiners, non-breaking spaces…) dropped. The checks
follow the documented Modelfile reference (docs/modelfile.md): FROM is required and PARAMETER
names and value types are the documented ones.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from chatclone.errors import ChatcloneError

INSTRUCTIONS = {
    "from",
    "parameter",
    "template",
    "system",
    "adapter",
    "license",
    "message",
    "requires",
    "renderer",
    "parser",
}
# docs/modelfile.md "Valid Parameters and Values"
PARAMETERS: dict[str, type] = {
    "num_ctx": int,
    "repeat_last_n": int,
    "repeat_penalty": float,
    "temperature": float,
    "seed": int,
    "stop": str,
    "num_predict": int,
    "top_k": int,
    "top_p": float,
    "min_p": float,
}
MESSAGE_ROLES = {"system", "user", "assistant"}
TRIPLE = '"""'


class ModelfileError(ChatcloneError):
    """A Modelfile that `ollama create` would reject or read differently from what was meant."""


@dataclass(frozen=True)
class Command:
    """One instruction: its lower-case name (`from`, `system`, `parameter`…), for a PARAMETER the
    parameter's name, and the value as Ollama reads it."""

    name: str
    value: str
    parameter: str = ""


def quote(value: str) -> str:
    """A value as a Modelfile writes it: triple quotes when it spans lines, has quotes or
    surrounding spaces, bare otherwise."""
    if TRIPLE in value:
        raise ModelfileError(f'a Modelfile value cannot contain """: {value[:60]!r}…')
    if "\n" in value or '"' in value or value != value.strip() or not value:
        return f"{TRIPLE}{value}{TRIPLE}"
    return value


def write(
    source: str,
    parameters: Sequence[tuple[str, str | int | float]],
    template: str,
    system: str,
    comments: Sequence[str] = (),
) -> str:
    lines = [f"# {c}" if c else "#" for c in comments]
    lines += [f"FROM {source}", ""]
    lines += [f"PARAMETER {name} {_parameter_value(value)}" for name, value in parameters]
    lines += ["", f"TEMPLATE {quote(template)}", "", f"SYSTEM {quote(system)}", ""]
    return "\n".join(lines)


def _parameter_value(value: str | int | float) -> str:
    if isinstance(value, str):
        return f'"{value}"' if value and '"' not in value and "\n" not in value else quote(value)
    return repr(value) if isinstance(value, float) else str(value)


def _printable(char: str) -> bool:
    """Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    return char == " " or unicodedata.category(char)[0] in "LMNPS"


def _unquote(text: str) -> tuple[str, bool]:
    if text.startswith(TRIPLE):
        return (text[3:-3], True) if len(text) >= 6 and text.endswith(TRIPLE) else ("", False)
    if text.startswith('"'):
        return (text[1:-1], True) if len(text) >= 2 and text.endswith('"') else ("", False)
    return text, True


def parse(text: str) -> list[Command]:
    """The instructions of a Modelfile, read as Ollama's parser reads them."""
    commands: list[Command] = []
    pos, line = 0, 1
    while pos < len(text):
        char = text[pos]
        if char in " \t\r\n":
            line += char == "\n"
            pos += 1
            continue
        if char == "#":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
            continue
        start = pos
        while pos < len(text) and text[pos].isascii() and text[pos].isalpha():
            pos += 1
        word = text[start:pos].lower()
        if word not in INSTRUCTIONS or pos >= len(text) or text[pos] not in " \t":
            raise ModelfileError(f"Modelfile line {line}: unknown instruction {text[start:pos]!r}")
        pos += 1
        parameter = ""
        if word in ("parameter", "message"):
            start = pos
            while pos < len(text) and (
                (text[pos].isascii() and text[pos].isalnum()) or text[pos] == "_"
            ):
                pos += 1
            parameter = text[start:pos]
            if not parameter or pos >= len(text) or text[pos] not in " \t":
                raise ModelfileError(f"Modelfile line {line}: {word.upper()} needs a name")
            pos += 1
        value, pos, line = _value(text, pos, line)
        commands.append(Command("model" if word == "from" else word, value, parameter))
    if not any(c.name == "model" for c in commands):
        raise ModelfileError("the Modelfile has no FROM line")
    return commands


def _value(text: str, pos: int, line: int) -> tuple[str, int, int]:
    """A value starting at `pos`: it ends at a newline (or space, for Ollama's state machine
    checks at each blank) where the text so far, trimmed, is a complete value."""
    buffer: list[str] = []
    while pos < len(text):
        char = text[pos]
        pos += 1
        if char in " \t\r\n":
            line += char == "\n"
            value, complete = _unquote("".join(buffer).strip())
            if complete and char in "\r\n":
                return value, pos, line
            buffer.append(char)
        elif _printable(char):
            buffer.append(char)
    value, complete = _unquote("".join(buffer).strip())
    if not complete:
        raise ModelfileError(f"Modelfile line {line}: a quoted value is never closed")
    return value, pos, line


def check(commands: Sequence[Command]) -> None:
    """The documented rules a Modelfile must follow: known PARAMETER names with values of their
    type, MESSAGE roles, one FROM at least."""
    for c in commands:
        if c.name == "parameter":
            kind = PARAMETERS.get(c.parameter)
            if kind is None:
                raise ModelfileError(f"PARAMETER {c.parameter} is not a documented parameter")
            try:
                kind(c.value)
            except ValueError:
                raise ModelfileError(
                    f"PARAMETER {c.parameter} needs a {kind.__name__}, not {c.value!r}"
                ) from None
        elif c.name == "message" and c.parameter not in MESSAGE_ROLES:
            raise ModelfileError(f"MESSAGE role {c.parameter!r} is not system, user or assistant")


def values(commands: Sequence[Command], name: str) -> list[str]:
    return [c.value for c in commands if c.name == name]


def parameters(commands: Sequence[Command]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for c in commands:
        if c.name == "parameter":
            found.setdefault(c.parameter, []).append(c.value)
    return found
