"""Settings: one set of dataclasses is the settings file, the CLI's defaults and the docs.

Each field carries its help text in `metadata["help"]`; `chatclone.toml` is written from them with
the help as comments, and read back with unknown keys rejected so that a typo never passes silently.
"""

from __future__ import annotations

import re
import textwrap
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import tomli_w

from chatclone.errors import ChatcloneError, WorkspaceError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.I)
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def _help(text: str, **kw: Any) -> Any:
    return field(metadata={"help": text}, **kw)


def help_for(settings: type[Any], name: str) -> str:
    """A setting's help text: the command-line flag that overrides it shows the same words."""
    for f in fields(settings):
        if f.name == name:
            return str(f.metadata["help"])
    raise KeyError(name)


def parse_duration(text: str) -> timedelta:
    """`90m`, `3h`, `1h30m`, `2d`, `45s` → a timedelta."""
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        raise ChatcloneError(f"'{text}' is not a duration; write it like 90m, 3h, 1h30m or 2d")
    total = timedelta()
    for amount, unit in parts:
        total += timedelta(**{_UNITS[unit.lower()]: float(amount)})
    if total <= timedelta(0):
        raise ChatcloneError(f"'{text}': the session gap must be longer than zero")
    return total


def _at_least(settings: Any, minimum: float, *names: str) -> None:
    for name in names:
        if getattr(settings, name) < minimum:
            raise ChatcloneError(
                f"setting {name} must be at least {minimum}, not {getattr(settings, name)}"
            )


def _between(settings: Any, low: float, high: float, *names: str) -> None:
    for name in names:
        value = getattr(settings, name)
        if not low <= value <= high:
            raise ChatcloneError(f"setting {name} must be between {low} and {high}, not {value}")


@dataclass
class MeSettings:
    """Who is being cloned."""

    name: str | None = _help(
        "The person being cloned, as their name appears in the chats. Unset: inferred (the owner "
        "of a Telegram account export, else the sender present in the most chats).",
        default=None,
    )
    aliases: list[str] = _help(
        "Other names the same person appears under (another phone's contact name, a nickname).",
        default_factory=list,
    )


