"""A small renderer for the subset of Go's text/template that Ollama's chat templates use, so an
export can render the TEMPLATE it writes and compare the prompt with the Hugging Face chat template
before anything is written.

Supported: text, `{{ … }}` actions with the `{{-`/`-}}` trim markers, `if`/`else if`/`else`/`end`,
`range` (optionally `range $i, $m := …`) with `else`, fields (`.Role`, `.Messages`, `$.System`,
`$m.Content`), string and integer literals, parentheses and the functions `eq`, `ne`, `not`, `and`,
`or` and `len`. Anything else is a `TemplateError`: the renderer refuses what it cannot check.

`ollama_prompt(template, messages)` renders a conversation the way Ollama's `template.Execute`
does (ollama/ollama template/template.go): system messages joined into `.System`, consecutive
messages of one role merged with a blank line, and, for a template that does not use `.Messages`,
the legacy `.System`/`.Prompt`/`.Response` rendering once per exchange.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatclone.errors import ChatcloneError


class TemplateError(ChatcloneError):
    """A Go template outside the supported subset, or one that fails to render."""


# --- parsing ------------------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-[ \t\r\n])?(.*?)([ \t\r\n]-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<num>-?\d+)
      | (?P<var>\$[A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*)
      | (?P<field>(?:\.[A-Za-z_][A-Za-z_0-9]*)+|\.)
      | (?P<ident>[A-Za-z_][A-Za-z_0-9]*)
      | (?P<punct>:=|[(),=])
    )""",
    re.X,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_FUNCTIONS = {"eq", "ne", "not", "and", "or", "len"}
_WHITESPACE = " \t\r\n"


@dataclass
class _Text:
    text: str


@dataclass
class _Action:
    expr: Any


@dataclass
class _If:
    cond: Any
    then: list[Any] = field(default_factory=list)
    otherwise: list[Any] = field(default_factory=list)


@dataclass
class _Range:
    names: list[str]
    expr: Any
    body: list[Any] = field(default_factory=list)
    otherwise: list[Any] = field(default_factory=list)


def _tokens(source: str) -> list[tuple[str, str]]:
    out, pos, source = [], 0, source.rstrip()
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match or match.end() == pos:
            raise TemplateError(f"cannot read {source[pos:]!r} in a template action")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _literal(kind: str, text: str) -> str:
    if kind == "raw":
        return text[1:-1]
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            escaped = body[i + 1] if i + 1 < len(body) else ""
            if escaped not in _ESCAPES:
                raise TemplateError(f"unsupported escape \\{escaped} in {text}")
            out.append(_ESCAPES[escaped])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


class _ExprParser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.pos = tokens, 0

    def parse(self) -> Any:
        expr = self.command()
        if self.pos != len(self.tokens):
            raise TemplateError(f"unexpected {self.tokens[self.pos][1]!r} in a template action")
        return expr

    def command(self) -> Any:
        operands = []
        while self.pos < len(self.tokens) and self.tokens[self.pos][1] != ")":
            operands.append(self.operand())
        if not operands:
            raise TemplateError("an empty template action")
        head = operands[0]
        if isinstance(head, tuple) and head[0] == "func":
            return ("call", head[1], operands[1:])
        if len(operands) > 1:
            raise TemplateError("only functions take arguments in a template action")
        return head

    def operand(self) -> Any:
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if kind in ("str", "raw"):
            return ("lit", _literal(kind, text))
        if kind == "num":
            return ("lit", int(text))
        if kind == "field":
            return ("field", "", [p for p in text.split(".") if p])
        if kind == "var":
            name, *path = text.split(".")
            return ("field", name, path)
        if kind == "ident":
            if text in ("true", "false"):
                return ("lit", text == "true")
            if text not in _FUNCTIONS:
                raise TemplateError(f"the function {text!r} is not supported by this renderer")
            return ("func", text)
        if text == "(":
            inner = self.command()
            if self.pos >= len(self.tokens) or self.tokens[self.pos][1] != ")":
                raise TemplateError("an unclosed parenthesis in a template action")
            self.pos += 1
            return inner
        raise TemplateError(f"unexpected {text!r} in a template action")


def _expr(source: str) -> Any:
    return _ExprParser(_tokens(source)).parse()


