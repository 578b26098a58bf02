"""A local run in a chat: its LoRA adapter on its base model (transformers + peft), generating in a
thread and streaming decoded text; CUDA when there is a GPU."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatclone.chat.engine import CONTEXT_TOKENS, GenerationSettings, Message, fit_messages
from chatclone.errors import ChatcloneError
from chatclone.train import runs

IM_END = "<|im_end|>"


class LocalGenerator:
    """A run's adapter on its base model, generating in a thread and streaming decoded text."""

    def __init__(self, model: Any, tokenizer: Any, context_tokens: int = CONTEXT_TOKENS) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.context_tokens = context_tokens
        self.device = next(model.parameters()).device
        self.stop_ids = _stop_ids(tokenizer)

    @classmethod
    def load(cls, run_dir: Path, base: str) -> LocalGenerator:
        import torch

        # float32: transformers would otherwise keep a bf16 checkpoint's dtype, slow on CPU.
        model = runs.load_adapter_model(run_dir, base, torch.float32)
        if torch.cuda.is_available():
            model = model.to("cuda")
        model.eval()
        return cls(model, runs.load_run_tokenizer(run_dir, base))

    def stream(self, messages: list[Message], settings: GenerationSettings) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        ids = self._prompt_ids(messages, settings.max_new_tokens)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        stop = threading.Event()
        kwargs = self._generate_kwargs(ids, settings, streamer, stop)
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        failure: list[BaseException] = []
        thread = threading.Thread(target=self._generate, args=(kwargs, streamer, failure))
        thread.start()
        try:
            for text in streamer:
                if text:
                    yield text
        finally:
            stop.set()  # the reader went away (Ctrl-C, a closed page): stop generating too
            thread.join()
        if failure:
            raise ChatcloneError(f"generation failed: {failure[0]}") from failure[0]

    def _generate(
        self, kwargs: dict[str, Any], streamer: Any, failure: list[BaseException]
    ) -> None:
        import torch

        try:
            with torch.inference_mode():
                self.model.generate(**kwargs)
        except Exception as e:  # reported by stream(); the streamer must end or its reader hangs
            failure.append(e)
            streamer.end()

    def _generate_kwargs(
        self, ids: Any, settings: GenerationSettings, streamer: Any, stop: threading.Event
    ) -> dict[str, Any]:
        from transformers import StoppingCriteriaList

        kwargs: dict[str, Any] = {
            "input_ids": ids,
            "attention_mask": ids.new_ones(ids.shape),
            "max_new_tokens": settings.max_new_tokens,
            "streamer": streamer,
            "eos_token_id": self.stop_ids,
            "pad_token_id": _pad_id(self.tokenizer, self.stop_ids),
            "repetition_penalty": settings.repetition_penalty,
            "stopping_criteria": StoppingCriteriaList([_StopWhenSet(stop)]),
        }
        if settings.temperature > 0:
            kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    def _prompt_ids(self, messages: list[Message], max_new_tokens: int) -> Any:
        window = self._window()
        if max_new_tokens >= window:
            raise ChatcloneError(
                f"--max-new-tokens {max_new_tokens} leaves no room for the conversation in this "
                f"model's {window}-token context"
            )
        budget = min(self.context_tokens, window - max_new_tokens)
        kept = fit_messages(messages, lambda m: len(self._encode(m)), budget)
        ids = self._encode(kept)
        if len(ids) > budget:
            raise ChatcloneError(
                f"that message is too long for this model: the prompt is {len(ids)} tokens, at "
                f"most {budget} fit (fewer with a smaller --max-new-tokens)"
            )
        import torch

        return torch.tensor([ids], device=self.device)

    def _encode(self, messages: list[Message]) -> list[int]:
        try:
            encoded = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_dict=True
            )
        except ValueError as e:  # no chat template
            raise ChatcloneError(f"the run's tokenizer cannot format a chat ({e})") from e
        return list(encoded["input_ids"])

    def _window(self) -> int:
        """The model's context length (tokenizers often say 10**30 for "unknown")."""
        window = getattr(self.model.config, "max_position_embeddings", None)
        if not isinstance(window, int):
            limit = self.tokenizer.model_max_length
            window = limit if isinstance(limit, int) and limit < 1_000_000 else 2048
        return window


class _StopWhenSet:
    """A stopping criterion that ends generation once the reader has gone."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), device=input_ids.device)


def _pad_id(tokenizer: Any, stop_ids: list[int]) -> int:
    pad = tokenizer.pad_token_id
    return pad if isinstance(pad, int) else stop_ids[0]


def _stop_ids(tokenizer: Any) -> list[int]:
    """End of reply: the tokenizer's eos and ChatML's end of turn, where the vocabulary has it."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id and im_end not in ids:
        ids.append(im_end)
    if not ids:
        raise ChatcloneError("the run's tokenizer has no end-of-sequence token")
    return ids
