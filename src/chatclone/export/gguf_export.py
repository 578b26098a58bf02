"""`chatclone export --format gguf [--outtype f16|f32|q8_0]`: the merged clone as one checked GGUF
file with a README that says how to chat with it in llama.cpp (see `export.llamacpp` for the
converter and the checks)."""

from __future__ import annotations

import gc
import shlex
import shutil
from pathlib import Path
from typing import Any

from chatclone.export import llamacpp
from chatclone.export.options import (
    CHAT_DEFAULTS,
    MEMORY_NOTE,
    ExportOptions,
    architecture,
    clone_system_prompt,
    model_name,
)
from chatclone.train import export as core
from chatclone.train import runs
from chatclone.workspace import Workspace


def export_gguf(ws: Workspace, options: ExportOptions) -> dict[str, Any]:
    run_dir, record = core.local_run(ws, options.run)
    target = core.free_target(options.out or run_dir / "gguf")
    converter = llamacpp.find_converter(options.converter)  # before the slow merge
    tokenizer = runs.load_run_tokenizer(run_dir, record.base)
    system = clone_system_prompt(record, options.partner)
    file_name = f"{model_name(record.name)}-{options.outtype}.gguf"
    merged = core.merge(run_dir, record)
    with core.written_atomically(target) as tmp:
        probe = prepare(merged, run_dir, record, tokenizer, system, tmp)
        del merged
        checks = convert_checked(probe, converter, tokenizer, tmp / file_name, options.outtype)
        (tmp / "system_prompt.txt").write_text(system + "\n", "utf-8")
        (tmp / "README.md").write_text(_readme(target / file_name, system), "utf-8")
    gguf_path = target / file_name
    return {
        "format": "gguf",
        "run": record.name,
        "base": record.base,
        "path": str(target),
        "gguf": str(gguf_path),
        "outtype": options.outtype,
        "converter": converter.where,
        "command": _server_command(gguf_path),
        "checks": checks,
        "partner": options.partner,
        "system": system,
        "note": MEMORY_NOTE,
        "size_mb": core.folder_size_mb(target),
    }


class Probe:
    """The merged model saved for the converter, and its logits on a short chat to compare the
    GGUF file with once the merged model is out of memory."""

    def __init__(self, model_dir: Path, ids: list[int], reference: Any, architecture: str):
        self.model_dir, self.ids, self.reference = model_dir, ids, reference
        self.architecture = architecture


def prepare(
    merged: Any, run_dir: Path, record: runs.RunRecord, tokenizer: Any, system: str, tmp: Path
) -> Probe:
    """Saves `merged` in its own precision for the converter, then turns it into float32 (in
    place: the caller no longer needs it) for the reference logits. transformers reads the GGUF
    back in float32, so a reference computed in bf16 (a QLoRA run's merge) would differ from it
    by bf16's rounding, far above the f32 tolerance."""
    ids = llamacpp.probe_ids(tokenizer, system)
    model_dir = tmp / ".merged"
    core.save_merged(merged, run_dir, record, model_dir)
    reference = llamacpp.next_token_logits(merged.float(), ids)
    return Probe(model_dir, ids, reference, architecture(merged.config))


def convert_checked(
    probe: Probe, converter: llamacpp.Converter, tokenizer: Any, gguf_path: Path, outtype: str
) -> dict[str, Any]:
    """The GGUF file, written and checked; on any failure the caller's temporary folder (and
    the file in it) is removed with the error."""
    gc.collect()
    try:
        llamacpp.convert(converter, probe.model_dir, gguf_path, outtype)
    finally:
        shutil.rmtree(probe.model_dir, ignore_errors=True)
    checks = llamacpp.check_file(gguf_path, tokenizer, probe.architecture)
    checks["logits_error"] = llamacpp.check_logits(gguf_path, probe.reference, probe.ids, outtype)
    return checks


def _sampling_flags() -> str:
    chat = CHAT_DEFAULTS
    return (
        f"--temp {chat.temperature} --top-p {chat.top_p} "
        f"--repeat-penalty {chat.repetition_penalty} -n {chat.max_new_tokens}"
    )


def _server_command(gguf_path: Path) -> str:
    return f"llama-server -m {shlex.quote(str(gguf_path))} --jinja {_sampling_flags()} --port 8080"


def _readme(gguf_path: Path, system: str) -> str:
    model = shlex.quote(str(gguf_path))
    prompt = shlex.quote(str(gguf_path.parent / "system_prompt.txt"))
    return f"""# The clone as a GGUF file

Made by `chatclone export --format gguf` from the merged model with llama.cpp's converter, then
read back with `gguf` and with transformers and checked against the merged model's logits.
`--jinja` makes llama.cpp use the chat template stored in the file (the one the clone was
trained with).

Chat in the terminal:

```sh
llama-cli -m {model} -cnv --jinja -sys "$(cat {prompt})" {_sampling_flags()}
```

Or serve an OpenAI-compatible API and send the system prompt with each chat:

```sh
{_server_command(gguf_path)}
curl http://localhost:8080/v1/chat/completions -H 'Content-Type: application/json' -d '{{
  "messages": [{{"role": "system", "content": "…the text of system_prompt.txt…"}},
               {{"role": "user", "content": "are you still going to lisbon?"}}]}}'
```

Ollama imports the file too: a Modelfile with `FROM ./{gguf_path.name}` (or
`chatclone export --format ollama`, which writes the whole Modelfile).

{MEMORY_NOTE} The system prompt (also in system_prompt.txt):

```text
{system}
```
"""