def _range_header(source: str) -> tuple[list[str], Any]:
    tokens = _tokens(source)
    if any(t[1] == ":=" for t in tokens):
        split = next(i for i, t in enumerate(tokens) if t[1] == ":=")
        names = [t[1] for t in tokens[:split] if t[1] != ","]
        if not names or len(names) > 2 or any(not n.startswith("$") for n in names):
            raise TemplateError(f"cannot read the range variables in {source!r}")
        return names, _ExprParser(tokens[split + 1 :]).parse()
    return [], _ExprParser(tokens).parse()


def parse(template: str) -> list[Any]:
    """The template's node tree; a `TemplateError` for anything outside the subset."""
    pieces: list[Any] = []  # text strings and (kind, body) actions, trims applied
    pos, trim_next = 0, False
    for match in _ACTION.finditer(template):
        text = template[pos : match.start()]
        if trim_next:
            text = text.lstrip(_WHITESPACE)
        if match.group(1):
            text = text.rstrip(_WHITESPACE)
        pieces.append(text)
        pieces.append(match.group(2).strip())
        trim_next, pos = bool(match.group(3)), match.end()
    tail = template[pos:]
    if "{{" in tail:
        raise TemplateError("an unclosed {{ in the template")
    pieces.append(tail.lstrip(_WHITESPACE) if trim_next else tail)

    root: list[Any] = []
    stack: list[tuple[Any, list[Any]]] = []  # (open node, the list being filled)
    current = root
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            if piece:
                current.append(_Text(piece))
            continue
        word, _, rest = piece.partition(" ")
        if piece.startswith("/*"):
            continue
        if word == "if":
            node: Any = _If(_expr(rest))
            current.append(node)
            stack.append((node, current))
            current = node.then
        elif word == "range":
            names, expr = _range_header(rest)
            node = _Range(names, expr)
            current.append(node)
            stack.append((node, current))
            current = node.body
        elif word == "else":
            if not stack:
                raise TemplateError("{{ else }} outside an if or range")
            node, parent = stack[-1]
            if rest.startswith("if "):
                if not isinstance(node, _If):
                    raise TemplateError("{{ else if }} inside a range")
                inner = _If(_expr(rest[3:]))
                node.otherwise.append(inner)
                stack[-1] = (inner, parent)  # one {{ end }} closes the whole chain
                current = inner.then
            else:
                current = node.otherwise
        elif word == "end":
            if not stack or rest:
                raise TemplateError("an {{ end }} without an open if or range")
            _, current = stack.pop()
        elif word in ("with", "define", "template", "block", "break", "continue"):
            raise TemplateError(f"{{{{ {word} }}}} is not supported by this renderer")
        else:
            current.append(_Action(_expr(piece)))
    if stack:
        raise TemplateError("an if or range without its {{ end }}")
    return root


# --- rendering ----------------------------------------------------------------------------------


def _truth(value: Any) -> bool:
    return bool(value) if value is not None else False


def _lookup(value: Any, path: Sequence[str]) -> Any:
    """A field; a missing one is Go's zero value (Ollama executes with missingkey=zero), which
    prints as "<no value>", so a template reading a field a chat lacks fails the comparison."""
    for name in path:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise TemplateError(f"the template reads .{name} of a value that has no fields")
        value = value.get(name)
    return value


class _Scope:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root, self.dot = root, root
        self.variables: dict[str, Any] = {"$": root}

    def evaluate(self, expr: Any) -> Any:
        kind = expr[0]
        if kind == "lit":
            return expr[1]
        if kind == "field":
            _, var, path = expr
            if var:
                if var not in self.variables:
                    raise TemplateError(f"the template reads {var}, which is not defined")
                return _lookup(self.variables[var], path)
            return _lookup(self.dot, path)
        if kind == "call":
            _, name, args = expr
            return self.call(name, args)
        raise TemplateError(f"the function {expr[1]!r} needs arguments")

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "and":
            value: Any = True
            for arg in args:
                value = self.evaluate(arg)
                if not _truth(value):
                    return value
            return value
        if name == "or":
            value = False
            for arg in args:
                value = self.evaluate(arg)
                if _truth(value):
                    return value
            return value
        values = [self.evaluate(a) for a in args]
        if name == "not" and len(values) == 1:
            return not _truth(values[0])
        if name == "len" and len(values) == 1:
            return len(values[0])
        if name in ("eq", "ne") and len(values) >= 2:
            equal = any(values[0] == v for v in values[1:])
            return equal if name == "eq" else not equal
        raise TemplateError(f"{name} with {len(values)} arguments is not supported")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<no value>"
    return str(value)


