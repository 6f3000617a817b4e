"""Reading weight files and loading them strictly, with one-line errors that name the file.

Every loader in the model layer goes through here: safetensors (single file or a sharded
``*.index.json``), and torch pickles (``.pth`` / ``.pt``, read with ``weights_only`` and
``mmap``). User mistakes (missing, truncated, corrupt, another model's weights) raise
:class:`ModelLoadError` whose message is one line and says what was expected.
"""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import torch
from torch import nn

from sfe_live.boundedio import FileTooLarge, read_bytes_bounded

log = logging.getLogger(__name__)


class ModelLoadError(Exception):
    """A model file or folder could not be loaded; the message is one line and names the file."""


MAX_JSON_BYTES = 16 * 1024 * 1024
"""config.json, model.json and shard indexes are kilobytes; anything past this is not one."""


def _human(path: Path) -> str:
    return str(path)


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """Parse a small JSON file, its size bounded before reading; errors are one line naming it."""
    path = Path(path)
    try:
        return json.loads(read_bytes_bounded(path, MAX_JSON_BYTES).decode("utf-8"))
    except FileTooLarge as exc:
        raise ModelLoadError(f"{_human(path)}: {what} {exc}") from None
    except OSError as exc:
        raise ModelLoadError(f"{_human(path)}: cannot read the {what} ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"{_human(path)}: unreadable {what} ({first})") from None


def read_state_dict(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read every tensor of a weight file (safetensors, sharded index, or torch pickle)."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{_human(path)}: file not found")
    if path.is_dir():
        raise ModelLoadError(f"{_human(path)}: is a folder, expected a weight file")
    name = path.name
    try:
        if name.endswith(".index.json"):
            index = read_json(path, "shard index")
            shards = sorted(set(index["weight_map"].values()))
            out: dict[str, torch.Tensor] = {}
            for shard in shards:
                out.update(read_state_dict(path.parent / shard, device))
            return out
        if name.endswith(".safetensors"):
            from safetensors.torch import load_file
            return load_file(str(path), device=str(device))
        if name.endswith((".pth", ".pt", ".bin", ".ckpt")):
            try:
                obj = torch.load(str(path), map_location=device, weights_only=True, mmap=True)
            except RuntimeError as exc:  # legacy (non-zip) pickles cannot be memory-mapped
                if "mmap" not in str(exc):
                    raise
                obj = torch.load(str(path), map_location=device, weights_only=True)
            if not isinstance(obj, Mapping):
                raise ModelLoadError(f"{_human(path)}: holds a {type(obj).__name__}, expected a dict of tensors")
            return dict(obj)
    except ModelLoadError:
        raise
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"{_human(path)}: not a valid shard index ({exc})") from None
    except pickle.UnpicklingError as exc:  # weights_only refused a global: the file would run code
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise ModelLoadError(f"{_human(path)}: refused: this pickle holds Python objects besides tensors "
                                 "(loading it could run code); convert it to .safetensors where it was "
                                 "made, or use a file from a source you trust that holds only tensors") from None
        raise ModelLoadError(f"{_human(path)}: unreadable or truncated weight file ({first[:160]})") from None
    except Exception as exc:  # truncated / corrupt files surface as many exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{_human(path)}: unreadable or truncated weight file ({first[:160]})") from None
    raise ModelLoadError(f"{_human(path)}: unknown weight file type; expected .safetensors, .pth or .pt")


def strip_prefix(sd: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys starting with ``prefix`` without it (others dropped)."""
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def load_strict(module: nn.Module, sd: Mapping[str, torch.Tensor], source: str | Path,
                what: str, dtype: Optional[torch.dtype] = None) -> nn.Module:
    """Load ``sd`` into ``module`` with exact key and shape checks (works on meta modules).

    ``what`` names the expected model in the error (e.g. "a Wan2.1 DiT state dict").
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise ModelLoadError(f"{source}: keys do not match {what}: " + ", ".join(parts))
    for k, ref in expected.items():
        if tuple(sd[k].shape) != tuple(ref.shape):
            raise ModelLoadError(
                f"{source}: {k} has shape {list(sd[k].shape)}, {what} expects {list(ref.shape)} "
                "(weights of another model size? check the config)")
    converted = {}
    for k, v in sd.items():
        target = dtype if (dtype is not None and v.is_floating_point()) else expected[k].dtype
        if not v.is_floating_point():
            target = v.dtype
        converted[k] = v.to(target) if v.dtype != target else v
    module.load_state_dict(converted, strict=True, assign=True)
    return module


def rename_keys(sd: Mapping[str, torch.Tensor], rules: list[tuple[str, str]],
                extra: Optional[Callable[[str], str]] = None) -> dict[str, torch.Tensor]:
    """Apply ordered substring replacements (a rename table) to every key."""
    out = {}
    for k, v in sd.items():
        new = k
        for old, rep in rules:
            new = new.replace(old, rep)
        if extra is not None:
            new = extra(new)
        out[new] = v
    return out
