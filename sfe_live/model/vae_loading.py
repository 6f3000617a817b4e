"""Loading and saving the Wan2.1 VAE from every on-disk layout.

Sources :func:`load_vae` accepts (auto-detected):

* ``Wan2.1_VAE.pth`` -- a torch pickle of a plain state dict with Wan's key names;
* a ``.safetensors`` (or ``.pth``) file with Wan keys, optionally under one prefix
  (e.g. the golden fixture's ``vae.``), or with diffusers keys;
* a diffusers ``vae/`` folder (``config.json`` of ``AutoencoderKLWan`` plus
  ``diffusion_pytorch_model.safetensors``), keys renamed by :func:`diffusers_to_wan_rules`;
* a whole model folder: the original layout (holds ``Wan2.1_VAE.pth``) or the diffusers
  layout (holds ``vae/``).

Without a config, the architecture is inferred from the weight shapes (``dim`` from
``encoder.conv1.weight``, ``z_dim`` from ``conv2.weight``), so the tiny fixture VAE and
the released 96-dim VAE both load. The module is built on the meta device and loaded
strictly with ``assign=True``. Every user mistake raises ``ModelLoadError`` (one line,
names the file). Also here: :func:`save_vae_pth` (atomic) for tests and tiny models.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch

from sfe_live.config import VAEConfig
from sfe_live.io import atomic_path
from sfe_live.model.files import ModelLoadError, load_strict, read_json, read_state_dict, rename_keys, strip_prefix
from sfe_live.model.vae import WanVAE

log = logging.getLogger(__name__)

WAN_VAE_FILENAME = "Wan2.1_VAE.pth"
DIFFUSERS_VAE_CLASS = "AutoencoderKLWan"
DIFFUSERS_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json",
                     "diffusion_pytorch_model.bin")
WHAT = "a Wan2.1 VAE state dict"

_WAN_MARKER = "decoder.conv1.weight"
_DIFFUSERS_MARKER = "decoder.conv_in.weight"
_DIT_MARKERS = ("patch_embedding.weight", "blocks.0.self_attn.q.weight", "condition_embedder.",
                "blocks.0.attn1.to_q.weight")

PathLike = Union[str, os.PathLike]


def diffusers_to_wan_rules(config: VAEConfig = VAEConfig()) -> list[tuple[str, str]]:
    """THE rename table diffusers ``AutoencoderKLWan`` -> Wan ``Wan2.1_VAE.pth`` keys.

    Ordered substring replacements for :func:`sfe_live.model.files.rename_keys`. The
    resnet-internal renames run first because later rules create Wan names (``conv1``)
    that would otherwise match them. The decoder's ``up_blocks.i.{resnets.j,upsamplers.0}``
    map onto Wan's flat ``upsamples.N`` (``num_res_blocks + 1`` resnets then one upsampler
    per block).
    """
    rules: list[tuple[str, str]] = [
        # inside every residual block
        (".norm1.gamma", ".residual.0.gamma"),
        (".conv1.", ".residual.2."),
        (".norm2.gamma", ".residual.3.gamma"),
        (".conv2.", ".residual.6."),
        (".conv_shortcut.", ".shortcut."),
        # middle blocks
        (".mid_block.resnets.0.", ".middle.0."),
        (".mid_block.attentions.0.", ".middle.1."),
        (".mid_block.resnets.1.", ".middle.2."),
        # encoder: the same flat list under another name
        ("encoder.down_blocks.", "encoder.downsamples."),
    ]
    per_block = config.num_res_blocks + 1
    n_blocks = len(config.dim_mult)
    for i in range(n_blocks):
        base = i * (per_block + 1)
        for j in range(per_block):
            rules.append((f"decoder.up_blocks.{i}.resnets.{j}.", f"decoder.upsamples.{base + j}."))
        if i != n_blocks - 1:
            rules.append((f"decoder.up_blocks.{i}.upsamplers.0.", f"decoder.upsamples.{base + per_block}."))
    rules += [
        (".conv_in.", ".conv1."),
        (".norm_out.gamma", ".head.0.gamma"),
        (".conv_out.", ".head.2."),
        ("post_quant_conv.", "conv2."),  # before quant_conv: it contains that string
        ("quant_conv.", "conv1."),
    ]
    return rules


def infer_vae_config(sd: Mapping[str, torch.Tensor], source: PathLike = "<state dict>") -> VAEConfig:
    """Architecture from Wan-keyed weight shapes; the rest of the config is Wan2.1's."""
    try:
        if "encoder.conv1.weight" in sd:
            dim = int(sd["encoder.conv1.weight"].shape[0])
        else:
            dim = int(sd["decoder.head.2.weight"].shape[1]) // VAEConfig().dim_mult[0]
        z_dim = int(sd["conv2.weight"].shape[0]) if "conv2.weight" in sd else int(sd[_WAN_MARKER].shape[1])
    except (KeyError, IndexError) as exc:
        raise ModelLoadError(f"{source}: cannot infer the VAE size from the weights (no {exc})") from None
    default = VAEConfig()
    if z_dim != default.z_dim:
        raise ModelLoadError(f"{source}: VAE with z_dim {z_dim}; only Wan2.1's z_dim {default.z_dim} is "
                             "supported without a config (a Wan2.2 VAE?)")
    return VAEConfig(dim=dim)


def _dit_like(sd: Mapping[str, Any]) -> bool:
    if any(k in sd for k in ("generator", "generator_ema", "model", "state_dict")):
        return True
    return any(marker in k for k in sd for marker in _DIT_MARKERS)