def _render(nodes: list[Any], scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Action):
            out.append(_show(scope.evaluate(node.expr)))
        elif isinstance(node, _If):
            branch = node.then if _truth(scope.evaluate(node.cond)) else node.otherwise
            _render(branch, scope, out)
        elif isinstance(node, _Range):
            items = scope.evaluate(node.expr) or []
            if not items:
                _render(node.otherwise, scope, out)
            saved = scope.dot
            for index, item in enumerate(items):
                scope.dot = item
                if len(node.names) == 2:
                    scope.variables[node.names[0]], scope.variables[node.names[1]] = index, item
                elif node.names:
                    scope.variables[node.names[0]] = item
                _render(node.body, scope, out)
            scope.dot = saved


def render(template: str, values: Mapping[str, Any]) -> str:
    """`template` executed with `values` as its dot."""
    out: list[str] = []
    _render(parse(template), _Scope(values), out)
    return "".join(out)


# --- Ollama's Execute ----------------------------------------------------------------------------


def _uses(nodes: list[Any], name: str) -> bool:
    """Whether a node reads the field `name` anywhere (Ollama's `Vars()`)."""

    def in_expr(expr: Any) -> bool:
        if expr[0] == "field":
            return name.lower() in (p.lower() for p in expr[2])
        if expr[0] == "call":
            return any(in_expr(a) for a in expr[2])
        return False

    for node in nodes:
        if isinstance(node, _Action) and in_expr(node.expr):
            return True
        if isinstance(node, _If) and (
            in_expr(node.cond) or _uses(node.then, name) or _uses(node.otherwise, name)
        ):
            return True
        if isinstance(node, _Range) and (
            in_expr(node.expr) or _uses(node.body, name) or _uses(node.otherwise, name)
        ):
            return True
    return False


def _collate(messages: Sequence[Mapping[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    system = [m["content"] for m in messages if m["role"] == "system"]
    collated: list[dict[str, str]] = []
    for m in messages:
        if collated and collated[-1]["Role"] == m["role"]:
            collated[-1]["Content"] += "\n\n" + m["content"]
        else:
            collated.append({"Role": m["role"], "Content": m["content"]})
    return "\n\n".join(system), collated


def ollama_prompt(
    template: str, messages: Sequence[Mapping[str, Any]], *, legacy: bool = False
) -> str:
    """The prompt Ollama's chat endpoint builds from `template` for `messages` (OpenAI-style
    role/content dicts, the Modelfile's SYSTEM already first), up to where the reply begins.
    `legacy` renders the way Ollama does for a template without `.Messages` (its forceLegacy)."""
    nodes = parse(template)
    system, collated = _collate(messages)
    if not legacy and _uses(nodes, "Messages"):
        out: list[str] = []
        values = {"System": system, "Messages": collated, "Tools": [], "Response": ""}
        _render(nodes, _Scope(values), out)
        return "".join(out)
    return _legacy_prompt(nodes, collated)


def _legacy_prompt(nodes: list[Any], collated: list[dict[str, str]]) -> str:
    """One rendering per system/prompt/response exchange, the last one cut at `.Response`."""
    out: list[str] = []
    turn = {"System": "", "Prompt": "", "Response": ""}

    def flush() -> None:
        _render(nodes, _Scope(dict(turn)), out)
        turn.update(System="", Prompt="", Response="")

    for m in collated:
        if m["Role"] == "system":
            if turn["Prompt"] or turn["Response"]:
                flush()
            turn["System"] = m["Content"]
        elif m["Role"] == "user":
            if turn["Response"]:
                flush()
            turn["Prompt"] = m["Content"]
        elif m["Role"] == "assistant":
            turn["Response"] = m["Content"]
    marker = "\x00RESPONSE\x00"
    last: list[str] = []
    _render(nodes, _Scope({**turn, "Response": marker}), last)
    text = "".join(last)
    return "".join(out) + (text[: text.index(marker)] if marker in text else text)
