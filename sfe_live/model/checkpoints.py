"""Loading the DiT from every on-disk layout, with one rename table and strict checks.

Layouts (auto-detected):

* Wan original: ``diffusion_pytorch_model.safetensors`` (or a sharded ``*.index.json``)
  with Wan's key names, ``config.json`` beside it;
* Self-Forcing: a ``.pt`` whose ``generator_ema`` (preferred) or ``generator`` holds
  ``"model." + <Wan key>``;
* diffusers: a ``transformer/`` folder of ``WanTransformer3DModel`` (keys renamed by
  ``DIFFUSERS_TO_WAN`` below).

The module is built on the meta device and loaded with ``assign=True``, so a 1.3B model
never exists twice in memory. Every user mistake raises ``ModelLoadError`` with one line.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Mapping, Optional

import torch

from sfe_live.config import DiTConfig
from sfe_live.model.dit import CausalWanDiT
from sfe_live.model.files import ModelLoadError, load_strict, read_state_dict, strip_prefix

log = logging.getLogger(__name__)

WAN_DIT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json")

# diffusers WanTransformer3DModel -> Wan original, applied in order as regex substitutions.
DIFFUSERS_TO_WAN: list[tuple[str, str]] = [
    (r"^condition_embedder\.time_embedder\.linear_1\.", "time_embedding.0."),
    (r"^condition_embedder\.time_embedder\.linear_2\.", "time_embedding.2."),
    (r"^condition_embedder\.text_embedder\.linear_1\.", "text_embedding.0."),
    (r"^condition_embedder\.text_embedder\.linear_2\.", "text_embedding.2."),
    (r"^condition_embedder\.time_proj\.", "time_projection.1."),
    (r"^scale_shift_table$", "head.modulation"),
    (r"^proj_out\.", "head.head."),
    (r"^blocks\.(\d+)\.scale_shift_table$", r"blocks.\1.modulation"),
    (r"^blocks\.(\d+)\.ffn\.net\.0\.proj\.", r"blocks.\1.ffn.0."),
    (r"^blocks\.(\d+)\.ffn\.net\.2\.", r"blocks.\1.ffn.2."),
    (r"^blocks\.(\d+)\.norm2\.", r"blocks.\1.norm3."),            # diffusers norm2 = Wan's affine norm3
    (r"^blocks\.(\d+)\.attn1\.to_out\.0\.", r"blocks.\1.self_attn.o."),
    (r"^blocks\.(\d+)\.attn1\.to_([qkv])\.", r"blocks.\1.self_attn.\2."),
    (r"^blocks\.(\d+)\.attn1\.norm_([qk])\.", r"blocks.\1.self_attn.norm_\2."),
    (r"^blocks\.(\d+)\.attn2\.to_out\.0\.", r"blocks.\1.cross_attn.o."),
    (r"^blocks\.(\d+)\.attn2\.to_([qkv])\.", r"blocks.\1.cross_attn.\2."),
    (r"^blocks\.(\d+)\.attn2\.norm_([qk])\.", r"blocks.\1.cross_attn.norm_\2."),
]
_COMPILED = [(re.compile(a), b) for a, b in DIFFUSERS_TO_WAN]


def diffusers_to_wan(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in sd.items():
        for pat, rep in _COMPILED:
            new = pat.sub(rep, key)
            if new != key:
                key = new
                break
        out[key] = value
    return out


def wan_to_diffusers_key(key: str) -> str:
    """Inverse of the table (used to write diffusers-layout files in tests and tools)."""
    inverse = [
        (r"^time_embedding\.0\.", "condition_embedder.time_embedder.linear_1."),
        (r"^time_embedding\.2\.", "condition_embedder.time_embedder.linear_2."),
        (r"^text_embedding\.0\.", "condition_embedder.text_embedder.linear_1."),
        (r"^text_embedding\.2\.", "condition_embedder.text_embedder.linear_2."),
        (r"^time_projection\.1\.", "condition_embedder.time_proj."),
        (r"^head\.modulation$", "scale_shift_table"),
        (r"^head\.head\.", "proj_out."),
        (r"^blocks\.(\d+)\.modulation$", r"blocks.\1.scale_shift_table"),
        (r"^blocks\.(\d+)\.ffn\.0\.", r"blocks.\1.ffn.net.0.proj."),
        (r"^blocks\.(\d+)\.ffn\.2\.", r"blocks.\1.ffn.net.2."),
        (r"^blocks\.(\d+)\.norm3\.", r"blocks.\1.norm2."),
        (r"^blocks\.(\d+)\.self_attn\.o\.", r"blocks.\1.attn1.to_out.0."),
        (r"^blocks\.(\d+)\.self_attn\.([qkv])\.", r"blocks.\1.attn1.to_\2."),
        (r"^blocks\.(\d+)\.self_attn\.norm_([qk])\.", r"blocks.\1.attn1.norm_\2."),
        (r"^blocks\.(\d+)\.cross_attn\.o\.", r"blocks.\1.attn2.to_out.0."),
        (r"^blocks\.(\d+)\.cross_attn\.([qkv])\.", r"blocks.\1.attn2.to_\2."),
        (r"^blocks\.(\d+)\.cross_attn\.norm_([qk])\.", r"blocks.\1.attn2.norm_\2."),
    ]
    for pat, rep in inverse:
        new = re.sub(pat, rep, key)
        if new != key:
            return new
    return key


def infer_dit_config(sd: Mapping[str, torch.Tensor], source: str | Path) -> DiTConfig:
    """DiT config from weight shapes; heads assume Wan's head size 128 (needs config.json otherwise)."""
    try:
        pe = sd["patch_embedding.weight"]              # [dim, in_dim, pt, ph, pw]
        dim, in_dim = int(pe.shape[0]), int(pe.shape[1])
        patch = tuple(int(s) for s in pe.shape[2:])
        layers = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
        ffn = int(sd["blocks.0.ffn.0.weight"].shape[0])
        text_dim = int(sd["text_embedding.0.weight"].shape[1])
        freq_dim = int(sd["time_embedding.0.weight"].shape[1])
        out_dim = int(sd["head.head.weight"].shape[0]) // (patch[0] * patch[1] * patch[2])
    except (KeyError, ValueError, IndexError) as exc:
        raise ModelLoadError(f"{source}: not a Wan DiT state dict (missing {exc}); expected keys like "
                             "patch_embedding.weight, blocks.0.self_attn.q.weight") from None
    if dim % 128:
        raise ModelLoadError(f"{source}: cannot infer the number of heads for dim {dim}; put the model's "
                             "config.json beside the weights")
    return DiTConfig(patch_size=patch, in_dim=in_dim, out_dim=out_dim, dim=dim, ffn_dim=ffn,
                     num_heads=dim // 128, num_layers=layers, freq_dim=freq_dim, text_dim=text_dim)


def read_dit_config(path: Path) -> DiTConfig:
    try:
        return DiTConfig.from_dict(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: unreadable DiT config ({exc})") from None


def _checkpoint_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Self-Forcing .pt (generator_ema / generator, 'model.' prefix) or a plain state dict."""
    sd = read_state_dict(path)
    for key in ("generator_ema", "generator", "state_dict", "model"):
        inner = sd.get(key)
        if isinstance(inner, Mapping) and inner:
            log.info("%s: using '%s'", path.name, key)
            sd = dict(inner)
            break
    if any(k.startswith("model.") for k in sd):
        sd = strip_prefix(sd, "model.")
    if any(k.startswith("condition_embedder.") or ".attn1." in k for k in sd):
        sd = diffusers_to_wan(sd)
    return sd


def find_dit_weights(folder: Path) -> tuple[Path, Optional[Path], str]:
    """(weights, config, layout) inside a model folder or a component folder."""
    if (folder / "model_index.json").exists() or (folder / "transformer").is_dir():
        folder = folder / "transformer"
        layout = "diffusers"
    else:
        layout = "wan"
    for name in WAN_DIT_FILES:
        if (folder / name).exists():
            cfg = folder / "config.json"
            if layout == "wan" and cfg.exists() and "WanTransformer3DModel" in cfg.read_text():
                layout = "diffusers"
            return folder / name, (cfg if cfg.exists() else None), layout
    raise ModelLoadError(f"{folder}: no DiT weights found; expected {WAN_DIT_FILES[0]} (Wan layout) "
                         "or transformer/ (diffusers layout)")


def load_dit(source: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
             config: Optional[DiTConfig] = None, checkpoint: Optional[str | Path] = None) -> CausalWanDiT:
    """Load a CausalWanDiT from a weight file, a component folder or a model folder.

    ``checkpoint`` (a Self-Forcing ``.pt``) replaces the base weights when given.
    """
    source = Path(source)
    if not source.exists():
        raise ModelLoadError(f"{source}: not found")
    cfg_path: Optional[Path] = None
    if source.is_dir():
        weights, cfg_path, layout = find_dit_weights(source)
    else:
        weights, layout = source, ("pt" if source.suffix in (".pt", ".pth", ".ckpt") else "wan")
        if (source.parent / "config.json").exists():
            cfg_path = source.parent / "config.json"
    if config is None and cfg_path is not None:
        config = read_dit_config(cfg_path)
    if checkpoint is not None:
        sd = _checkpoint_state_dict(Path(checkpoint))
        weights = Path(checkpoint)
    elif layout == "pt":
        sd = _checkpoint_state_dict(weights)
    else:
        sd = read_state_dict(weights)
        if layout == "diffusers" or any(k.startswith("condition_embedder.") for k in sd):
            sd = diffusers_to_wan(sd)
    if config is None:
        config = infer_dit_config(sd, weights)
    with torch.device("meta"):
        model = CausalWanDiT(config)
    load_strict(model, sd, weights, f"a Wan DiT of dim {config.dim} x {config.num_layers} layers", dtype=dtype)
    model = model.to(device)
    model.eval().requires_grad_(False)
    log.info("DiT loaded from %s (%s layout, %.1f M parameters)", weights, layout, model.num_parameters() / 1e6)
    return model


def random_dit(config: DiTConfig, seed: int = 0, device: str | torch.device = "cpu",
               dtype: torch.dtype = torch.float32) -> CausalWanDiT:
    """A seeded random-weight DiT (the fixture's init: normal/sqrt(fan_in), small biases)."""
    gen = torch.Generator().manual_seed(seed)
    model = CausalWanDiT(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("modulation"):
                p.copy_(torch.randn(p.shape, generator=gen) / config.dim ** 0.5)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)
