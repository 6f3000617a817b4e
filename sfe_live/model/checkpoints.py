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

import logging
import re
from pathlib import Path
from typing import Any, Mapping, Optional

import torch

from sfe_live.config import DiTConfig
from sfe_live.model.dit import CausalWanDiT
from sfe_live.model.files import ModelLoadError, load_strict, read_json, read_state_dict, strip_prefix

log = logging.getLogger(__name__)

WAN_DIT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json")

# The one rename table between Wan's keys and diffusers' WanTransformer3DModel keys, read in
# both directions. "{i}" is a block index, "{qkv}" one of q/k/v; rules match key prefixes
# ("$" marks a whole key). Wan's norm3 (the affine norm before cross-attention) is diffusers' norm2.
WAN_DIFFUSERS_KEYS: list[tuple[str, str]] = [
    ("time_embedding.0.", "condition_embedder.time_embedder.linear_1."),
    ("time_embedding.2.", "condition_embedder.time_embedder.linear_2."),
    ("text_embedding.0.", "condition_embedder.text_embedder.linear_1."),
    ("text_embedding.2.", "condition_embedder.text_embedder.linear_2."),
    ("time_projection.1.", "condition_embedder.time_proj."),
    ("head.modulation$", "scale_shift_table$"),
    ("head.head.", "proj_out."),
    ("blocks.{i}.modulation$", "blocks.{i}.scale_shift_table$"),
    ("blocks.{i}.ffn.0.", "blocks.{i}.ffn.net.0.proj."),
    ("blocks.{i}.ffn.2.", "blocks.{i}.ffn.net.2."),
    ("blocks.{i}.norm3.", "blocks.{i}.norm2."),
    ("blocks.{i}.self_attn.o.", "blocks.{i}.attn1.to_out.0."),
    ("blocks.{i}.self_attn.{qkv}.", "blocks.{i}.attn1.to_{qkv}."),
    ("blocks.{i}.self_attn.norm_{qk}.", "blocks.{i}.attn1.norm_{qk}."),
    ("blocks.{i}.cross_attn.o.", "blocks.{i}.attn2.to_out.0."),
    ("blocks.{i}.cross_attn.{qkv}.", "blocks.{i}.attn2.to_{qkv}."),
    ("blocks.{i}.cross_attn.norm_{qk}.", "blocks.{i}.attn2.norm_{qk}."),
]
_SLOTS = {"{i}": r"(?P<i>\d+)", "{qkv}": r"(?P<qkv>[qkv])", "{qk}": r"(?P<qk>[qk])"}


def _compile(template: str) -> re.Pattern[str]:
    exact = template.endswith("$")
    pattern = re.escape(template.rstrip("$"))
    for slot, group in _SLOTS.items():
        pattern = pattern.replace(re.escape(slot), group)
    return re.compile("^" + pattern + ("$" if exact else ""))


def _fill(template: str, match: re.Match[str]) -> str:
    out = template.rstrip("$")
    for name, value in match.groupdict().items():
        out = out.replace("{" + name + "}", value)
    return out


_TO_WAN = [(_compile(d), w) for w, d in WAN_DIFFUSERS_KEYS]
_TO_DIFFUSERS = [(_compile(w), d) for w, d in WAN_DIFFUSERS_KEYS]


def _rename(key: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    for pat, template in rules:
        m = pat.match(key)
        if m:
            return _fill(template, m) + key[m.end():]
    return key


def diffusers_to_wan(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {_rename(k, _TO_WAN): v for k, v in sd.items()}


def wan_to_diffusers_key(key: str) -> str:
    """The same table read the other way (writes diffusers-layout files in tests and tools)."""
    return _rename(key, _TO_DIFFUSERS)


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
    d = read_json(path, "DiT config")
    if not isinstance(d, dict):
        raise ModelLoadError(f"{path}: a DiT config must be a JSON object")
    try:
        return DiTConfig.from_dict(d)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ModelLoadError(f"{path}: unusable DiT config ({str(exc).splitlines()[0][:200]})") from None


def _checkpoint_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Self-Forcing .pt (generator_ema / generator, 'model.' prefix) or a plain state dict."""
    sd = read_state_dict(path)
    for key in ("generator_ema", "generator", "state_dict", "model"):
        inner = sd.get(key)
        if isinstance(inner, Mapping) and inner:
            log.info("%s: using '%s'", path.name, key)
            sd = dict(inner)
            break
    sd = strip_wrapper_prefixes(sd)
    if any(k.startswith("model.") for k in sd):
        sd = strip_prefix(sd, "model.")
    if any(k.startswith("condition_embedder.") or ".attn1." in k for k in sd):
        sd = diffusers_to_wan(sd)
    return sd


def _class_name(cfg: Path) -> Any:
    d = read_json(cfg, "DiT config")
    return d.get("_class_name") if isinstance(d, dict) else None


WRAPPER_PREFIXES = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.", "_orig_mod.", "module.")


def strip_wrapper_prefixes(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys without the wrapper names FSDP, activation checkpointing, torch.compile and
    DataParallel insert anywhere in a key (``model._fsdp_wrapped_module.blocks...``)."""
    out = {}
    for k, v in sd.items():
        for p in WRAPPER_PREFIXES:
            k = k.replace("." + p, ".")
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v
    return out


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
            if layout == "wan" and cfg.exists() and _class_name(cfg) == "WanTransformer3DModel":
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
        sd = strip_wrapper_prefixes(read_state_dict(weights))
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