@dataclass
class DatasetSettings:
    """How `chatclone build` turns stored chats into a fine-tuning dataset."""

    session_gap: str = _help(
        "Split a chat into separate conversations where two messages are further apart than "
        "this (e.g. 90m, 3h, 1d). No sample ever spans such a gap.",
        default="3h",
    )
    bubble_separator: str = _help(
        "How the separate texts (bubbles) of one turn are joined in a sample.", default="\n"
    )
    max_context_tokens: int = _help(
        "Longest sample, in tokens of the training model; longer conversations become "
        "overlapping windows that never cut a turn.",
        default=1024,
    )
    valid_fraction: float = _help(
        "Share of sessions, the most recent ones, held out for validation.", default=0.1
    )
    blocked_words: list[str] = _help(
        "Words or phrases whose turns are left out (the turn, not the whole conversation).",
        default_factory=list,
    )
    low_info_filter: bool = _help(
        'Leave out of training the replies that say little about you ("ok", "lol"), scored '
        "with heuristics and the offline embedding model. They stay as context.",
        default=True,
    )
    low_info_threshold: float = _help(
        "Replies scoring below this (0–1) count as low-information.", default=0.35
    )
    judge_url: str = _help(
        "Optional LLM judge of replies: an OpenAI-compatible API base URL (e.g. "
        "http://127.0.0.1:8080/v1). Empty: off, and nothing is sent anywhere. When set, each "
        "pseudonymised reply and the message it answers are sent there to be rated.",
        default="",
    )
    judge_model: str = _help("The model the judge endpoint should use.", default="")
    judge_api_key_env: str = _help(
        "The environment variable holding the judge's API key (e.g. OPENAI_API_KEY); empty: none.",
        default="",
    )
    pseudonymize_names: bool = _help(
        "Replace other people's names with consistent pseudonyms too.", default=False
    )
    model: str = _help(
        "The model the dataset is for: its tokenizer counts tokens. 'default' is the packaged "
        "SmolLM2-135M-Instruct; an OpenAI model name (e.g. gpt-4.1-mini-2025-04-14) uses tiktoken.",
        default="default",
    )
    epochs: int = _help("Training epochs, for the cost estimate.", default=3)
    memory: bool = _help(
        "Grounded training: each sample's system prompt carries the memory block the clone "
        "would have seen then (only what was said before the sample's conversation), replies "
        "stating a personal fact that nothing on record supports are not trained on, and "
        "abstention samples teach the clone to deflect in your own words.",
        default=True,
    )
    abstention_share: float = _help(
        "With memory: abstention and false-premise samples to add, as a share of the training "
        "samples (0: none).",
        default=0.05,
    )
    unsupported_facts: str = _help(
        "With memory, a reply that states a personal fact the block does not support: 'context' "
        "(kept as context, not trained on), 'drop' (its sample is left out) or 'keep'.",
        default="context",
    )

    def check(self) -> None:
        """Every value usable, checked once where the settings are resolved (file + flags)."""
        parse_duration(self.session_gap)
        _at_least(self, 1, "max_context_tokens", "epochs")
        _between(self, 0.0, 0.9, "valid_fraction")
        _between(self, 0.0, 1.0, "low_info_threshold")
        _between(self, 0.0, 0.5, "abstention_share")
        if self.unsupported_facts not in ("context", "drop", "keep"):
            raise ChatcloneError(
                "setting unsupported_facts must be 'context', 'drop' or 'keep', not "
                f"'{self.unsupported_facts}'"
            )


@dataclass
class TrainSettings:
    """How `chatclone train` fine-tunes a model on a dataset (command-line flags override these)."""

    backend: str = _help(
        "'local' (LoRA with transformers + peft on this machine; nothing leaves it) or 'openai' "
        "(OpenAI's fine-tuning API; the dataset is uploaded to OpenAI).",
        default="local",
    )
    base: str = _help(
        "Local backend: the model to fine-tune. 'default' is the packaged SmolLM2-135M-Instruct "
        "(offline); else a Hugging Face id (e.g. Qwen/Qwen2.5-7B-Instruct) or a local folder.",
        default="default",
    )
    openai_model: str = _help(
        "OpenAI backend: the base model to fine-tune.", default="gpt-4.1-mini-2025-04-14"
    )
    suffix: str = _help(
        "OpenAI backend: up to 64 characters added to the fine-tuned model's name.",
        default="chatclone",
    )
    epochs: int = _help("Passes over the training set.", default=3)
    max_steps: int = _help(
        "Local backend: stop after this many optimizer steps (0: run all epochs).", default=0
    )
    learning_rate: float = _help(
        "Local backend: peak learning rate, after warm-up and before the cosine decay.",
        default=2e-4,
    )
    warmup_ratio: float = _help(
        "Local backend: share of the steps spent warming the learning rate up from 0.",
        default=0.05,
    )
    lora_r: int = _help("Local backend: LoRA rank.", default=16)
    lora_alpha: int = _help("Local backend: LoRA alpha (scale = alpha / r).", default=32)
    lora_dropout: float = _help("Local backend: dropout on the LoRA branch.", default=0.05)
    target_modules: list[str] = _help(
        "Local backend: which layers get LoRA adapters (empty: every linear layer but the "
        "output head).",
        default_factory=list,
    )
    batch_tokens: int = _help(
        "Local backend: tokens per micro-batch, padding included. Samples of similar length are "
        "batched together so little compute goes to padding. Memory follows it: 1024 keeps "
        "training the default model on the CPU under 5 GB; 2048 needs about twice that.",
        default=1024,
    )
    grad_accum: int = _help(
        "Local backend: micro-batches per optimizer step (gradient accumulation).", default=4
    )
    eval_every: int = _help(
        "Local backend: compute the validation loss every this many steps (0: only at the end).",
        default=20,
    )
    save_every: int = _help(
        "Local backend: write a checkpoint every this many steps, for --resume.", default=20
    )
    keep_checkpoints: int = _help("Local backend: how many recent checkpoints to keep.", default=2)
    seed: int = _help("Local backend: random seed (data order, LoRA initialisation).", default=42)
    qlora: bool = _help(
        "Local backend, CUDA only: load the base model in 4 bits (bitsandbytes QLoRA).",
        default=False,
    )
    gradient_checkpointing: bool = _help(
        "Local backend: recompute activations in the backward pass instead of keeping them: "
        "less memory, slower.",
        default=False,
    )

    def check(self) -> None:
        """Every value usable, checked once where the settings are resolved (file + flags)."""
        _at_least(self, 1, "epochs", "lora_r", "lora_alpha", "batch_tokens", "grad_accum")
        _at_least(self, 0, "max_steps", "eval_every", "save_every", "keep_checkpoints")
        _between(self, 0.0, 1.0, "warmup_ratio", "lora_dropout")
        if self.learning_rate <= 0:
            raise ChatcloneError(f"setting learning_rate must be above 0, not {self.learning_rate}")


