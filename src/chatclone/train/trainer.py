"""The local backend's training loop: LoRA on the assistant's tokens, on CPU or GPU.

The loop is written out rather than handed to `transformers.Trainer` because what matters here
is specific: loss on the assistant's tokens only (`loss.py`), length-grouped micro-batches
(`data.py`), gradient accumulation with every trained token weighted the same, a warm-up then
cosine learning rate, validation every N steps, checkpoints every N steps and on Ctrl-C that
`--resume` continues exactly (`checkpoints.py`, `guard.py`), and a progress bar with loss, tokens
per second and ETA. With several GPUs every process runs this loop on its share of the batches;
only the first writes files, and every decision that needs agreement is made the same way on all.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chatclone import models
from chatclone.config import TrainSettings
from chatclone.errors import ChatcloneError, Interrupted
from chatclone.train import artifacts, checkpoints, guard, hardware, runs
from chatclone.train.base import DisplayFactory, QuietDisplay, TrainDisplay
from chatclone.train.data import (
    Encoded,
    collate,
    encode_file,
    group_by_tokens,
    length_grouped_batches,
    micro_batches,
)
from chatclone.train.loss import assistant_loss_sum, validation_loss

CONFIG = "config.json"


@dataclass
class StepResult:
    loss: float
    lr: float
    tokens: int
    trained: int


class Trainer:
    """One local training run, from loading the model to the finished run folder."""

    def __init__(
        self,
        run_dir: Path,
        record: runs.RunRecord,
        settings: TrainSettings,
        dataset_dir: Path,
        hw: hardware.Hardware,
        display: DisplayFactory = QuietDisplay,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.run_dir, self.record, self.settings = run_dir, record, settings
        self.dataset_dir, self.hw = dataset_dir, hw
        # Only the first process shows anything when several GPUs train together.
        self.display = display if hw.main else QuietDisplay
        self.notify = notify if notify is not None and hw.main else (lambda _: None)
        self.last_eval_step = -1

    # --- setting up ---------------------------------------------------------------------

    def _load(self) -> None:
        import torch

        torch.manual_seed(self.settings.seed)
        self.notify(
            f"Loading {self.settings.base} on {self.hw.device} "
            "(the default model is converted once on first use, about 30 s)…"
        )
        self.tokenizer = models.load_tokenizer(self.settings.base)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.tokenizer.eos_token_id
        with models.quiet_loading():
            model = models.load_causal_lm(
                self.settings.base, **hardware.model_kwargs(self.hw, self.settings)
            )
        limit = models.context_length(model, self.tokenizer)
        self.train_set, skipped = self._encode("train.jsonl", limit)
        self.valid_set, _ = self._encode("valid.jsonl", limit, required=False)
        if not self.train_set:
            raise ChatcloneError(
                f"{self.dataset_dir / 'train.jsonl'}: no sample has a reply to learn from"
            )
        self.skipped = skipped
        self._check_sizing()
        # The validation batches never change: collated once, shortest samples together.
        lengths = [len(s.ids) for s in self.valid_set]
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        self.valid_batches = [
            collate([self.valid_set[i] for i in batch], self.pad_id)
            for batch in group_by_tokens(order, lengths, self.settings.batch_tokens)
        ]
        with models.quiet_loading():
            self.model = self._with_lora(hardware.prepare_model(model, self.hw, self.settings))
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.settings.learning_rate, weight_decay=0.0)
        lengths = [len(s.ids) for s in self.train_set]
        # Batches are cut by length, so every epoch has the same number of them.
        self.per_epoch = len(length_grouped_batches(lengths, self.settings.batch_tokens, 0, 0))
        self.total_steps = self._total_steps()
        warmup = math.ceil(self.settings.warmup_ratio * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: _lr_factor(step, warmup, self.total_steps)
        )
        self.model, self.optimizer = hardware.wrap(self.model, optimizer, self.hw)
        self.selective = self.hw.accelerator is None

    def _check_sizing(self) -> None:
        """A dataset is cut into windows measured with its own model's tokenizer; trained on
        another base, its samples are measured again with the base's, and refused (never
        truncated) when they no longer fit."""
        report = runs.dataset_report(self.dataset_dir)
        if report is None or report.model == self.settings.base:
            return
        limit = report.context_tokens
        lengths = [len(s.ids) for s in self.train_set + self.valid_set]
        over = [n for n in lengths if n > limit]
        name, sized, base = self.dataset_dir.name, report.model, self.settings.base
        if over:
            raise ChatcloneError(
                f"dataset '{name}' was cut into samples of at most {limit} tokens of {sized}'s "
                f"tokenizer, but {base}'s tokenizer makes {len(over)} of them longer (up to "
                f'{max(over)}); rebuild it for this model: set `model = "{base}"` under '
                "[dataset] in chatclone.toml and run `chatclone build`"
            )
        self.notify(
            f"Dataset '{name}' was sized with {sized}'s tokenizer; measured again with {base}'s, "
            f"every sample fits in {limit} tokens (longest {max(lengths, default=0)})."
        )

    def _encode(self, file: str, limit: int, required: bool = True) -> tuple[list[Encoded], int]:
        path = self.dataset_dir / file
        if not path.is_file():
            if required:
                raise ChatcloneError(
                    f"{path} is missing; rebuild the dataset with `chatclone build`"
                )
            return [], 0
        return encode_file(self.tokenizer, path, limit)

    def _with_lora(self, model: Any) -> Any:
        from peft import LoraConfig, get_peft_model

        s = self.settings
        config = LoraConfig(
            r=s.lora_r,
            lora_alpha=s.lora_alpha,
            lora_dropout=s.lora_dropout,
            target_modules=s.target_modules or "all-linear",
            task_type="CAUSAL_LM",
        )
        return get_peft_model(model, config)

    def _total_steps(self) -> int:
        if self.settings.max_steps:
            return self.settings.max_steps
        per_step = self.settings.grad_accum * self.hw.world_size
        return max(1, math.ceil(self.per_epoch * self.settings.epochs / per_step))

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train to the end; Ctrl-C saves a checkpoint and raises Interrupted (exit 130)."""
        try:
            self._load()
            progress = self._resume_point()
            self.record.status = "running"
            self._save_record()
            if progress.step == 0 and self.valid_set:
                self._log_eval(0, None)
            self._loop(progress)
            return self._finish(progress)
        except Interrupted:
            self._set_status("interrupted")
            raise
        except KeyboardInterrupt:
            self._set_status("interrupted")
            raise Interrupted(
                f"training stopped at once; `chatclone train --resume {self.record.name}` "
                "continues from its last checkpoint"
            ) from None
        except BaseException:
            self._set_status("failed")
            raise

    def _loop(self, progress: checkpoints.Progress) -> None:
        stream = self._stream(progress.micro_batches)
        bar = self.display(self.total_steps, progress.step)
        last_saved = progress.step
        started = time.perf_counter() - progress.seconds
        with bar, guard.StopRequest(bar.note if self.hw.main else None) as stop:
            while progress.step < self.total_steps:
                result = self._step(stream, progress)
                progress.seconds = time.perf_counter() - started
                self._log(progress, result, bar)
                if self._due(progress.step, self.settings.eval_every):
                    self._log_eval(progress.step, bar)
                if self._due(progress.step, self.settings.save_every):
                    self._checkpoint(progress)
                    last_saved = progress.step
                # Every process stops at the same step, or the others would wait forever.
                if (
                    hardware.total(self.hw, int(stop.requested))
                    and progress.step < self.total_steps
                ):
                    if progress.step > last_saved:
                        self._checkpoint(progress)
                    raise Interrupted(
                        f"training stopped at step {progress.step}/{self.total_steps}; continue "
                        f"with `chatclone train --resume {self.record.name}`"
                    )

    def _resume_point(self) -> checkpoints.Progress:
        found = checkpoints.latest(self.run_dir)
        progress = checkpoints.Progress()
        if found is not None:
            model = hardware.unwrap(self.model, self.hw)
            progress = checkpoints.load(found, model, self.optimizer, self.scheduler)
        if self.hw.main:  # rows past the checkpoint are redone
            artifacts.truncate_metrics(self.run_dir, progress.step)
        hardware.barrier(self.hw)
        return progress

    def _stream(self, consumed: int) -> Iterator[tuple[int, list[int]]]:
        """This process's micro-batches, after the `consumed` ones every process has done."""
        stream = micro_batches(self.train_set, self.settings.batch_tokens, self.settings.seed)
        for index, item in enumerate(stream):
            if index >= consumed and index % self.hw.world_size == self.hw.rank:
                yield item

    def _step(
        self, stream: Iterator[tuple[int, list[int]]], progress: checkpoints.Progress
    ) -> StepResult:
        """One optimizer step over `grad_accum` micro-batches (per process)."""
        import torch

        group = [next(stream) for _ in range(self.settings.grad_accum)]
        batches = [collate([self.train_set[i] for i in idx], self.pad_id) for _, idx in group]
        # Every process divides by the trained tokens of the whole step, on every process, so that
        # the (averaged) gradients are the mean over all of them.
        trained = hardware.total(self.hw, sum(b.trained for b in batches))
        total = 0.0
        self.model.train()
        for k, batch in enumerate(batches):
            last = k == len(batches) - 1
            with hardware.no_sync(self.model, self.hw, last), self.hw.autocast():
                loss = assistant_loss_sum(self.model, batch, self.hw.device, self.selective)
                self.hw.backward(loss * self.hw.world_size / trained)
            total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
        lr = float(self.scheduler.get_last_lr()[0])  # the rate this step uses
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        tokens = sum(b.tokens for b in batches)
        progress.step += 1
        progress.micro_batches += len(batches) * self.hw.world_size
        progress.tokens += tokens * self.hw.world_size  # about: the others' batches are similar
        progress.trained_tokens += trained
        # This process's share of the step's loss, scaled to a per-token mean.
        return StepResult(total * self.hw.world_size / trained, lr, tokens, trained)

    def evaluate(self) -> float:
        """Mean loss per assistant token over the validation set (every process computes it on
        its own, outside DistributedDataParallel: no collective to get out of step)."""
        model = hardware.unwrap(self.model, self.hw)
        with self.hw.autocast():
            loss = validation_loss(model, self.valid_batches, self.hw.device)
        model.train()
        return round(loss, 5)

    # --- bookkeeping --------------------------------------------------------------------

    @staticmethod
    def _due(step: int, every: int) -> bool:
        return every > 0 and step % every == 0

    def _log(self, progress: checkpoints.Progress, result: StepResult, bar: TrainDisplay) -> None:
        seconds = max(progress.seconds, 1e-9)
        speed = round(progress.tokens / seconds, 1)
        row: dict[str, Any] = {
            "step": progress.step,
            "epoch": round(progress.micro_batches / max(self.per_epoch, 1), 4),
            "loss": round(result.loss, 5),
            "lr": result.lr,
            "tokens_per_s": speed,
            "trained_tokens_per_s": round(progress.trained_tokens / seconds, 1),
            "elapsed_s": round(progress.seconds, 2),
        }
        if self.hw.main:
            artifacts.append_metric(self.run_dir, row)
        bar.update(progress.step, result.loss, speed)

    def _log_eval(self, step: int, bar: TrainDisplay | None) -> None:
        if not self.valid_set:
            return
        loss = self.evaluate()
        self.last_eval_step = step
        if self.hw.main:
            artifacts.append_metric(self.run_dir, {"step": step, "valid_loss": loss})
        if bar is not None:
            bar.note(f"step {step}/{self.total_steps}: validation loss {loss:.4f}")

    def _checkpoint(self, progress: checkpoints.Progress) -> None:
        if self.hw.main:
            model = hardware.unwrap(self.model, self.hw)
            checkpoints.save(
                self.run_dir,
                model,
                self.optimizer,
                self.scheduler,
                progress,
                self.settings.keep_checkpoints,
            )

    def _save_record(self) -> None:
        if self.hw.main:
            runs.save_record(self.run_dir, self.record)

    def _set_status(self, status: str) -> None:
        self.record.status = status
        # The original error matters more than a status that could not be written.
        with contextlib.suppress(OSError):
            self._save_record()

    def _finish(self, progress: checkpoints.Progress) -> dict[str, Any]:
        if self.last_eval_step != progress.step:
            self._log_eval(progress.step, None)
        if not self.hw.main:
            return {}
        model = hardware.unwrap(self.model, self.hw)
        model.save_pretrained(str(self.run_dir / runs.ADAPTER_DIR))
        self.tokenizer.save_pretrained(str(self.run_dir / runs.TOKENIZER_DIR))
        config = self._config(progress)
        (self.run_dir / CONFIG).write_text(json.dumps(config, indent=2) + "\n", "utf-8")
        artifacts.plot_losses(self.run_dir)
        artifacts.write_card(self.run_dir, config)
        self.record.status = "finished"
        self._save_record()
        return self._summary(progress)

    def _config(self, progress: checkpoints.Progress) -> dict[str, Any]:
        s = self.settings
        return {
            "run": self.record.name,
            "settings": asdict(s),
            "base": s.base,
            "base_path": models.base_model_path(s.base),
            "me": self.record.me,
            "dataset": self.record.dataset,
            "dataset_path": str(self.dataset_dir),
            "dataset_sha256": self.record.dataset_sha256,
            "samples": {
                "train": len(self.train_set),
                "valid": len(self.valid_set),
                "skipped": self.skipped,
            },
            "steps": progress.step,
            "epochs_done": progress.micro_batches / max(self.per_epoch, 1),
            "hardware": {
                "device": self.hw.device,
                "precision": self.hw.precision,
                "processes": self.hw.world_size,
            },
            "hyperparameters": {
                "learning_rate": s.learning_rate,
                "warmup_ratio": s.warmup_ratio,
                "schedule": "cosine",
                "lora_r": s.lora_r,
                "lora_alpha": s.lora_alpha,
                "lora_dropout": s.lora_dropout,
                "target_modules": s.target_modules or "all-linear",
                "batch_tokens": s.batch_tokens,
                "grad_accum": s.grad_accum,
                "epochs": s.epochs,
                "max_steps": s.max_steps,
                "seed": s.seed,
                "qlora": s.qlora,
                "gradient_checkpointing": s.gradient_checkpointing,
            },
        }

    def _summary(self, progress: checkpoints.Progress) -> dict[str, Any]:
        losses = artifacts.final_losses(self.run_dir)
        seconds = max(progress.seconds, 1e-9)
        return {
            "message": f"Trained run [bold]{self.record.name}[/] in {progress.seconds:.0f} s.",
            "run": self.record.name,
            "backend": "local",
            "status": "finished",
            "path": str(self.run_dir),
            "base": self.settings.base,
            "dataset": self.record.dataset,
            "steps": progress.step,
            "epochs": round(progress.micro_batches / max(self.per_epoch, 1), 2),
            **losses,
            "trained_tokens": progress.trained_tokens,
            "tokens_per_s": round(progress.tokens / seconds, 1),
            "trained_tokens_per_s": round(progress.trained_tokens / seconds, 1),
            "seconds": round(progress.seconds, 1),
            "device": f"{self.hw.device} ({self.hw.precision})",
            "peak_gpu_memory_mb": hardware.peak_memory_mb(self.hw),
            "next": f"chatclone chat --run {self.record.name}",
        }


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up from 0, then a cosine decay to 0 at the last step."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    span = max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / span)))
