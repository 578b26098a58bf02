"""`chatclone train --backend local` for real: a few LoRA steps of the packaged SmolLM2-135M on
the bundled sample, on CPU; the run folder, Ctrl-C and --resume, and `export --merged`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from chatclone.workspace import Workspace

from helpers import SAMPLE, build_sample, cli

pytestmark = pytest.mark.slow

# Small micro-batches (one or two samples each) keep every step a couple of seconds on a CPU.
FAST = {"batch_tokens": 640, "grad_accum": 1, "learning_rate": 1e-3, "eval_every": 0}


def configure(ws: Path, **train: Any) -> None:
    workspace = Workspace(ws)
    settings = workspace.settings()
    workspace.save(replace(settings, train=replace(settings.train, **train)))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Sam's persona.md, so the system prompts carry facts
    ws = build_sample(tmp_path_factory.mktemp("train") / "ws", persona=True)
    configure(ws, **FAST)
    return ws


@pytest.fixture(scope="module")
def trained(built: Path) -> tuple[Path, dict[str, Any]]:
    run = cli("train", "-w", built, "--json", "--max-steps", "8", "--name", "first")
    assert run.code == 0, run.err
    return built, run.json()


def adapter(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "adapter_model.safetensors"))


def test_training_changes_the_adapter_and_lowers_validation_loss(
    trained: tuple[Path, dict[str, Any]],
) -> None:
    ws, result = trained
    assert result["status"] == "finished" and result["steps"] == 8
    weights = adapter(ws / "runs" / "first" / "adapter")
    lora_b = [t for name, t in weights.items() if "lora_B" in name]
    assert lora_b and all(t.abs().sum() > 0 for t in lora_b)  # LoRA's B starts at exactly zero
    assert result["valid_loss"] < result["valid_loss_start"]
    rows = [json.loads(line) for line in (ws / "runs/first/metrics.jsonl").read_text().splitlines()]
    valid = [r["valid_loss"] for r in rows if "valid_loss" in r]
    assert valid[0] == result["valid_loss_start"] and valid[-1] == result["valid_loss"]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 9))
    assert all(r["tokens_per_s"] > 0 and r["lr"] > 0 for r in rows if "loss" in r)


def test_run_folder_has_everything_a_user_needs(trained: tuple[Path, dict[str, Any]]) -> None:
    ws, result = trained
    run = ws / "runs" / "first"
    for name in ("adapter/adapter_config.json", "tokenizer/tokenizer_config.json", "config.json",
                 "metrics.jsonl", "run.json", "README.md"):  # fmt: skip
        assert (run / name).is_file(), name
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "finished" and record["backend"] == "local"
    assert record["me"] == "Sam Rivera" and "Pedalwise" in record["persona"]
    config = json.loads((run / "config.json").read_text())
    card = (run / "README.md").read_text()
    assert config["dataset_sha256"] in card and "SmolLM2" not in config["base"]
    assert config["hyperparameters"]["learning_rate"] == 1e-3 and "lora_r" in card
    assert str(result["valid_loss"]) in card
    assert config["hardware"] == {"device": "cpu", "precision": "float32", "processes": 1}


def test_selective_head_gives_the_same_loss_as_the_full_forward(
    trained: tuple[Path, dict[str, Any]],
) -> None:
    from peft import PeftModel

    from chatclone.models import load_causal_lm, load_tokenizer
    from chatclone.train.data import collate, encode_file
    from chatclone.train.loss import assistant_loss_sum

    ws, _ = trained
    tokenizer = load_tokenizer("default")
    samples, _ = encode_file(tokenizer, ws / "datasets/sample/valid.jsonl", 2048)
    model = PeftModel.from_pretrained(load_causal_lm("default"), str(ws / "runs/first/adapter"))
    batch = collate(samples[:3], tokenizer.pad_token_id)
    with torch.no_grad():
        fast = assistant_loss_sum(model, batch, "cpu", selective=True)
        full = assistant_loss_sum(model, batch, "cpu", selective=False)
    assert float(fast) == pytest.approx(float(full), rel=1e-4)


def test_export_merged_loads_without_peft_and_matches_the_adapter(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from chatclone.models import load_causal_lm

    ws, _ = trained
    out = tmp_path / "merged"
    run = cli("export", "-w", ws, "--merged", "--run", "first", "--out", out, "--json")
    assert run.code == 0, run.err
    assert run.json()["path"] == str(out)
    assert not (out / "adapter_config.json").exists()
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    assert (out / "tokenizer_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(str(out))
    peft_model = PeftModel.from_pretrained(
        load_causal_lm("default"), str(ws / "runs/first/adapter")
    )
    ids = torch.tensor([[1, 9690, 198, 11801, 2, 198, 1, 4093, 198, 6004, 665]])
    with torch.no_grad():
        a, b = merged(ids).logits, peft_model(ids).logits
    assert torch.allclose(a, b, atol=1e-3)
    again = cli("export", "-w", ws, "--merged", "--run", "first", "--out", out)
    assert again.code != 0 and "already exists" in again.err


def _train_process(ws: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "chatclone", "train", "-w", str(ws), "--json", *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def test_ctrl_c_then_resume_gives_the_uninterrupted_result(built: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(built, ws, ignore=shutil.ignore_patterns("runs"))
    configure(ws, save_every=2)
    reference = cli("train", "-w", ws, "--json", "--max-steps", "6", "--name", "straight")
    assert reference.code == 0, reference.err

    process = _train_process(ws, "--max-steps", "6", "--name", "cut")
    checkpoint = ws / "runs/cut/checkpoints/step-000002/state.json"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert checkpoint.exists(), process.communicate()[1]
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "chatclone train --resume cut" in err
    record = json.loads((ws / "runs/cut/run.json").read_text())
    assert record["status"] == "interrupted"
    assert not (ws / "runs/cut/adapter").exists()

    chat = cli("chat", "-w", ws, "--run", "cut", "--once", "hi")
    assert chat.code != 0 and "--resume cut" in chat.err

    resumed = cli("train", "-w", ws, "--json", "--resume", "cut")
    assert resumed.code == 0, resumed.err
    assert resumed.json()["steps"] == 6
    straight, cut = adapter(ws / "runs/straight/adapter"), adapter(ws / "runs/cut/adapter")
    assert straight.keys() == cut.keys()
    for name in straight:
        assert torch.allclose(straight[name], cut[name], atol=1e-5), name
    rows = [json.loads(x) for x in (ws / "runs/cut/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4, 5, 6]  # none twice, none lost
    assert len(list((ws / "runs/cut/checkpoints").iterdir())) <= 2  # keep_checkpoints

    finished = cli("train", "-w", ws, "--resume", "cut")
    assert finished.code != 0 and "already finished" in finished.err


def test_clear_errors(built: Path, tmp_path: Path) -> None:
    unknown = cli("train", "-w", built, "--resume", "nope")
    assert unknown.code != 0 and "no run 'nope'" in unknown.err
    dry = cli("train", "-w", built, "--dry-run")
    assert dry.code != 0 and "--backend openai" in dry.err
    resume = cli("train", "-w", built, "--backend", "openai", "--resume", "first")
    assert resume.code != 0 and "only apply to --backend local" in resume.err
    empty = tmp_path / "empty"
    assert cli("ingest", SAMPLE["WhatsApp Chat with Jordan.txt"], "-w", empty).code == 0
    no_dataset = cli("train", "-w", empty, "--max-steps", "1")
    assert no_dataset.code != 0 and "chatclone build" in no_dataset.err
    if not torch.cuda.is_available():
        ws = tmp_path / "ws"
        shutil.copytree(built, ws, ignore=shutil.ignore_patterns("runs"))
        configure(ws, qlora=True)
        cuda = cli("train", "-w", ws, "--max-steps", "1")
        assert cuda.code != 0 and "qlora needs a CUDA GPU" in cuda.err


def test_a_dataset_sized_for_another_model_is_measured_again(built: Path, tmp_path: Path) -> None:
    """Windows measured in one tokenizer's tokens are checked with the training base's: refused
    when they no longer fit, never silently cut; a note when they do."""
    from tiny import tiny_model_dir

    tiny = str(tiny_model_dir(tmp_path / "tiny"))
    ws = tmp_path / "ws"
    shutil.copytree(built, ws, ignore=shutil.ignore_patterns("runs"))
    report_path = ws / "datasets" / "sample" / "report.json"
    report = json.loads(report_path.read_text("utf-8"))
    report["settings"].update(model="another/model", max_context_tokens=100)
    report_path.write_text(json.dumps(report), "utf-8")
    refused = cli("train", "-w", ws, "--base", tiny, "--max-steps", "1", "--name", "r1")
    assert refused.code != 0 and "at most 100 tokens of another/model's tokenizer" in refused.err
    assert f'model = "{tiny}"' in refused.err and "Traceback" not in refused.err
    report["settings"]["max_context_tokens"] = 1024
    report_path.write_text(json.dumps(report), "utf-8")
    fits = cli("train", "-w", ws, "--base", tiny, "--max-steps", "1", "--name", "r2")
    assert fits.code == 0, fits.err
    assert "measured again with" in fits.err and "every sample fits in 1024 tokens" in fits.err
    record = json.loads((ws / "runs" / "r2" / "run.json").read_text("utf-8"))
    assert record["context_tokens"] == 1024 and record["me"] == "Sam Rivera"


def test_a_run_name_is_one_folder_name(built: Path) -> None:
    for name in ("../x", "my run", ""):
        run = cli("train", "-w", built, "--name", name, "--max-steps", "1")
        assert run.code != 0 and f"'{name}' is not a usable run name" in run.err
