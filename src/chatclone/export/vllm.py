"""`chatclone export --format vllm`: the run's LoRA adapter, checked against what vLLM's adapter
loader rejects, with the exact `vllm serve` command and a README on chatting with it.

vLLM (vllm/lora/peft_helper.py, vllm/config/lora.py) refuses DoRA, `modules_to_save`, adapter
bias, and ranks above `--max-lora-rank` (one of 1, 8, 16, 32, 64, 128, 256, 320, 512; 16 unless
given). It applies one rank and one alpha to every module, so per-module rank or alpha patterns
would be served wrongly, and it serves LoRA on the attention and MLP projections only.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

from chatclone import models
from chatclone.errors import ChatcloneError
from chatclone.export import chat_templates
from chatclone.export.options import (
    CHAT_DEFAULTS,
    MEMORY_NOTE,
    ExportOptions,
    clone_system_prompt,
    model_name,
)
from chatclone.train import export as core
from chatclone.train import runs
from chatclone.workspace import Workspace

MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
DEFAULT_MAX_LORA_RANK = 16
SERVABLE_MODULES = {
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "qkv_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "gate_up_proj",
}
# The Hugging Face original of the packaged default model (which is its Q4_1 GGUF).
DEFAULT_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def export_vllm(ws: Workspace, options: ExportOptions) -> dict[str, Any]:
    run_dir, record = core.local_run(ws, options.run)
    target = core.free_target(options.out or run_dir / "vllm")
    adapter = run_dir / runs.ADAPTER_DIR
    config = json.loads((adapter / "adapter_config.json").read_text("utf-8"))
    max_rank = check_adapter(config)
    tokenizer = runs.load_run_tokenizer(run_dir, record.base)
    system = clone_system_prompt(record, options.partner)
    name = model_name(record.name)
    local_base = record.base == models.DEFAULT_MODEL
    base = str(target / "base") if local_base else base_for_vllm(record.base)
    command = serve_command(
        base, name, target / "adapter", target / "chat_template.jinja", max_rank
    )
    with core.written_atomically(target) as tmp:
        shutil.copytree(adapter, tmp / "adapter")
        if local_base:  # the float32 weights the adapter was trained on, from chatclone's cache
            shutil.copytree(models.base_model_path(record.base), tmp / "base")
        template = chat_templates.chat_template_text(tokenizer)
        (tmp / "chat_template.jinja").write_text(template, "utf-8")
        (tmp / "system_prompt.txt").write_text(system + "\n", "utf-8")
        (tmp / "serve.sh").write_text(f"#!/bin/sh\nexec {command}\n", "utf-8")
        (tmp / "serve.sh").chmod(0o755)
        (tmp / "README.md").write_text(_readme(name, command, system, local_base), "utf-8")
    return {
        "format": "vllm",
        "run": record.name,
        "base": base,
        "hub_id": DEFAULT_HUB_ID if local_base else None,
        "path": str(target),
        "adapter": str(target / "adapter"),
        "name": name,
        "max_lora_rank": max_rank,
        "command": command,
        "partner": options.partner,
        "system": system,
        "note": MEMORY_NOTE,
        "size_mb": core.folder_size_mb(target),
    }


def check_adapter(config: dict[str, Any]) -> int:
    """The `--max-lora-rank` vLLM needs for this adapter (16, its default, when enough); a clear
    error listing everything vLLM would reject."""
    problems = []
    if config.get("peft_type", "LORA") != "LORA":
        problems.append(f"it is a {config.get('peft_type')} adapter; vLLM serves LoRA only")
    if config.get("use_dora"):
        problems.append("it uses DoRA (use_dora), which vLLM does not support")
    if config.get("modules_to_save"):
        problems.append(
            f"it trains whole modules besides LoRA (modules_to_save: {config['modules_to_save']}), "
            "which vLLM rejects"
        )
    if config.get("bias", "none") != "none":
        problems.append(f"it trains biases (bias: {config['bias']}), which vLLM rejects")
    for key in ("rank_pattern", "alpha_pattern"):
        if config.get(key):
            problems.append(
                f"it sets a per-module {key}, which vLLM ignores (it would serve it wrong)"
            )
    if config.get("layers_to_transform") is not None:
        problems.append("it adapts only some layers (layers_to_transform), which vLLM ignores")
    modules = config.get("target_modules") or []
    if isinstance(modules, str):
        problems.append(f"its target_modules is a pattern ({modules!r}); vLLM needs module names")
    else:
        unservable = sorted(set(modules) - SERVABLE_MODULES)
        if unservable:
            problems.append(
                f"it adapts {', '.join(unservable)}; vLLM serves LoRA on the attention and MLP "
                f"projections only ({', '.join(sorted(SERVABLE_MODULES))})"
            )
    rank = int(config.get("r") or 0)
    if rank > MAX_LORA_RANKS[-1]:
        problems.append(
            f"its rank {rank} is above vLLM's largest --max-lora-rank, {MAX_LORA_RANKS[-1]}"
        )
    if rank < 1:
        problems.append("its adapter_config.json has no rank r")
    if problems:
        raise ChatcloneError(
            "vLLM cannot serve this run's adapter: "
            + "; ".join(problems)
            + ". Use --format merged (a full model folder vLLM serves without --enable-lora)"
        )
    return next(r for r in MAX_LORA_RANKS if r >= max(rank, DEFAULT_MAX_LORA_RANK))


def base_for_vllm(base: str) -> str:
    """What `vllm serve` loads for the run's base: a local folder as an absolute path, else the
    Hugging Face id as given."""
    path = Path(base).expanduser()
    return str(path.resolve()) if path.exists() else base


def serve_command(base: str, name: str, adapter: Path, template: Path, max_rank: int) -> str:
    words = ["vllm", "serve", base, "--enable-lora", "--lora-modules", f"{name}={adapter}"]
    if max_rank > DEFAULT_MAX_LORA_RANK:
        words += ["--max-lora-rank", str(max_rank)]
    words += ["--chat-template", str(template)]
    return " ".join(shlex.quote(w) for w in words)


def _readme(name: str, command: str, system: str, local_base: bool) -> str:
    chat = CHAT_DEFAULTS
    base_note = (
        "`base/` is the float32 copy of the packaged SmolLM2-135M-Instruct that the adapter was "
        f"trained on (itself a Q4_1 quantization of `{DEFAULT_HUB_ID}`). Serving the adapter on "
        f"`{DEFAULT_HUB_ID}` instead also works, with slightly different replies.\n\n"
        if local_base
        else ""
    )
    request = {
        "model": name,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "are you still going to lisbon?"},
        ],
        "temperature": chat.temperature,
        "top_p": chat.top_p,
        "repetition_penalty": chat.repetition_penalty,
        "max_tokens": chat.max_new_tokens,
    }
    body = json.dumps(request, ensure_ascii=False, indent=2)
    return f"""# {name} for vLLM

Made by `chatclone export --format vllm`: the run's LoRA adapter (`adapter/`), served on its base
model with vLLM's multi-LoRA support. Start the server (also in `serve.sh`):

```sh
{command}
```

{base_note}Chat with it through the OpenAI-compatible API; `model` is the adapter's name, and the
clone's system prompt (also in `system_prompt.txt`) goes first:

```sh
curl http://localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\
  -d @- <<'JSON'
{body}
JSON
```

Or with the `openai` package:

```python
from pathlib import Path
from openai import OpenAI

client = OpenAI(base_url="http://localhost:8000/v1", api_key="none")
system = Path("system_prompt.txt").read_text().strip()
reply = client.chat.completions.create(
    model="{name}",
    messages=[{{"role": "system", "content": system}},
              {{"role": "user", "content": "are you still going to lisbon?"}}],
    temperature={chat.temperature}, top_p={chat.top_p}, max_tokens={chat.max_new_tokens},
    extra_body={{"repetition_penalty": {chat.repetition_penalty}}},
)
print(reply.choices[0].message.content)
```

{MEMORY_NOTE}
"""
