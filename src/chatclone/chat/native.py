"""What a chat on CPU generates with instead of transformers (issue 14: time to first word):
the run's tokenizer read with `tokenizers` and its chat template rendered by
`dataset/fast_tokens.py`, transformers' choice of the next token (the same processors in the
same order), and its streamer's cutting of text into pieces. With `native_model.py` this gives
the replies transformers gives, token for token (tests/test_chat_native.py), without its
seconds of imports.

`CHATCLONE_NATIVE=0` in the environment turns it off: every local model then runs on
transformers, as it does anyway on CUDA, for other architectures and for eval's batches.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatclone.chat.generation import GenerationSettings
from chatclone.dataset import fast_tokens

ENV_VAR = "CHATCLONE_NATIVE"
GENERATION_CONFIG = "generation_config.json"
# What transformers samples with when neither the call nor the model's generation config says
# (`GenerationConfig._get_default_generation_params`): LocalGenerator never passes top_k.
DEFAULT_TOP_K = 50
# Generation config keys that change nothing here (the call sets the others it uses); a model
# whose generation config says more (min_p, no_repeat_ngram_size…) is left to transformers.
HARMLESS_KEYS = frozenset(
    {
        "_from_model_config",
        "bos_token_id",
        "eos_token_id",
        "pad_token_id",
        "transformers_version",
        "use_cache",
        "output_attentions",
        "output_hidden_states",
        "do_sample",
        "temperature",
        "top_p",
        "top_k",
        "repetition_penalty",
        "max_length",
        "max_new_tokens",
    }
)
NEG_INF = float("-inf")  # what transformers' top-k and top-p put on the tokens they remove


def enabled() -> bool:
    return os.environ.get(ENV_VAR, "") != "0"


def top_k_of(folder: Path) -> int | None:
    """The top_k transformers samples this model with (its generation config's, else 50), or
    None when that config asks for something this path does not do."""
    path = folder / GENERATION_CONFIG
    if not path.is_file():
        return DEFAULT_TOP_K
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or set(data) - HARMLESS_KEYS:
        return None
    top_k = data.get("top_k")
    return DEFAULT_TOP_K if top_k is None else int(top_k)


class NativeTokenizer:
    """The part of a transformers tokenizer that `LocalGenerator` uses, from `tokenizer.json`
    and the chat template beside it."""

    def __init__(self, tokenizer: Any, render: Any, special: Mapping[str, str | None]) -> None:
        self.tokenizer = tokenizer
        self.render = render
        self.unk_token_id: int | None = None
        self.unk_token_id = self._id(special.get("unk_token"))
        self.eos_token_id = self._id(special.get("eos_token"))
        self.pad_token_id = self._id(special.get("pad_token"))

    @classmethod
    def load(cls, folder: Path) -> NativeTokenizer | None:
        """The tokenizer saved in `folder`, or None when it lacks tokenizer.json or a chat
        template (transformers then loads it)."""
        saved = fast_tokens.saved_tokenizer(folder, generation_prompt=True)
        if saved is None or saved.render is None:
            return None
        return cls(saved.tokenizer, saved.render, saved.special)

    def _id(self, token: str | None) -> int | None:
        return None if token is None else self.convert_tokens_to_ids(token)

    def convert_tokens_to_ids(self, token: str) -> int | None:
        """The token's id; the unknown token's for one not in the vocabulary."""
        found = self.tokenizer.token_to_id(token)
        return found if isinstance(found, int) else self.unk_token_id

    def apply_chat_template(
        self, messages: Sequence[Mapping[str, object]], **kwargs: Any
    ) -> dict[str, list[int]]:
        """The prompt's ids with the assistant's opening, as transformers'
        `apply_chat_template(messages, add_generation_prompt=True, return_dict=True)`."""
        text = self.render(fast_tokens.plain_messages(messages))
        return {"input_ids": list(self.tokenizer.encode(text, add_special_tokens=False).ids)}

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens))


@dataclass
class Sampler:
    """The next token as transformers' `generate` picks it for LocalGenerator's arguments: the
    repetition penalty (over the prompt and the reply), then, when sampling, temperature, top-k
    and top-p, and a draw from the softmax; else the highest score."""

    settings: GenerationSettings
    top_k: int
    generator: Any  # torch.Generator: this reply's random state

    def __call__(self, logits: Any, seen: Any) -> int:
        import torch

        scores = logits.float()
        penalty = self.settings.repetition_penalty
        if penalty != 1.0:
            chosen = torch.gather(scores, 1, seen)
            chosen = torch.where(chosen < 0, chosen * penalty, chosen / penalty)
            scores = scores.scatter(1, seen, chosen)
        if self.settings.temperature <= 0:
            return int(torch.argmax(scores, dim=-1)[0])
        if self.settings.temperature != 1.0:
            scores = scores / self.settings.temperature
        if self.top_k:
            k = min(max(self.top_k, 1), scores.shape[-1])
            scores = scores.masked_fill(scores < torch.topk(scores, k)[0][..., -1, None], NEG_INF)
        if self.settings.top_p < 1.0:
            scores = _top_p(scores, self.settings.top_p)
        probs = torch.nn.functional.softmax(scores, dim=-1)
        return int(torch.multinomial(probs, num_samples=1, generator=self.generator)[0, 0])


def _top_p(scores: Any, top_p: float) -> Any:
    sorted_logits, sorted_indices = scores.sort(descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - top_p)
    remove[..., -1:] = False  # keep at least one
    remove = remove.scatter(1, sorted_indices, remove)
    return scores.masked_fill(remove, NEG_INF)


def reply_generator(seed: int | None) -> Any:
    """This reply's random state: seeded as `torch.manual_seed(seed)` seeds, else a copy of the
    process's (transformers' path restores the process's state after each reply, so replies
    without a seed start from the same state there too)."""
    import torch

    generator = torch.Generator()
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.set_state(torch.random.get_rng_state())
    return generator


class TextPieces:
    """Decoded reply text in the pieces transformers' `TextStreamer` hands on: the whole reply
    decoded again at each token, letters and digits at once, other text once a space or line
    end makes it final."""

    def __init__(self, tokenizer: NativeTokenizer) -> None:
        self.tokenizer = tokenizer
        self.cache: list[int] = []
        self.printed = 0

    def put(self, token: int) -> str:
        self.cache.append(token)
        text = self.tokenizer.decode(self.cache, skip_special_tokens=True)
        if text.endswith("\n"):
            piece = text[self.printed :]
            self.cache = self.cache[-1:]
            self.printed = len(self.tokenizer.decode(self.cache, skip_special_tokens=True))
        elif (text and _is_cjk(ord(text[-1]))) or _is_plain(text[self.printed :]):
            piece = text[self.printed :]
            self.printed += len(piece)
        else:
            piece = text[self.printed : text.rfind(" ") + 1]
            self.printed += len(piece)
        return piece

    def end(self) -> str:
        if not self.cache:
            return ""
        piece = self.tokenizer.decode(self.cache, skip_special_tokens=True)[self.printed :]
        self.cache, self.printed = [], 0
        return piece


_CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_plain(text: str) -> bool:
    """Letters (with their marks), digits and spaces only: nothing a later token may change."""
    return all(c.isspace() or unicodedata.category(c)[0] in "LMN" for c in text)


def _is_cjk(code: int) -> bool:
    return any(low <= code <= high for low, high in _CJK)