@dataclass
class EvalSettings:
    """`chatclone eval`: how the clone is measured (the [eval] table of chatclone.toml)."""

    heldout_turns: int = _help(
        "Held-out replies each system writes, spread over the validation split; 0: all.",
        default=200,
    )
    max_new_tokens: int = _help("Longest generated reply, in tokens.", default=60)
    temperature: float = _help(
        "Sampling temperature of the generated replies (0: greedy).", default=0.7
    )
    seed: int = _help("Seeds generation and the bootstrap, so a rerun is identical.", default=0)
    batch_size: int = _help(
        "Prompts a local model writes replies to at once (more: faster, more memory).", default=16
    )
    judge_url: str = _help(
        "Optional LLM judge of fact probes: an OpenAI-compatible API base URL (e.g. "
        "http://127.0.0.1:8080/v1). Empty: the offline rule judge only, and nothing is sent "
        "anywhere. When set, each probe's question, accepted answers and the clone's reply are "
        "sent there.",
        default="",
    )
    judge_model: str = _help("The model the fact judge endpoint should use.", default="")
    judge_api_key_env: str = _help(
        "The environment variable holding the fact judge's API key (e.g. OPENAI_API_KEY); "
        "empty: none.",
        default="",
    )
    judge_mode: str = _help(
        "With judge_url: 'replace' (the LLM gives every verdict) or 'back' (the rule judge "
        "decides, the LLM settles the replies the rules are unsure of).",
        default="back",
    )

    def check(self) -> None:
        _at_least(self, 0, "heldout_turns", "temperature", "seed")
        _at_least(self, 1, "max_new_tokens", "batch_size")
        if self.judge_mode not in ("replace", "back"):
            raise ChatcloneError(
                f"setting judge_mode must be 'replace' or 'back', not '{self.judge_mode}'"
            )
        if self.judge_url and not self.judge_model:
            raise ChatcloneError("setting judge_url needs judge_model too ([eval] judge_model)")


@dataclass
class IngestSettings:
    """Reading exports (the [ingest] table)."""

    timezone: str | None = _help(
        "The time zone (IANA name, e.g. Europe/Berlin) for exports that store only instants, "
        "such as Telegram files with only date_unixtime. Unset: this machine's zone.",
        default=None,
    )

    def check(self) -> None:
        if self.timezone is not None:
            check_timezone(self.timezone)


def check_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ChatcloneError(
            f"'{name}' is not a time zone; give an IANA name such as Europe/Berlin or UTC"
        ) from None
    return name


