"""A model bundle (DiT + VAE + text encoder + configs) and the names users pick models by.

``load_model(spec)`` accepts ``"tiny-random"`` (built-in, seeded random weights, any CPU),
``"demo"`` (our trained small model in ``assets/demo``), ``"vj"`` (the built-in VJ-visuals
model in ``assets/vj``: learned codec, 96 x 96), ``"random-medium"`` (the
benchmark-size random DiT), or a model folder of either layout (Wan original or diffusers)
plus an optional Self-Forcing checkpoint. Device and dtype default to CUDA + bf16 when a
GPU is present, else CPU + float32; CUDA is queried here, at call time, never at import.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from sfe_live.config import DEFAULT_PROMPT, DiTConfig, ModelConfig, TextConfig, VAEConfig, tiny_random
from sfe_live.model.checkpoints import find_dit_weights, load_dit, random_dit
from sfe_live.model.decoders.options import DecoderChoice, load_taehv_for
from sfe_live.model.decoders.protocol import VideoDecoder
from sfe_live.model.dit import CausalWanDiT
from sfe_live.model.files import ModelLoadError, read_json
from sfe_live.model.text import CachedTextEncoder, DiskEmbeddingCache, RandomTextEncoder, load_text_encoder

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEMO_DIR = ASSETS / "demo"
VJ_DIR = ASSETS / "vj"
BUILTIN = ("demo", "vj", "tiny-random", "random-medium")


@dataclass
class ModelBundle:
    name: str
    config: ModelConfig
    dit: CausalWanDiT
    vae: VideoDecoder             # WanVAE, TAEHV or the demo's PixelCodec (config.vae is its geometry)
    text: CachedTextEncoder
    device: torch.device
    dtype: torch.dtype
    source: str = ""
    spec: str = ""                # what load_model was given ("demo", a folder...), for replay logs
    checkpoint: str = ""
    _hash: str = dataclasses.field(default="", init=False, repr=False, compare=False)

    def content_hash(self) -> str:
        """A hash of the DiT and VAE weights (computed once): two bundles with different weights get
        different hashes. Tensors up to 4 M values are hashed whole; larger ones by shape, exact sum and
        a strided sample of 64 K values, so the real model hashes in well under a second."""
        if not self._hash:
            import hashlib
            h = hashlib.sha256()
            for part, module in (("dit", self.dit), ("vae", self.vae)):
                for name, t in sorted(module.state_dict().items()):
                    t = t.detach()
                    h.update(f"{part}.{name}:{tuple(t.shape)}:{t.dtype}".encode())
                    flat = t.reshape(-1)
                    if flat.numel() > 4_000_000:
                        h.update(repr(float(flat.double().sum())).encode())
                        flat = flat[:: max(1, flat.numel() // 65536)]
                    h.update(flat.float().cpu().numpy().tobytes())
            self._hash = h.hexdigest()[:16]
        return self._hash

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "device": str(self.device),
                "dtype": str(self.dtype).replace("torch.", ""),
                "dit_parameters": self.dit.num_parameters(), "decoder": self.vae.name,
                "vae_parameters": sum(p.numel() for p in self.vae.parameters()),
                "text": self.config.text.kind}


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def default_model_spec() -> str:
    """The demo model when it is shipped, else tiny-random."""
    return "demo" if (DEMO_DIR / "model.json").exists() else "tiny-random"


def _random_bundle(cfg: ModelConfig, device: torch.device, dtype: torch.dtype, seed: int = 0,
                   decoder: DecoderChoice = DecoderChoice(),
                   text_device: Optional[torch.device] = None) -> ModelBundle:
    from sfe_live.model.vae import random_vae
    dit = random_dit(cfg.dit, seed=seed, device=device, dtype=dtype)
    vae: VideoDecoder
    if decoder.kind == "taehv":
        vae = load_taehv_for(decoder, None, cfg.vae.z_dim, device, dtype)
        cfg = dataclasses.replace(cfg, vae=vae.config)
    else:
        vae = random_vae(cfg.vae, seed=seed + 1, device=device, dtype=dtype)
    text = RandomTextEncoder(cfg.text.dim, cfg.text.text_len, seed=seed + 2, device=text_device or device,
                             dtype=dtype)
    return ModelBundle(cfg.name, cfg, dit, vae, CachedTextEncoder(text, cfg.text.cache_size), device, dtype,
                       source="built-in (seeded random weights)")


def random_medium() -> ModelConfig:
    """The benchmark config of the reference comparison (DiT dim 512, 8 layers, umT5-size text)."""
    dit = DiTConfig(dim=512, ffn_dim=2048, num_heads=8, num_layers=8, freq_dim=256, text_dim=4096, text_len=512)
    return ModelConfig("random-medium", dit, VAEConfig(dim=8), TextConfig(kind="random", dim=4096, text_len=512),
                       default_height=128, default_width=128)


def _load_demo(device: torch.device, dtype: torch.dtype, folder: Optional[Path] = None,
               meta_name: str = "model.json", decoder: DecoderChoice = DecoderChoice(),
               text_device: Optional[torch.device] = None, name: str = "demo") -> ModelBundle:
    """A built-in small model: a causal Wan DiT + its own codec (the fixed pixel codec of
    assets/demo or the learned codec of assets/vj) + MiniLM."""
    from sfe_live.model.aecodec import AECodec, AECodecConfig
    from sfe_live.model.codec import PixelCodec, PixelCodecConfig
    folder = Path(folder) if folder is not None else DEMO_DIR
    meta_path = folder / meta_name
    if not meta_path.exists():
        raise ModelLoadError(f"{meta_path}: the demo model is not shipped in this checkout; use --model tiny-random")
    meta = read_json(meta_path, "model description")
    try:
        dit_cfg = DiTConfig.from_dict(meta["dit"])
        text_cfg = TextConfig(**meta["text"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ModelLoadError(f"{meta_path}: unusable model description ({str(exc).splitlines()[0][:200]})") from None
    kind = meta["vae"].get("kind")
    if kind in ("pixel", "ae") and decoder.kind == "taehv":
        codec = "pixel codec" if kind == "pixel" else "learned codec"
        raise ModelLoadError(f"{folder}: the {name} model decodes with its own {codec} (not Wan latents); "
                             "--decoder taehv needs a Wan 2.1 model")
    dit = load_dit(folder / meta.get("dit_file", "dit.safetensors"), device=device, dtype=dtype, config=dit_cfg)
    vae: VideoDecoder
    if meta["vae"].get("kind") == "pixel":
        codec = PixelCodec(PixelCodecConfig.from_dict(meta["vae"]))
        if codec.config.project_rank > 0:
            from safetensors.torch import load_file
            codec.load_state_dict(load_file(str(folder / meta.get("vae_file", "codec.safetensors"))))
        codec = codec.to(device=device, dtype=dtype)
        vae = codec
    elif kind == "ae":
        from safetensors.torch import load_file
        try:
            ae = AECodec(AECodecConfig.from_dict(meta["vae"]))
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"{meta_path}: {exc}") from None
        path = folder / meta.get("vae_file", "codec.safetensors")
        if not path.is_file():
            raise ModelLoadError(f"{path}: the learned codec is missing")
        try:
            ae.load_state_dict(load_file(str(path)))
        except Exception as exc:  # safetensors header errors, shape mismatches
            raise ModelLoadError(f"{path}: unusable codec weights ({str(exc).splitlines()[0][:200]})") from None
        vae = ae.eval().to(device=device, dtype=dtype)
    else:
        from sfe_live.model.vae_loading import load_vae
        vae_cfg = VAEConfig.from_dict(meta["vae"])
        if decoder.kind == "taehv":
            vae = load_taehv_for(decoder, folder, vae_cfg.z_dim, device, dtype)
        else:
            vae = load_vae(folder / meta.get("vae_file", "vae.safetensors"), device=device, dtype=dtype,
                           config=vae_cfg)
    text = load_text_encoder(text_cfg, device=text_device or device, dtype=dtype)
    shift = meta.get("stream", {}).get("shift", 5.0)
    if not isinstance(shift, (int, float)) or not 0.1 <= float(shift) <= 20.0:
        raise ModelLoadError(f"{meta_path}: stream shift must be a number in 0.1..20, got {shift!r}")
    prompt = meta.get("prompt", DEFAULT_PROMPT)
    if not isinstance(prompt, str) or not 0 < len(prompt.strip()) <= 1000:
        raise ModelLoadError(f"{meta_path}: prompt must be a text of 1 to 1000 characters, got {str(prompt)[:80]!r}")
    cfg = ModelConfig(name, dit_cfg, vae.config, text_cfg, meta.get("height", 64), meta.get("width", 64),
                      shift=float(shift), prompt=prompt.strip())
    return ModelBundle(name, cfg, dit, vae, CachedTextEncoder(text, text_cfg.cache_size), device, dtype,
                       source=str(folder))


def detect_layout(folder: Path) -> str:
    if (folder / "model_index.json").exists():
        return "diffusers"
    if any((folder / n).exists() for n in ("diffusion_pytorch_model.safetensors",
                                           "diffusion_pytorch_model.safetensors.index.json")):
        return "wan"
    raise ModelLoadError(f"{folder}: not a Wan2.1 model folder; expected config.json + "
                         "diffusion_pytorch_model.safetensors + Wan2.1_VAE.pth + models_t5_umt5-xxl-enc-bf16.pth "
                         "(Wan layout) or model_index.json + transformer/ vae/ text_encoder/ tokenizer/ (diffusers)")


def load_model(spec: str | Path = "tiny-random", checkpoint: Optional[str | Path] = None,
               device: Optional[str | torch.device] = None, dtype: Optional[torch.dtype] = None,
               seed: int = 0, decoder: DecoderChoice = DecoderChoice(),
               text_device: Optional[str | torch.device] = None) -> ModelBundle:
    """Load a whole bundle by name or folder (see the module docstring).

    ``decoder`` picks the Wan VAE or TAEHV for Wan latents (the Wan VAE is then not loaded).
    ``text_device`` puts the text encoder elsewhere (e.g. the CPU while the DiT is on CUDA);
    default: with the DiT. Prompt embeddings move to the DiT's device when used.
    """
    bundle = _load_model(spec, checkpoint, device, dtype, seed, decoder, text_device)
    bundle.spec, bundle.checkpoint = str(spec), str(checkpoint or "")
    return bundle


def _load_model(spec: str | Path, checkpoint: Optional[str | Path], device: Optional[str | torch.device],
                dtype: Optional[torch.dtype], seed: int, decoder: DecoderChoice,
                text_device: Optional[str | torch.device]) -> ModelBundle:
    dev = torch.device(device) if device is not None else default_device()
    dt = dtype if dtype is not None else default_dtype(dev)
    tdev = torch.device(text_device) if text_device is not None else dev
    name = str(spec)
    if name == "tiny-random":
        return _random_bundle(tiny_random(), dev, dt, seed, decoder, tdev)
    if name == "random-medium":
        return _random_bundle(random_medium(), dev, dt, seed, decoder, tdev)
    if name == "demo":
        return _load_demo(dev, dt, decoder=decoder, text_device=tdev)
    if name == "vj":
        return _load_demo(dev, dt, VJ_DIR, decoder=decoder, text_device=tdev, name="vj")
    folder = Path(spec).expanduser()
    if not folder.exists():
        raise ModelLoadError(f"{folder}: model folder not found (built-in models: {', '.join(BUILTIN)})")
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: expected a model folder, got a file (use --checkpoint for a .pt)")
    if (folder / "model.json").is_file() and not (folder / "config.json").exists():
        # a small model of ours (a retrained demo or vj model): model.json + dit/codec weights
        return _load_demo(dev, dt, folder, decoder=decoder, text_device=tdev, name=folder.name)
    from sfe_live.model.vae_loading import load_vae
    layout = detect_layout(folder)
    find_dit_weights(folder)
    if checkpoint is None:
        log.warning("%s: no Self-Forcing checkpoint (--checkpoint self_forcing_dmd.pt): the base Wan weights "
                    "are bidirectional and give noise when run causally in 4 steps", folder)
    dit = load_dit(folder, device=dev, dtype=dt, checkpoint=checkpoint)
    vae: VideoDecoder
    if decoder.kind == "taehv":
        vae = load_taehv_for(decoder, folder, dit.cfg.out_dim, dev, dt)
    else:
        vae = load_vae(folder, device=dev, dtype=dt)
    text = load_text_encoder(folder, device=tdev, dtype=dt, text_len=dit.cfg.text_len)
    tcfg = dataclasses.replace(text.config, text_len=dit.cfg.text_len)
    cfg = ModelConfig(folder.name, dit.cfg, vae.config, tcfg)
    disk = DiskEmbeddingCache.for_encoder(text, weights=[Path(text.source)]) if Path(text.source).is_file() else None
    return ModelBundle(folder.name, cfg, dit, vae, CachedTextEncoder(text, tcfg.cache_size, disk), dev, dt,
                       source=f"{folder} ({layout} layout)" + (f" + {checkpoint}" if checkpoint else ""))


def check_model_folder(folder: str | Path) -> list[str]:
    """Human lines: is a model folder complete? (for ``sfe-live doctor``; loads nothing big)."""
    folder = Path(folder).expanduser()
    lines: list[str] = []
    try:
        layout = detect_layout(folder)
    except ModelLoadError as exc:
        return [f"model: {exc}"]
    if layout == "wan":
        want = ["config.json", "Wan2.1_VAE.pth", "models_t5_umt5-xxl-enc-bf16.pth", "google/umt5-xxl"]
    else:
        want = ["model_index.json", "transformer", "vae", "text_encoder", "tokenizer"]
    missing = [w for w in want if not (folder / w).exists()]
    lines.append(f"model: {folder} ({layout} layout) " + ("complete" if not missing else f"MISSING {', '.join(missing)}"))
    try:
        weights, cfg_path, _ = find_dit_weights(folder)
        lines.append(f"model: DiT weights {weights.name} ({weights.stat().st_size / 1e9:.2f} GB)")
    except ModelLoadError as exc:
        lines.append(f"model: {exc}")
    from sfe_live.model.decoders.taehv import find_taehv
    taehv = find_taehv(folder)
    if taehv is not None:
        lines.append(f"model: TAEHV {taehv.name} found (use --decoder taehv for the fast decoder)")
    return lines
