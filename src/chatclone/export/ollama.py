"""`chatclone export --format ollama`: a folder that `ollama create NAME -f Modelfile` turns into
the clone.

The weights go in as the merged safetensors folder for the architectures Ollama converts itself
(docs/import.md), else as a GGUF file made by llama.cpp's converter (`export.llamacpp`). The
Modelfile carries the chat template translated into Ollama's Go template (`export.chat_templates`, proved
equal to the Hugging Face template on sample chats), the clone's system prompt for one partner,
the stop tokens and chat's sampling defaults. It is read back with Ollama's parsing rules
(`export.modelfile`) before anything is written.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from chatclone.errors import ChatcloneError
from chatclone.export import chat_templates, gguf_export, llamacpp, modelfile
from chatclone.export.options import (
    CHAT_DEFAULTS,
    MEMORY_NOTE,
    ExportOptions,
    architecture,
    base_config,
    clone_system_prompt,
    history_tokens,
    model_name,
)
from chatclone.train import export as core
from chatclone.train import runs
from chatclone.workspace import Workspace

# Text models `ollama create` converts from safetensors itself (ollama/ollama convert/convert.go,
# `LoadModelMetadata`); it has no case for MistralForCausalLM, so Mistral goes through GGUF. The
# chat template is checked apart from this (`chat_templates.translate`): Gemma 1 and 2 templates
# refuse a system prompt, and [INST] (Mixtral, Mistral 3) and Command R templates are not
# translated, so those runs stop there whatever their weights.
SAFETENSORS_ARCHITECTURES = {
    "LlamaForCausalLM",
    "MixtralForCausalLM",
    "Mistral3ForConditionalGeneration",
    "GemmaForCausalLM",
    "Gemma2ForCausalLM",
    "Gemma3ForCausalLM",
    "Gemma3ForConditionalGeneration",
    "Phi3ForCausalLM",
    "Qwen2ForCausalLM",
    "Olmo3ForCausalLM",
    "CohereForCausalLM",
}
WEIGHTS_DIR = "model"


def export_ollama(ws: Workspace, options: ExportOptions) -> dict[str, Any]:
    run_dir, record = core.local_run(ws, options.run)
    target = core.free_target(options.out or run_dir / "ollama")
    tokenizer = runs.load_run_tokenizer(run_dir, record.base)
    system = clone_system_prompt(record, options.partner)
    translation = chat_templates.translate(tokenizer, system)

    config = base_config(record)
    converter = _gguf_converter(architecture(config), options.converter)  # before the merge
    window = getattr(config.get_text_config(), "max_position_embeddings", None) or 2048
    parameters = _parameters(translation.stops, min(window, history_tokens(record) + 200))
    merged = core.merge(run_dir, record)

    name = model_name(record.name)
    with core.written_atomically(target) as tmp:
        if converter is None:
            source, weights = f"./{WEIGHTS_DIR}", "safetensors"
            core.save_merged(merged, run_dir, record, tmp / WEIGHTS_DIR)
            del merged
            _add_legacy_rope_keys(tmp / WEIGHTS_DIR)
        else:
            gguf_name = f"{name}-{options.outtype}.gguf"
            source, weights = f"./{gguf_name}", "gguf"
            probe = gguf_export.prepare(merged, run_dir, record, tokenizer, system, tmp)
            del merged
            gguf_export.convert_checked(
                probe, converter, tokenizer, tmp / gguf_name, options.outtype
            )
        text = modelfile.write(
            source,
            parameters,
            translation.template,
            system,
            comments=_comments(record.name, options.partner, translation.family, name),
        )
        check_modelfile(text, source, translation.template, system, parameters)
        (tmp / "Modelfile").write_text(text, "utf-8")
        command = f"ollama create {name} -f {shlex.quote(str(target / 'Modelfile'))}"
        (tmp / "README.md").write_text(_readme(name, command, system), "utf-8")
    return {
        "format": "ollama",
        "run": record.name,
        "base": record.base,
        "path": str(target),
        "modelfile": str(target / "Modelfile"),
        "weights": weights,
        "name": name,
        "command": f"{command} && ollama run {name}",
        "template": translation.family,
        "bos_left_out": translation.bos_left_out,
        "partner": options.partner,
        "system": system,
        "parameters": _parameter_dict(parameters),
        "note": MEMORY_NOTE,
        "size_mb": core.folder_size_mb(target),
    }


def _gguf_converter(architecture: str, explicit: Path | None) -> llamacpp.Converter | None:
    """None when Ollama imports the safetensors itself, else llama.cpp's converter for a GGUF
    file (or an error saying what to do)."""
    if architecture in SAFETENSORS_ARCHITECTURES:
        return None
    try:
        return llamacpp.find_converter(explicit)
    except ChatcloneError as e:
        raise ChatcloneError(
            f"Ollama cannot import a {architecture} model from safetensors, and making a "
            f"GGUF file for it needs llama.cpp's converter: {e}. Or use --format vllm"
        ) from None


Parameters = list[tuple[str, str | int | float]]


def _sampling() -> Parameters:
    """`chatclone chat`'s sampling defaults as Ollama PARAMETERs."""
    chat = CHAT_DEFAULTS
    return [
        ("temperature", chat.temperature),
        ("top_p", chat.top_p),
        ("repeat_penalty", chat.repetition_penalty),
        ("num_predict", chat.max_new_tokens),
    ]


