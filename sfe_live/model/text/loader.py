"""One factory for every text encoder: names (``random:...``, ``minilm``), configs, files, folders."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional, Union

import torch

from sfe_live.config import TextConfig
from sfe_live.model.files import ModelLoadError
from sfe_live.model.text.base import TextEncoder, log
from sfe_live.model.text.hashed import RandomTextEncoder
from sfe_live.model.text.minilm import MINILM_DIM, MINILM_TEXT_LEN, MiniLMTextEncoder
from sfe_live.model.text.umt5 import _HF_WEIGHT_FILES, UMT5_TEXT_LEN, WAN_T5_FILENAME, UMT5TextEncoder

def _parse_spec(spec: str, text_len: Optional[int]) -> Optional[TextConfig]:
    """``random[:dim[:text_len]]`` / ``minilm[:text_len]`` -> a TextConfig, else None (a path)."""
    head, sep, rest = spec.partition(":")
    if head not in ("random", "minilm"):
        return None
    bad = ModelLoadError(f"bad text encoder source {spec!r}: expected random:<dim>:<text_len>, "
                         "minilm[:<text_len>], or a file or folder")
    parts = rest.split(":") if sep else []
    if len(parts) > (2 if head == "random" else 1) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise bad
    nums = [int(p) for p in parts]
    if head == "random":
        dim = nums[0] if nums else 32          # the tiny-random model's 32 x 16 rows
        length = nums[1] if len(nums) > 1 else 16
        return TextConfig(kind="random", dim=dim, text_len=text_len or length)
    length = nums[0] if nums else MINILM_TEXT_LEN
    return TextConfig(kind="minilm", dim=MINILM_DIM, text_len=text_len or length)


def _from_config(cfg: TextConfig, device: Union[str, torch.device], dtype: torch.dtype,
                 text_len: Optional[int]) -> TextEncoder:
    length = int(text_len or cfg.text_len)
    if cfg.kind == "random":
        return RandomTextEncoder(cfg.dim, length, device=device, dtype=dtype)
    if cfg.kind == "minilm":
        if cfg.dim != MINILM_DIM:
            raise ModelLoadError(
                f"TextConfig(kind='minilm', dim={cfg.dim}): MiniLM gives {MINILM_DIM}-d rows")
        return MiniLMTextEncoder(length, device=device, dtype=dtype)
    if cfg.kind == "umt5":
        raise ModelLoadError("TextConfig(kind='umt5') needs weights: pass the .pth file or the model folder")
    raise ModelLoadError(f"TextConfig kind {cfg.kind!r} is unknown (umt5, minilm or random)")


def _wan_pth_in(folder: Path) -> Optional[Path]:
    if (folder / WAN_T5_FILENAME).is_file():
        return folder / WAN_T5_FILENAME
    found = sorted(p for p in folder.glob("*.pth") if "t5" in p.name.lower())
    return found[0] if len(found) == 1 else None


def load_text_encoder(source: Union[str, "os.PathLike[str]", TextConfig],
                      device: Union[str, torch.device] = "cpu", dtype: torch.dtype = torch.float32,
                      text_len: Optional[int] = None) -> TextEncoder:
    """Any text encoder from one description.

    ``source`` is one of: ``"random:<dim>:<text_len>"``; ``"minilm"`` / ``"minilm:<text_len>"``;
    a :class:`TextConfig` of kind ``random`` or ``minilm``; Wan's T5 ``.pth`` (tokenizer from
    ``google/umt5-xxl/`` or ``tokenizer/`` beside it); a diffusers / transformers
    ``text_encoder/`` folder (tokenizer from ``../tokenizer/``); or a model folder holding either
    layout. ``text_len`` overrides the row count (umT5 default 512). Raises
    :class:`ModelLoadError` (one line, naming the file) on bad input.
    """
    if isinstance(source, TextConfig):
        return _from_config(source, device, dtype, text_len)
    if isinstance(source, str):
        cfg = _parse_spec(source, text_len)
        if cfg is not None:
            return _from_config(cfg, device, dtype, text_len)
    path = Path(source).expanduser()
    length = int(text_len or UMT5_TEXT_LEN)
    if not path.exists():
        raise ModelLoadError(f"{path}: file not found")
    t0 = time.perf_counter()
    if path.is_file():
        if path.name == "config.json":
            enc = UMT5TextEncoder.from_transformers(path.parent, device=device, dtype=dtype, text_len=length)
        elif path.name.endswith((".safetensors", ".index.json")) and (path.parent / "config.json").is_file():
            enc = UMT5TextEncoder.from_transformers(path.parent, device=device, dtype=dtype, text_len=length)
        else:
            enc = UMT5TextEncoder.from_file(path, device=device, dtype=dtype, text_len=length)
    elif (path / "text_encoder" / "config.json").is_file():
        enc = UMT5TextEncoder.from_transformers(path / "text_encoder", device=device, dtype=dtype,
                                                text_len=length)
    elif _wan_pth_in(path) is not None:
        enc = UMT5TextEncoder.from_file(_wan_pth_in(path), device=device, dtype=dtype, text_len=length)
    elif (path / "config.json").is_file() and any((path / f).is_file() for f in _HF_WEIGHT_FILES):
        enc = UMT5TextEncoder.from_transformers(path, device=device, dtype=dtype, text_len=length)
    else:
        raise ModelLoadError(
            f"{path}: no text encoder found (expected text_encoder/ + tokenizer/, or "
            f"{WAN_T5_FILENAME} + google/umt5-xxl/)")
    log.info("umT5 text encoder (%d-d, %d layers) loaded from %s in %.2f s", enc.config.dim,
             enc.model.config.num_layers, enc.source, time.perf_counter() - t0)
    return enc
