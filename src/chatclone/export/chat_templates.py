"""The run's Hugging Face chat template, translated into an Ollama (Go) template, and proved equal.

A template family is recognised by its markers; each supported family is written as one Go
template over `.Messages` (with the legacy `.System`/`.Prompt`/`.Response` branch older Ollama
versions read). The translation is then rendered with `gotemplate.ollama_prompt` on sample
conversations and compared with the tokenizer's own `apply_chat_template(…,
add_generation_prompt=True)`; an export stops if they differ.

Documented differences: a leading BOS token that the Hugging Face template writes as text is left
out (llama.cpp and Ollama add it when tokenizing, as the GGUF's `add_bos_token` says); Llama 3's
and Gemma's `| trim` of each message is not reproduced (chat messages carry no surrounding
whitespace); and Ollama always sends the Modelfile's SYSTEM, so a template's default system prompt
for a chat without one never applies. Gemma's format has no system turn: its template writes the
system prompt and a blank line at the start of the first user message, and so does the
translation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatclone.errors import ChatcloneError
from chatclone.export import gotemplate
from chatclone.prompt import ChatMessage


@dataclass(frozen=True)
class Family:
    """A chat format whose messages are each `open(role) + content + close`."""

    name: str
    markers: tuple[str, ...]
    open: str  # "{role}" stands for the message's role
    close: str
    stops: tuple[str, ...]
    # Gemma: no system turn; the system prompt and a blank line open the first user message, and
    # the model's turns are headed "model"
    system_in_first_user: bool = False

    def header(self, role: str) -> str:
        return self.open.replace("{role}", role)

    def go_template(self) -> str:
        """One line, no trim markers: every character between actions is part of the prompt."""
        if self.system_in_first_user:
            return self._folded_go_template()
        role = self.header("{{ .Role }}")
        reply = self.header("assistant")
        return (
            "{{ if .Messages }}"
            f"{{{{ range .Messages }}}}{role}{{{{ .Content }}}}{self.close}{{{{ end }}}}{reply}"
            "{{ else }}"
            f"{{{{ if .System }}}}{self.header('system')}{{{{ .System }}}}{self.close}{{{{ end }}}}"
            f"{{{{ if .Prompt }}}}{self.header('user')}{{{{ .Prompt }}}}{self.close}{{{{ end }}}}"
            f"{reply}"
            "{{ end }}"
            f"{{{{ .Response }}}}{{{{ if .Response }}}}{self.close}{{{{ end }}}}"
        )

    def _folded_go_template(self) -> str:
        """Ollama puts the system prompt first in `.Messages` (index 0), so the first user
        message is at index 1; the legacy branch has `.System` in the first exchange only."""
        user, reply = self.header("user"), self.header("model")
        return (
            "{{ if .Messages }}{{ range $i, $m := .Messages }}"
            f'{{{{ if eq .Role "user" }}}}{user}'
            "{{ if and $.System (eq $i 1) }}{{ $.System }}\n\n{{ end }}"
            f"{{{{ .Content }}}}{self.close}"
            f'{{{{ else if eq .Role "assistant" }}}}{reply}{{{{ .Content }}}}{self.close}'
            f"{{{{ end }}}}{{{{ end }}}}{reply}"
            "{{ else }}"
            f"{{{{ if .Prompt }}}}{user}{{{{ if .System }}}}{{{{ .System }}}}\n\n{{{{ end }}}}"
            f"{{{{ .Prompt }}}}{self.close}{{{{ end }}}}{reply}"
            "{{ end }}"
            f"{{{{ .Response }}}}{{{{ if .Response }}}}{self.close}{{{{ end }}}}"
        )


FAMILIES = (
    Family(
        "chatml",
        ("<|im_start|>", "<|im_end|>"),
        "<|im_start|>{role}\n",
        "<|im_end|>\n",
        ("<|im_end|>", "<|im_start|>"),
    ),
    Family(
        "llama3",
        ("<|start_header_id|>", "<|eot_id|>"),
        "<|start_header_id|>{role}<|end_header_id|>\n\n",
        "<|eot_id|>",
        ("<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"),
    ),
    Family(
        "phi3",
        ("<|user|>", "<|end|>", "<|assistant|>"),
        "<|{role}|>\n",
        "<|end|>\n",
        ("<|end|>", "<|user|>", "<|assistant|>", "<|endoftext|>"),
    ),
    Family(
        "gemma",
        ("<start_of_turn>", "<end_of_turn>"),
        "<start_of_turn>{role}\n",
        "<end_of_turn>\n",
        ("<end_of_turn>", "<start_of_turn>"),
        system_in_first_user=True,
    ),
)
# Formats that put the system prompt inside a user turn in ways not translated.
UNSUPPORTED = {"[INST]": "Mistral's [INST] format"}
ALTERNATIVES = (
    "--format gguf (llama.cpp's `llama-server --jinja` uses the model's own template) or "
    "--format vllm (vLLM applies the Hugging Face template itself)"
)

SAMPLE_TURNS: tuple[ChatMessage, ...] = (
    {"role": "user", "content": "are you still going to lisbon?"},
    {"role": "assistant", "content": 'yes!! flight\'s at 7\nsaid "see you there" 😅'},
    {"role": "user", "content": "nice, bring me back some pastéis de nata"},
)


@dataclass(frozen=True)
class Translation:
    family: str
    template: str
    stops: list[str]
    bos_left_out: bool


def chat_template_text(tokenizer: Any) -> str:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # named templates: the default one is the chat template
        template = template.get("default")
    if not isinstance(template, str) or not template:
        raise ChatcloneError("the run's tokenizer has no chat template, so a chat cannot be framed")
    return template


def detect(tokenizer: Any) -> Family:
    text = chat_template_text(tokenizer)
    for family in FAMILIES:
        if all(marker in text for marker in family.markers):
            return family
    for marker, name in UNSUPPORTED.items():
        if marker in text:
            raise ChatcloneError(
                f"the model uses {name}, which puts the system prompt inside a user turn; "
                f"chatclone does not translate it into an Ollama template. Use {ALTERNATIVES}"
            )
    raise ChatcloneError(
        "the model's chat template is not one chatclone can translate for Ollama (ChatML, "
        f"Llama 3, Phi-3, Gemma). Use {ALTERNATIVES}"
    )


def hf_prompt(tokenizer: Any, messages: Sequence[ChatMessage]) -> str:
    text: str = tokenizer.apply_chat_template(
        [dict(m) for m in messages], add_generation_prompt=True, tokenize=False
    )
    return text


def translate(tokenizer: Any, system: str) -> Translation:
    """The Go template for the run's chat template and its stop tokens, checked: the sample
    conversations (with `system` as their system prompt) render exactly as the tokenizer renders
    them, both through `.Messages` and through the legacy branch."""
    family = detect(tokenizer)
    template = family.go_template()
    bos = leading_bos(tokenizer)
    head: ChatMessage = {"role": "system", "content": system}
    for turns in (SAMPLE_TURNS[:1], SAMPLE_TURNS):
        conversation = [head, *turns]
        expected = _hf_prompt_with_system(tokenizer, conversation)
        if bos and expected.startswith(bos):
            expected = expected[len(bos) :]
        for legacy in (False, True):
            got = gotemplate.ollama_prompt(template, conversation, legacy=legacy)
            if got != expected:
                raise ChatcloneError(
                    f"the Ollama template chatclone made for this model ({family.name}) renders "
                    f"a conversation differently from the model's own chat template:\n"
                    f"  expected: {expected[:400]!r}\n  rendered: {got[:400]!r}\n"
                    f"Use {ALTERNATIVES}"
                )
    return Translation(family.name, template, _stops(tokenizer, family), bool(bos))


def _hf_prompt_with_system(tokenizer: Any, conversation: Sequence[ChatMessage]) -> str:
    from jinja2 import TemplateError

    try:
        return hf_prompt(tokenizer, conversation)
    except TemplateError as e:  # Gemma 1 and 2 raise "System role not supported"
        raise ChatcloneError(
            f"the model's chat template refuses a conversation with a system prompt ({e}), so "
            f"it cannot carry the clone's persona. Use {ALTERNATIVES}"
        ) from None


def leading_bos(tokenizer: Any) -> str:
    """The BOS token when the chat template writes it first (`{{ bos_token }}`), else "": the
    runtimes add that token themselves when they tokenize a prompt."""
    bos = getattr(tokenizer, "bos_token", None)
    if not isinstance(bos, str) or not bos or "bos_token" not in chat_template_text(tokenizer):
        return ""
    rendered = hf_prompt(tokenizer, [{"role": "user", "content": "hi"}])
    return bos if rendered.startswith(bos) else ""


def _stops(tokenizer: Any, family: Family) -> list[str]:
    """The family's stop markers that are single tokens of this tokenizer; its end-of-turn marker
    must be one, or the model could not end a reply."""
    vocab = tokenizer.get_vocab()
    stops = [s for s in family.stops if s in vocab]
    end = family.close.strip()
    if end not in stops:
        raise ChatcloneError(
            f"the tokenizer has no {end} token although its chat template ends turns with it"
        )
    return stops
