"""Where and how the local backend computes: CPU in float32, or CUDA with bf16, optional 4-bit QLoRA
and several GPUs; gradient checkpointing on either.

Everything CUDA-specific is behind `Hardware.cuda`: a CPU run never imports bitsandbytes or
accelerate's distributed machinery and never calls a CUDA API beyond `torch.cuda.is_available()`.

Several GPUs: start the same command under accelerate, e.g.
`accelerate launch --num_processes 2 -m chatclone train --backend local …`. Each process then
takes every N-th micro-batch, gradients are averaged by DistributedDataParallel, and only the
first process writes checkpoints and the run folder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatclone.config import TrainSettings
from chatclone.errors import ChatcloneError


@dataclass
class Hardware:
    device: str  # "cpu" or "cuda"
    precision: str  # "float32" or "bfloat16"
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    accelerator: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")  # "cuda:1" under accelerate

    @property
    def main(self) -> bool:
        return self.rank == 0

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on CUDA (the LoRA weights stay float32); nothing on CPU."""
        if self.precision != "bfloat16":
            return contextlib.nullcontext()
        import torch

        return torch.autocast("cuda", dtype=torch.bfloat16)

    def backward(self, loss: Any) -> None:
        if self.accelerator is not None:
            self.accelerator.backward(loss)
        else:
            loss.backward()


def detect(settings: TrainSettings) -> Hardware:
    """CUDA when there is a GPU, else CPU; CUDA-only settings on a CPU are an error, not ignored."""
    import torch

    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if processes > 1 and not torch.cuda.is_available():
        raise ChatcloneError(
            "several training processes need CUDA GPUs; on a CPU run `chatclone train` once"
        )
    if not torch.cuda.is_available():
        hardware = Hardware("cpu", "float32")
        check_settings(hardware, settings)
        return hardware
    bf16 = torch.cuda.is_bf16_supported()
    hardware = Hardware("cuda", "bfloat16" if bf16 else "float32")
    if not bf16:
        hardware.notes.append("this GPU has no bf16: training in float32")
    if processes > 1:
        _distributed(hardware)
    return hardware


def check_settings(hardware: Hardware, settings: TrainSettings) -> None:
    """CUDA-only settings on a CPU are an error, not silently ignored."""
    if settings.qlora and not hardware.cuda:
        raise ChatcloneError(
            "qlora needs a CUDA GPU and none is available; turn it off in chatclone.toml [train]"
        )


def _distributed(hardware: Hardware) -> None:
    from accelerate import Accelerator

    # Autocast is done by hand (`Hardware.autocast`): accelerate must not add a loss scaler.
    accelerator = Accelerator(mixed_precision="no")
    hardware.accelerator = accelerator
    hardware.world_size = accelerator.num_processes
    hardware.rank = accelerator.process_index
    hardware.local_rank = accelerator.local_process_index
    hardware.device = str(accelerator.device)


def model_kwargs(hardware: Hardware, settings: TrainSettings) -> dict[str, Any]:
    """`from_pretrained` arguments: float32 on CPU (transformers would otherwise keep a bf16
    checkpoint's dtype); bf16 (or 4-bit NF4 for QLoRA) on CUDA."""
    import torch

    if not hardware.cuda:
        return {"dtype": torch.float32}
    dtype = torch.bfloat16 if hardware.precision == "bfloat16" else torch.float32
    kwargs: dict[str, Any] = {"dtype": dtype}
    if settings.qlora:
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError as e:
            raise ChatcloneError(
                f"qlora needs bitsandbytes: pip install 'chatclone[cuda]' ({e})"
            ) from e
        kwargs["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
    if hardware.world_size > 1:
        kwargs["device_map"] = {"": hardware.local_rank}
    return kwargs


def prepare_model(model: Any, hardware: Hardware, settings: TrainSettings) -> Any:
    """QLoRA's preparation (CUDA only) and gradient checkpointing, then onto the device."""
    if hardware.cuda and settings.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(  # type: ignore[no-untyped-call]
            model,
            use_gradient_checkpointing=settings.gradient_checkpointing,
            # Reentrant checkpointing breaks with LoRA under DistributedDataParallel.
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif settings.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if not settings.qlora and hardware.world_size == 1:
        model.to(hardware.device)
    return model


def wrap(model: Any, optimizer: Any, hardware: Hardware) -> tuple[Any, Any]:
    """DistributedDataParallel through accelerate when launched on several GPUs."""
    if hardware.accelerator is None:
        return model, optimizer
    prepared: tuple[Any, Any] = hardware.accelerator.prepare(model, optimizer)
    return prepared


def unwrap(model: Any, hardware: Hardware) -> Any:
    return model if hardware.accelerator is None else hardware.accelerator.unwrap_model(model)


def no_sync(model: Any, hardware: Hardware, last: bool) -> contextlib.AbstractContextManager[Any]:
    """Skip the gradient all-reduce on micro-batches before the last of an accumulation."""
    if hardware.accelerator is None or last:
        return contextlib.nullcontext()
    sync: Callable[[Any], contextlib.AbstractContextManager[Any]] = hardware.accelerator.no_sync
    return sync(model)


def barrier(hardware: Hardware) -> None:
    """Every process waits here for the others (nothing to wait for in one process)."""
    if hardware.accelerator is not None:
        hardware.accelerator.wait_for_everyone()


def share(hardware: Hardware, value: str | None) -> str:
    """The first process's `value`, on every process (the run's name, decided once)."""
    if hardware.accelerator is None:
        assert value is not None
        return value
    from accelerate.utils import broadcast_object_list

    box = [value]
    broadcast_object_list(box, from_process=0)
    assert box[0] is not None
    return box[0]


def total(hardware: Hardware, count: int) -> int:
    """The sum of `count` over every process."""
    if hardware.accelerator is None:
        return count
    import torch

    summed = hardware.accelerator.reduce(torch.tensor(count, device=hardware.device), "sum")
    return int(summed.item())


def peak_memory_mb(hardware: Hardware) -> float | None:
    """Peak GPU memory this process allocated (None on CPU, where the OS measures it)."""
    if not hardware.cuda:
        return None
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**20, 1)