def _parameters(stops: list[str], context: int) -> Parameters:
    return [*_sampling(), ("num_ctx", context), *[("stop", s) for s in stops]]


def _listed(parameters: Parameters) -> dict[str, list[str | int | float]]:
    """Each parameter's values in order (a Modelfile may repeat one, as it does `stop`)."""
    out: dict[str, list[str | int | float]] = {}
    for key, value in parameters:
        out.setdefault(key, []).append(value)
    return out


def _parameter_dict(parameters: Parameters) -> dict[str, Any]:
    """For the JSON result: `stop` as a list, every other parameter as its one value."""
    return {k: vs if k == "stop" else vs[0] for k, vs in _listed(parameters).items()}


def check_modelfile(
    text: str,
    source: str,
    template: str,
    system: str,
    parameters: Parameters,
) -> None:
    """The Modelfile read back as `ollama create` reads it says exactly what was meant."""
    commands = modelfile.parse(text)
    modelfile.check(commands)
    read = {
        "FROM": modelfile.values(commands, "model"),
        "TEMPLATE": modelfile.values(commands, "template"),
        "SYSTEM": modelfile.values(commands, "system"),
    }
    meant = {"FROM": [source], "TEMPLATE": [template], "SYSTEM": [system]}
    for what, values in read.items():
        if values != meant[what]:
            raise ChatcloneError(
                f"the Modelfile's {what} would be read by Ollama as {values!r:.300}, not as "
                f"meant ({meant[what]!r:.300}); characters Ollama drops (zero-width joiners, "
                'non-breaking spaces) or a """ in the persona cause this'
            )
    expected = {k: [str(v) for v in vs] for k, vs in _listed(parameters).items()}
    if modelfile.parameters(commands) != expected:
        raise ChatcloneError("the Modelfile's PARAMETER lines do not read back as written")


def _add_legacy_rope_keys(folder: Path) -> None:
    """transformers 5 writes RoPE settings as `rope_parameters`; Ollama's converter reads the
    older top-level `rope_theta`/`rope_scaling` and would otherwise fall back to a base of 10000
    (SmolLM2 uses 100000). transformers still reads the older keys the same way."""
    path = folder / "config.json"
    config = json.loads(path.read_text("utf-8"))
    rope = config.get("rope_parameters")
    if isinstance(rope, dict) and "rope_theta" in rope:
        config.setdefault("rope_theta", rope["rope_theta"])
        if rope.get("rope_type", "default") != "default":
            config.setdefault("rope_scaling", {k: v for k, v in rope.items() if k != "rope_theta"})
        path.write_text(json.dumps(config, indent=2) + "\n", "utf-8")
    _check_config_reads_the_same(folder, rope)


def _check_config_reads_the_same(folder: Path, rope: Any) -> None:
    from transformers import AutoConfig

    reread = getattr(AutoConfig.from_pretrained(str(folder)), "rope_parameters", None)
    if rope is not None and reread is not None and reread != rope:
        raise ChatcloneError(
            f"the model's config reads back with other RoPE settings ({reread} instead of {rope})"
        )


def _comments(run: str, partner: str, family: str, name: str) -> list[str]:
    return [
        f"The chatclone clone of run '{run}', talking to {partner}.",
        f"Build and chat: ollama create {name} -f Modelfile && ollama run {name}",
        "",
        "SYSTEM is the clone's system prompt for this partner (chatclone export --partner NAME",
        "makes it for another), without the memory block: `chatclone chat` adds what it",
        "recalls to each turn's system prompt, which a static Modelfile cannot carry.",
        f"TEMPLATE is the model's {family} chat template in Ollama's Go template language,",
        "checked against the Hugging Face template by chatclone before this file was written.",
        "Sampling follows `chatclone chat`: "
        + ", ".join(f"{key} {value}" for key, value in _sampling())
        + ".",
    ]


def _readme(name: str, command: str, system: str) -> str:
    return f"""# {name} for Ollama

Made by `chatclone export --format ollama`.

```sh
{command}
ollama run {name}
```

Or through Ollama's API (the Modelfile's system prompt and sampling apply):

```sh
curl http://localhost:11434/api/chat -d '{{"model": "{name}", "stream": false,
  "messages": [{{"role": "user", "content": "are you still going to lisbon?"}}]}}'
```

The system prompt (in the Modelfile as SYSTEM) is the one `chatclone chat` starts with, without
the memory block it adds to each turn:

```text
{system}
```
"""