@dataclass
class MemorySettings:
    """The memory stage (the [memory] table): what the clone is reminded of in every prompt."""

    recall_k: int = _help("Past messages retrieved for each prompt.", default=4)
    facts_k: int = _help(
        "Facts on record retrieved for each prompt, besides pinned ones.", default=6
    )
    block_tokens: int = _help(
        "Longest memory block, in tokens (about 4 characters each); what does not fit is left "
        "out, least relevant first.",
        default=600,
    )
    extractor_url: str = _help(
        "Optional fact extractor: an OpenAI-compatible API base URL (a local llama.cpp, Ollama "
        "or vLLM server, or OpenAI). Empty: offline patterns only, and nothing is sent anywhere. "
        "When set, `facts extract` sends your own messages there.",
        default="",
    )
    extractor_model: str = _help("The model the extractor endpoint should use.", default="")
    extractor_api_key_env: str = _help(
        "The environment variable holding the extractor's API key; empty: none.", default=""
    )

    def check(self) -> None:
        _at_least(self, 0, "recall_k", "facts_k")
        _at_least(self, 50, "block_tokens")
        if self.extractor_url and not self.extractor_model:
            raise ChatcloneError(
                "setting extractor_url needs extractor_model too ([memory] extractor_model)"
            )


@dataclass
class Settings:
    """Everything in `chatclone.toml`."""

    me: MeSettings = field(default_factory=MeSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    dataset: DatasetSettings = field(default_factory=DatasetSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)


def load_settings(path: Path) -> Settings:
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise WorkspaceError(f"{path}: not valid TOML ({e})") from None
    settings: Settings = _from_dict(Settings, data, str(path))
    return settings


def save_settings(path: Path, settings: Settings) -> None:
    path.write_text(render_settings(settings), "utf-8")


def render_settings(settings: Settings) -> str:
    """TOML with every field's help as a comment; unset fields are shown commented out."""
    out = ["# chatclone settings for this workspace. `chatclone --help` explains each command.", ""]
    for section in fields(settings):
        value = getattr(settings, section.name)
        out.append(f"[{section.name}]")
        for f in fields(value):
            out += [f"# {line}" for line in textwrap.wrap(f.metadata["help"], 96)]
            v = getattr(value, f.name)
            line = tomli_w.dumps({f.name: v}).strip() if v is not None else f"# {f.name} = "
            out.append(line)
        out.append("")
    return "\n".join(out)


def _from_dict(cls: Any, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in known:
            raise WorkspaceError(f"{where}: unknown setting '{key}' (known: {', '.join(known)})")
    kwargs = {}
    for name, f in known.items():
        if name not in data:
            continue
        value = data[name]
        sub = f.default_factory() if callable(f.default_factory) else None
        if sub is not None and is_dataclass(sub):
            if not isinstance(value, dict):
                raise WorkspaceError(f"{where}: [{name}] must be a table")
            value = _from_dict(type(sub), value, f"{where} [{name}]")
        else:
            _check_type(value, sub if sub is not None else f.default, f"{where}: {name}")
        kwargs[name] = value
    return cls(**kwargs)


def _check_type(value: Any, default: Any, where: str) -> None:
    """The value must have its default's type (None defaults are optional strings): a wrong type
    is named here instead of failing later as an internal error."""
    if default is None:
        expected: tuple[type, ...] = (str,)
    elif isinstance(default, bool):
        expected = (bool,)
    elif isinstance(default, float):
        expected = (int, float)
    else:
        expected = (type(default),)
    ok = isinstance(value, expected) and not (isinstance(value, bool) and bool not in expected)
    if ok and isinstance(value, list):
        ok = all(isinstance(item, str) for item in value)
    if not ok:
        kind = " or ".join("list of strings" if t is list else t.__name__ for t in expected)
        raise WorkspaceError(f"{where} must be {kind}, not {value!r}")
