"""A local run in a chat: its LoRA adapter merged into its base model (once, then cached:
`merged.py`), generating with transformers in a thread and streaming decoded text; CUDA when
there is a GPU. On CPU, a cached merge of a Llama (the default SmolLM2) runs without
transformers (`NativeGenerator`: `native_model.py`, `native.py`), the same replies seconds
sooner; `CHATCLONE_NATIVE=0` turns that off.

One model serves one reply at a time: a lock queues concurrent callers (the HTTP server), and a
seed applies to that reply only (the global random state is saved and restored around it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from chatclone import models
from chatclone.chat import merged, native, timings
from chatclone.chat.generation import (
    DEFAULT_CONTEXT_TOKENS,
    GenerationSettings,
    GeneratorSpec,
    ReplyCounts,
    fit_messages,
)
from chatclone.chat.merged import load_merged
from chatclone.chat.native_model import NativeLlama
from chatclone.chat.prefix import PREFIX_FILE, load_prefix, save_prefix
from chatclone.errors import ChatcloneError
from chatclone.models import context_length
from chatclone.prompt import ChatMessage
from chatclone.train import runs

IM_END = "<|im_end|>"
# A batch's shared beginning is run once when it is at least this long (shorter: not worth it).
MIN_SHARED_TOKENS = 16


class LocalGenerator:
    """A run's adapter on its base model, generating in a thread and streaming decoded text."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        prefix_path: Path | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.context_tokens = context_tokens
        self.device = next(model.parameters()).device
        self.stop_ids = _stop_ids(tokenizer)
        self._busy = threading.Lock()
        # The last prompt and its key/value cache (see `_reused_cache`), and where the first
        # reply's is kept for the next process (`prefix.py`; None: nowhere).
        self._kept: tuple[list[int], Any] | None = None
        self.prefix_path = prefix_path
        self._from_disk: list[int] | None = None  # the prompt read from prefix_path
        self._saved: threading.Thread | None = None
        self._counts = threading.local()  # this thread's last reply's ReplyCounts

    @classmethod
    def from_spec(cls, spec: GeneratorSpec) -> LocalGenerator:
        if spec.run_dir is None:  # the base model alone (`chatclone eval --base`)
            return cls.load_base(spec.model, spec.context_tokens)
        if spec.batches:  # eval: batches and the held-out loss need transformers' model
            return cls.load_transformers(spec.run_dir, spec.model, spec.context_tokens)
        return cls.load(spec.run_dir, spec.model, spec.context_tokens)

    @classmethod
    def load(
        cls, run_dir: Path, base: str, context_tokens: int = DEFAULT_CONTEXT_TOKENS
    ) -> LocalGenerator:
        """The run's generator: native on CPU when its merge is cached and a Llama, else
        transformers'."""
        import torch

        timings.mark("torch")
        if native.enabled() and not torch.cuda.is_available():
            found = NativeGenerator.open(run_dir, base, context_tokens)
            if found is not None:
                return found
        return LocalGenerator.load_transformers(run_dir, base, context_tokens)

    @classmethod
    def load_transformers(
        cls, run_dir: Path, base: str, context_tokens: int = DEFAULT_CONTEXT_TOKENS
    ) -> LocalGenerator:
        import torch

        # float32 (transformers would otherwise keep a bf16 checkpoint's dtype, slow on CPU), the
        # adapter merged into the weights once and cached: no peft import, no per-token LoRA work.
        model, entry = load_merged(run_dir / runs.ADAPTER_DIR, base)
        if torch.cuda.is_available():
            model = model.to("cuda")
        model.eval()
        timings.mark("model")
        tokenizer = runs.load_run_tokenizer(run_dir, base)
        prefix = entry / PREFIX_FILE if entry is not None else None
        return cls(model, tokenizer, context_tokens, prefix)

    @classmethod
    def load_base(cls, base: str, context_tokens: int = DEFAULT_CONTEXT_TOKENS) -> LocalGenerator:
        """The base model alone, no adapter: what `chatclone eval --base` compares a run with."""
        import torch

        with models.quiet_loading():
            model = models.load_causal_lm(base, dtype=torch.float32)
        if torch.cuda.is_available():
            model = model.to("cuda")
        model.eval()
        return cls(model, models.load_tokenizer(base), context_tokens)

    def generate_batch(
        self, prompts: Sequence[Sequence[ChatMessage]], settings: GenerationSettings
    ) -> list[str]:
        """Replies to several prompts in one `generate` call: eval's throughput. The prompts'
        shared beginning (the system prompt, usually most of a probe's tokens) is run once and
        its cache copied to every row; the rest is padded between it and each row's own part.
        The seed applies to the whole batch, so the same prompts in the same batches give the
        same replies."""
        import torch

        rows = [self._prompt_list(p, settings.max_new_tokens) for p in prompts]
        if not rows:
            return []
        pad = _pad_id(self.tokenizer, self.stop_ids)
        shared = _shared_prefix(rows) if len(rows) > 1 else 0
        if shared < MIN_SHARED_TOKENS:
            shared = 0
        width = max(len(r) for r in rows) - shared
        ids = torch.full((len(rows), shared + width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        ids[:, :shared], mask[:, :shared] = torch.tensor(rows[0][:shared], dtype=torch.long), 1
        for i, row in enumerate(rows):
            own = row[shared:]
            ids[i, shared + width - len(own) :] = torch.tensor(own)
            mask[i, shared + width - len(own) :] = 1
        kwargs = self._sampling_kwargs(settings)
        kwargs.update(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            max_new_tokens=settings.max_new_tokens,
            eos_token_id=self.stop_ids,
            pad_token_id=pad,
        )
        devices = [self.device] if self.device.type == "cuda" else []
        with self._busy, torch.random.fork_rng(devices=devices), torch.inference_mode():
            if shared:
                kwargs[_cache_argument(self.model)] = self._prefix_cache(
                    ids[:1, :shared], len(rows)
                )
            if settings.seed is not None:
                torch.manual_seed(settings.seed)
            out = _causal(self.model).generate(**kwargs)
        new = out[:, shared + width :]
        return [self.tokenizer.decode(row, skip_special_tokens=True) for row in new]

    def _prefix_cache(self, prefix: Any, rows: int) -> Any:
        """The key/value cache of `prefix` (one row), repeated for `rows` rows."""
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        model = _causal(self.model)
        model(input_ids=prefix.to(self.device), use_cache=True, **{_cache_argument(model): cache})
        cache.batch_repeat_interleave(rows)
        return cache

    def stream(
        self, messages: Sequence[ChatMessage], settings: GenerationSettings
    ) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        self._counts.value = None
        ids = self._prompt_ids(messages, settings.max_new_tokens)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        counted = _Counted(streamer)
        stop = threading.Event()
        kwargs = self._generate_kwargs(ids, settings, counted, stop)
        failure: list[BaseException] = []
        with self._busy:  # one reply at a time; the next caller waits here
            kwargs[_cache_argument(self.model)] = self._reused_cache(ids[0].tolist())
            thread = threading.Thread(
                target=self._generate, args=(kwargs, settings.seed, counted, failure)
            )
            thread.start()
            try:
                for text in streamer:
                    if text:
                        yield text
            finally:
                stop.set()  # the reader went away (Ctrl-C, a closed page): stop generating too
                thread.join()
                cut = counted.generated >= settings.max_new_tokens
                self._counts.value = ReplyCounts(
                    int(ids.shape[1]),
                    counted.generated,
                    cut and counted.last_id not in self.stop_ids,
                )
                if failure:  # the cache may hold half a prefill
                    self._kept = None
                else:
                    self._save_for_next_process()
        if failure:
            raise ChatcloneError(f"generation failed: {failure[0]}") from failure[0]

    def _reused_cache(self, ids: list[int]) -> Any:
        """The key/value cache generation starts from: the last reply's, cut to the beginning its
        prompt shares with this one (the system prompt up to the memory block: a warm turn
        skips its prefill), else an empty one. It is kept for the next reply."""
        if self._kept is None and self.prefix_path is not None and self._saved is None:
            self._kept = self._load_prefix(self.prefix_path)
            self._from_disk = self._kept[0] if self._kept is not None else None
        shared = 0
        if self._kept is not None:
            last, cache = self._kept
            shared = _shared_prefix([last, ids])
        if shared < MIN_SHARED_TOKENS:
            cache, shared = self._new_cache(), 0
        else:
            # A negative count removes that many tokens, in transformers 4 and 5 alike.
            extra = cache.get_seq_length() - shared
            if extra:
                cache.crop(-extra)
        self._kept = (ids, cache)
        return cache

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def _load_prefix(self, path: Path) -> tuple[list[int], Any] | None:
        return load_prefix(path, self.model.config)

    def _save_for_next_process(self) -> None:
        """The first reply's prompt cache, for the next process to start from (once a process:
        the head it shares with later prompts is the same)."""
        if self.prefix_path is None or self._saved is not None or self._kept is None:
            return
        ids, cache = self._kept
        if ids != self._from_disk:
            self._saved = save_prefix(self.prefix_path, ids, cache)
        if self._saved is None:  # nothing to write: do not try again
            self._saved = threading.Thread()

    def _generate(
        self, kwargs: dict[str, Any], seed: int | None, streamer: Any, failure: list[BaseException]
    ) -> None:
        import torch

        devices = [self.device] if self.device.type == "cuda" else []
        try:
            # The seed is this reply's: the process-wide random state is restored afterwards.
            with torch.random.fork_rng(devices=devices), torch.inference_mode():
                if seed is not None:
                    torch.manual_seed(seed)
                _causal(self.model).generate(**kwargs)
        except Exception as e:  # reported by stream(); the streamer must end or its reader hangs
            failure.append(e)
            streamer.end()

    def _generate_kwargs(
        self, ids: Any, settings: GenerationSettings, streamer: Any, stop: threading.Event
    ) -> dict[str, Any]:
        from transformers import StoppingCriteriaList

        kwargs = self._sampling_kwargs(settings)
        kwargs.update(
            input_ids=ids,
            attention_mask=ids.new_ones(ids.shape),
            max_new_tokens=settings.max_new_tokens,
            streamer=streamer,
            eos_token_id=self.stop_ids,
            pad_token_id=_pad_id(self.tokenizer, self.stop_ids),
            stopping_criteria=StoppingCriteriaList([_StopWhenSet(stop)]),
        )
        return kwargs

    @staticmethod
    def _sampling_kwargs(settings: GenerationSettings) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"repetition_penalty": settings.repetition_penalty}
        if settings.temperature > 0:
            kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    @property
    def last_counts(self) -> ReplyCounts | None:
        """The tokens of the last reply streamed in this thread (None before one ended)."""
        value: ReplyCounts | None = getattr(self._counts, "value", None)
        return value

    def _prompt_ids(self, messages: Sequence[ChatMessage], max_new_tokens: int) -> Any:
        import torch

        return torch.tensor([self._prompt_list(messages, max_new_tokens)], device=self.device)

    def _prompt_list(self, messages: Sequence[ChatMessage], max_new_tokens: int) -> list[int]:
        window = context_length(self.model, self.tokenizer)
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
        return ids

    def _encode(self, messages: Sequence[ChatMessage]) -> list[int]:
        try:
            encoded = self.tokenizer.apply_chat_template(
                list(messages), add_generation_prompt=True, return_dict=True
            )
        except ValueError as e:  # no chat template
            raise ChatcloneError(f"the run's tokenizer cannot format a chat ({e})") from e
        return list(encoded["input_ids"])


class NativeGenerator(LocalGenerator):
    """LocalGenerator on the native path: the cached merge run by `native_model.NativeLlama`,
    tokens picked and text cut as transformers' `generate` and streamer do, in the caller's
    thread. Eval's batches (`generate_batch`) still go to transformers."""

    model: NativeLlama
    tokenizer: native.NativeTokenizer

    def __init__(
        self,
        model: NativeLlama,
        tokenizer: native.NativeTokenizer,
        top_k: int,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        prefix_path: Path | None = None,
    ) -> None:
        super().__init__(model, tokenizer, context_tokens, prefix_path)
        self.top_k = top_k
        self._source: tuple[Path, str] | None = None  # run folder and base, for transformers
        self._batched: LocalGenerator | None = None

    @classmethod
    def open(
        cls, run_dir: Path, base: str, context_tokens: int = DEFAULT_CONTEXT_TOKENS
    ) -> NativeGenerator | None:
        """The run's cached merge on the native path; None when there is no cached merge yet
        (transformers merges it) or it or its tokenizer is not one the native path runs."""
        entry = merged.cached_entry(run_dir / runs.ADAPTER_DIR, base)
        if entry is None:
            return None
        top_k = native.top_k_of(entry)
        model = NativeLlama.load(entry) if top_k is not None else None
        if model is None or top_k is None:
            return None
        timings.mark("model")
        folder = runs.run_tokenizer_dir(run_dir, base)
        tokenizer = native.NativeTokenizer.load(folder) if folder is not None else None
        if tokenizer is None:
            return None
        generator = cls(model, tokenizer, top_k, context_tokens, entry / PREFIX_FILE)
        generator._source = (run_dir, base)
        return generator

    def generate_batch(
        self, prompts: Sequence[Sequence[ChatMessage]], settings: GenerationSettings
    ) -> list[str]:
        if self._batched is None:
            if self._source is None:
                raise ChatcloneError("batched generation needs the run's transformers model")
            self._batched = LocalGenerator.load_transformers(*self._source, self.context_tokens)
        return self._batched.generate_batch(prompts, settings)

    def stream(
        self, messages: Sequence[ChatMessage], settings: GenerationSettings
    ) -> Iterator[str]:
        self._counts.value = None
        ids = self._prompt_list(messages, settings.max_new_tokens)
        made: list[int] = []
        failed = False
        with self._busy:  # one reply at a time; the next caller waits here
            cache = self._reused_cache(ids)
            try:
                for piece in self._pieces(ids, cache, settings, made):
                    if piece:
                        yield piece
            except BaseException as e:  # Ctrl-C mid-step too: some layers may hold the step
                failed = not isinstance(e, GeneratorExit)  # closed between steps: whole
                raise
            finally:
                cut = len(made) >= settings.max_new_tokens
                last = made[-1] if made else None
                self._counts.value = ReplyCounts(
                    len(ids), len(made), cut and last not in self.stop_ids
                )
                if failed:  # the cache may hold half a step
                    self._kept = None
                else:
                    self._save_for_next_process()

    def _pieces(
        self, ids: list[int], cache: Any, settings: GenerationSettings, made: list[int]
    ) -> Iterator[str]:
        """The reply's text pieces, each token appended to `made` as it is picked."""
        import torch

        pick = native.Sampler(settings, self.top_k, native.reply_generator(settings.seed))
        text = native.TextPieces(self.tokenizer)
        seen = torch.tensor([ids])
        step = ids[cache.get_seq_length() :]
        while len(made) < settings.max_new_tokens:
            try:
                with torch.inference_mode():
                    token = pick(self.model.forward(torch.tensor([step]), cache), seen)
            except Exception as e:
                raise ChatcloneError(f"generation failed: {e}") from e
            made.append(token)
            seen = torch.cat([seen, torch.tensor([[token]])], dim=1)
            yield text.put(token)
            if token in self.stop_ids:
                break
            step = [token]
        yield text.end()

    def _new_cache(self) -> Any:
        return self.model.new_cache()

    def _load_prefix(self, path: Path) -> tuple[list[int], Any] | None:
        return load_prefix(path, self.model.config, self.model.new_cache)


class _Counted:
    """Passes generate's tokens on to the text streamer, counting those after the prompt."""

    def __init__(self, streamer: Any) -> None:
        self.streamer = streamer
        self.generated = 0
        self.last_id: int | None = None
        self._prompt = True

    def put(self, value: Any) -> None:
        if self._prompt:  # generate's first put is the prompt
            self._prompt = False
        else:
            flat = value.reshape(-1)
            self.generated += int(flat.numel())
            if flat.numel():
                self.last_id = int(flat[-1])
        self.streamer.put(value)

    def end(self) -> None:
        self.streamer.end()


class _StopWhenSet:
    """A stopping criterion that ends generation once the reader has gone."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), device=input_ids.device)


def _shared_prefix(rows: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every row has in common, leaving each row at least one of its
    own (generation starts from a row's own last token)."""
    limit = min(len(r) for r in rows) - 1
    n = 0
    while n < limit and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n


def _causal(model: Any) -> Any:
    """The transformers model under a peft wrapper: the adapter's layers are inside it, and its
    own `generate` handles a prefilled cache (peft's wrapper recomputed the whole prompt at every
    step when given one, ten times slower)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _cache_argument(model: Any) -> str:
    """What this transformers version calls the key/value cache argument (`cache` in recent
    releases, `past_key_values` before)."""
    import inspect

    forward = inspect.signature(type(_causal(model)).forward).parameters
    return "cache" if "cache" in forward else "past_key_values"


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