def _to_wan_keys(sd: Mapping[str, Any], source: Path,
                 config: Optional[VAEConfig]) -> dict[str, torch.Tensor]:
    """Wan-keyed tensors from a state dict in Wan or diffusers naming, maybe under a prefix."""
    for marker, diffusers in ((_WAN_MARKER, False), (_DIFFUSERS_MARKER, True)):
        hits = [k for k in sd if isinstance(k, str) and k.endswith(marker)]
        if not hits:
            continue
        prefix = min(hits, key=len)[: -len(marker)]
        sub = strip_prefix(sd, prefix) if prefix else dict(sd)
        sub = {k: v for k, v in sub.items() if isinstance(v, torch.Tensor)}
        if diffusers:
            sub = rename_keys(sub, diffusers_to_wan_rules(config or VAEConfig()))
        return sub
    if _dit_like(sd):
        raise ModelLoadError(f"{source}: holds DiT / generator weights, not a Wan2.1 VAE "
                             f"(expected {WAN_VAE_FILENAME} or a diffusers vae/ folder)")
    some = ", ".join(list(map(str, sd))[:3]) or "no keys"
    raise ModelLoadError(f"{source}: not a Wan2.1 VAE state dict (no '{_WAN_MARKER}'; keys like {some})")


def _read_diffusers_config(folder: Path) -> VAEConfig:
    path = folder / "config.json"
    d = read_json(path, "VAE config.json")
    if not isinstance(d, dict):
        raise ModelLoadError(f"{path}: config.json is not a JSON object")
    cls = d.get("_class_name", DIFFUSERS_VAE_CLASS)
    if cls != DIFFUSERS_VAE_CLASS:
        raise ModelLoadError(f"{path}: a {cls} config, expected {DIFFUSERS_VAE_CLASS}")
    if d.get("is_residual") or d.get("patch_size") or d.get("z_dim", 16) != 16:
        raise ModelLoadError(f"{path}: a Wan2.2-style VAE (residual / patchified / z_dim "
                             f"{d.get('z_dim')}); only the Wan2.1 VAE is supported")
    dec = d.get("decoder_base_dim")
    if dec is not None and dec != d.get("base_dim", 96):
        raise ModelLoadError(f"{path}: decoder_base_dim {dec} != base_dim; not a Wan2.1 VAE")
    if d.get("in_channels", 3) != 3 or d.get("out_channels", 3) != 3:
        raise ModelLoadError(f"{path}: VAE with {d.get('in_channels')}/{d.get('out_channels')} channels, expected 3")
    try:
        cfg = VAEConfig.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: invalid VAE config ({exc})") from None
    if cfg.attn_scales:
        raise ModelLoadError(f"{path}: attn_scales {list(cfg.attn_scales)} not supported for diffusers weights")
    return cfg


def _diffusers_weights(folder: Path) -> Path:
    for name in DIFFUSERS_WEIGHTS:
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("diffusion_pytorch_model*.safetensors"))
    if found:
        return found[0]
    raise ModelLoadError(f"{folder}: diffusers VAE folder without diffusion_pytorch_model.safetensors")


def _resolve(path: Path) -> tuple[Path, Optional[VAEConfig]]:
    """The weight file to read and, for diffusers folders, the config found beside it."""
    if path.is_file():
        return path, None
    if (path / WAN_VAE_FILENAME).is_file():          # original Wan model folder
        return path / WAN_VAE_FILENAME, None
    if (path / "vae").is_dir():                       # diffusers model folder
        return _resolve(path / "vae")
    if (path / "config.json").is_file():              # diffusers vae/ folder
        cfg = _read_diffusers_config(path)
        return _diffusers_weights(path), cfg
    raise ModelLoadError(f"{path}: no {WAN_VAE_FILENAME}, no diffusers vae/ folder and no VAE weights found")


def load_vae(source: PathLike, device: Union[str, torch.device] = "cpu",
             dtype: torch.dtype = torch.float32, config: Optional[VAEConfig] = None) -> WanVAE:
    """Load a Wan2.1 VAE from a file or folder (see the module docstring); eval, no grads."""
    path = Path(source).expanduser()
    if not path.exists():
        raise ModelLoadError(f"{path}: not found (expected {WAN_VAE_FILENAME}, a VAE .safetensors, "
                             "a diffusers vae/ folder or a model folder)")
    file, folder_config = _resolve(path)
    cfg = config or folder_config
    sd = read_state_dict(file)
    sd = _to_wan_keys(sd, file, cfg)
    if cfg is None:
        cfg = infer_vae_config(sd, file)
    with torch.device("meta"):
        vae = WanVAE(cfg)
    load_strict(vae, sd, file, WHAT, dtype=dtype)
    vae.to(device=device)
    vae.eval().requires_grad_(False)
    log.info("loaded Wan2.1 VAE from %s (dim %d, z_dim %d, %s, %s)", file, cfg.dim, cfg.z_dim,
             dtype, device)
    return vae


def save_vae_pth(vae: WanVAE, path: PathLike) -> Path:
    """Write ``vae``'s Wan-keyed state dict as a ``.pth`` atomically (tmp file, then rename)."""
    path = Path(path)
    sd = {k: v.detach().to("cpu").contiguous() for k, v in vae.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(sd, tmp)
    log.info("saved VAE weights to %s", path)
    return path
