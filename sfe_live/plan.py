"""Memory planner: what one stream needs in accelerator memory, term by term, before loading.

``plan_memory(request)`` adds up every allocation the streaming engine makes for a model at a
size, dtype, window and text-encoder placement:

* weights: DiT (fp8 halves its block linears), VAE, text encoder (when on the accelerator);
* the self-attention KV cache (layers x 2 x window tokens x dim), exactly ``KVCache.empty``;
* cross-attention K/V of up to 4 live prompts (current, blend source/target, next);
* the streaming VAE decode state, measured by tracing the decoder on the meta device (exact);
* decode working memory and DiT activations (estimates: a few of the largest activations);
* the CUDA context (a constant).

Sizes come from configs and file headers only (``request_for(spec, ...)``): nothing large is
read or allocated, so the plan can refuse a configuration in one line before the model loads.
``MemoryPlan.options`` names what would make a plan fit (text on the CPU, fp8, a shorter
window, a smaller size).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from sfe_live.config import DiTConfig, StreamConfig, VAEConfig

if TYPE_CHECKING:
    import argparse

log = logging.getLogger(__name__)

GIB = float(2 ** 30)
DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
CUDA_CONTEXT_BYTES = int(0.75 * GIB)      # CUDA context + allocator slack (0.5-1 GiB measured elsewhere)
LIVE_PROMPTS = 4                           # cross K/V held at once: current, blend source + target, next
DECODE_WORK_FACTOR = 5                     # live copies of the decoder's largest activation
WAN_UMT5_XXL_PARAMS = 5_680_910_336        # umT5-XXL encoder (Wan's models_t5_umt5-xxl-enc-bf16.pth)
WAN21_NAME = "Wan2.1-T2V-1.3B"


@dataclass(frozen=True)
class PlanRequest:
    """Everything the plan depends on (no tensors)."""

    model: str
    dit: DiTConfig
    vae: Optional[VAEConfig]          # None: a decoder small enough to ignore (the demo's pixel codec)
    text_params: int                  # parameters of the text encoder (0: no weights)
    width: int
    height: int
    window_frames: int = 21
    frames_per_block: int = 3
    dtype: str = "bf16"
    text_on_gpu: bool = True
    fp8: bool = False
    cuda_context: bool = True

    def __post_init__(self) -> None:
        if self.dtype not in DTYPE_BYTES:
            raise ValueError(f"dtype {self.dtype!r}: expected one of {', '.join(DTYPE_BYTES)}")

    @property
    def bytes_per_value(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def spatial_factor(self) -> int:
        return self.vae.spatial_factor if self.vae is not None else 8

    @property
    def latent_hw(self) -> tuple[int, int]:
        f = self.spatial_factor
        return self.height // f, self.width // f


@dataclass(frozen=True)
class MemoryPlan:
    request: PlanRequest
    terms: tuple[tuple[str, int], ...]          # (what, bytes)
    vram_bytes: Optional[int] = None
    options: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(b for _, b in self.terms)

    @property
    def total_gib(self) -> float:
        return self.total_bytes / GIB

    @property
    def fits(self) -> Optional[bool]:
        return None if self.vram_bytes is None else self.total_bytes <= self.vram_bytes

    def term(self, name: str) -> int:
        return dict(self.terms)[name]

    def verdict(self) -> str:
        """One line: fits, or does not fit with the options that would."""
        r = self.request
        what = (f"{r.model} at {r.width}x{r.height}, {r.dtype}, {r.window_frames}-frame window, "
                f"text on {'GPU' if r.text_on_gpu else 'CPU'}{', fp8' if r.fp8 else ''}")
        if self.vram_bytes is None:
            return f"{what}: needs {self.total_gib:.1f} GiB"
        have = self.vram_bytes / GIB
        if self.fits:
            return f"{what}: fits ({self.total_gib:.1f} of {have:.1f} GiB)"
        opts = "; ".join(self.options) if self.options else "none found (use a smaller model or a bigger GPU)"
        return f"{what}: does not fit ({self.total_gib:.1f} GiB needed, {have:.1f} GiB available); options: {opts}"

    def lines(self) -> list[str]:
        out = [f"  {name:<34} {b / GIB:7.2f} GiB" for name, b in self.terms]
        out.append(f"  {'total':<34} {self.total_gib:7.2f} GiB")
        return out + [self.verdict()]

    def to_dict(self) -> dict[str, object]:
        r = self.request
        return {"model": r.model, "width": r.width, "height": r.height, "dtype": r.dtype,
                "window_frames": r.window_frames, "frames_per_block": r.frames_per_block,
                "text_on_gpu": r.text_on_gpu, "fp8": r.fp8,
                "terms_gib": {name: round(b / GIB, 4) for name, b in self.terms},
                "total_gib": round(self.total_gib, 3),
                "vram_gib": None if self.vram_bytes is None else round(self.vram_bytes / GIB, 2),
                "fits": self.fits, "options": list(self.options), "verdict": self.verdict()}


# -- the terms ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def dit_parameter_bytes(cfg: DiTConfig, bytes_per_value: int, fp8: bool) -> int:
    """Bytes of the DiT's weights; with fp8 the linear weights inside the blocks take 1 byte."""
    import torch
    from torch import nn
    from sfe_live.model.dit import CausalWanDiT
    with torch.device("meta"):
        model = CausalWanDiT(cfg)
    total = 0
    for name, mod in model.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            one_byte = fp8 and isinstance(mod, nn.Linear) and pname == "weight" and name.startswith("blocks.")
            total += p.numel() * (1 if one_byte else bytes_per_value)
    return total


@functools.lru_cache(maxsize=8)
def vae_parameters(cfg: VAEConfig) -> int:
    import torch
    from sfe_live.model.vae import WanVAE
    with torch.device("meta"):
        return sum(p.numel() for p in WanVAE(cfg).parameters())


@functools.lru_cache(maxsize=16)
def vae_decode_bytes(cfg: VAEConfig, latent_h: int, latent_w: int, frames_per_block: int,
                     bytes_per_value: int) -> tuple[int, int]:
    """(stream state, largest activation) in bytes for steady-state blocks, traced on meta."""
    import torch
    from sfe_live.model.vae import WanVAE
    dtype = {2: torch.bfloat16, 4: torch.float32}[bytes_per_value]
    with torch.device("meta"):
        vae = WanVAE(cfg).to(dtype)
    largest = [0]

    def hook(_mod: object, _inp: object, out: object) -> None:
        if isinstance(out, torch.Tensor):
            largest[0] = max(largest[0], out.numel() * out.element_size())
    handles = [m.register_forward_hook(hook) for m in vae.decoder.modules()]
    state = vae.new_decode_state()
    for n in (1, frames_per_block):                     # the stream's first frame, then a block
        vae.decode_stream(torch.zeros(1, cfg.z_dim, n, latent_h, latent_w, device="meta"), state)
    for h in handles:
        h.remove()
    return state.nbytes(), largest[0]


def plan_memory(req: PlanRequest, vram_gib: Optional[float] = None, with_options: bool = True) -> MemoryPlan:
    b = req.bytes_per_value
    cfg = req.dit
    lh, lw = req.latent_hw
    tpf = cfg.tokens_per_frame(lh, lw)
    terms: list[tuple[str, int]] = [("DiT weights" + (" (fp8 linears)" if req.fp8 else ""),
                                     dit_parameter_bytes(cfg, b, req.fp8))]
    terms.append(("text encoder weights" if req.text_on_gpu else "text encoder (on CPU)",
                  req.text_params * b if req.text_on_gpu else 0))
    if req.vae is not None:
        state, largest = vae_decode_bytes(req.vae, lh, lw, req.frames_per_block, b)
        terms.append(("VAE weights", vae_parameters(req.vae) * b))
    else:
        state, largest = 0, req.frames_per_block * 4 * 3 * req.height * req.width * b
        terms.append(("decoder weights", 0))
    terms.append(("KV cache", cfg.num_layers * 2 * req.window_frames * tpf * cfg.dim * b))
    terms.append((f"cross K/V ({LIVE_PROMPTS} prompts)", LIVE_PROMPTS * cfg.num_layers * 2 * cfg.text_len * cfg.dim * b))
    terms.append(("VAE decode stream state", state))
    terms.append(("VAE decode working memory", DECODE_WORK_FACTOR * largest))
    n = req.frames_per_block * tpf
    terms.append(("DiT activations", n * (2 * cfg.ffn_dim + 8 * cfg.dim) * b))
    if req.cuda_context:
        terms.append(("CUDA context", CUDA_CONTEXT_BYTES))
    vram = None if vram_gib is None else int(vram_gib * GIB)
    plan = MemoryPlan(req, tuple(terms), vram)
    if with_options and plan.fits is False:
        plan = dataclasses.replace(plan, options=tuple(fitting_options(req, vram_gib or 0.0)))
    return plan


def fitting_options(req: PlanRequest, vram_gib: float) -> list[str]:
    """Flag sets that make the plan fit, cheapest first (cumulative: text on CPU, fp8, window, size)."""
    out: list[str] = []
    steps: list[tuple[str, dict[str, object]]] = []
    if req.text_on_gpu and req.text_params:
        steps.append(("--text-device cpu", {"text_on_gpu": False}))
    if not req.fp8:
        steps.append(("--fp8", {"fp8": True}))
    flags: list[str] = []
    cur = req
    for flag, change in steps:
        cur = dataclasses.replace(cur, **change)  # type: ignore[arg-type]
        flags.append(flag)
        p = plan_memory(cur, vram_gib, with_options=False)
        if p.fits:
            out.append(f"{' '.join(flags)} ({p.total_gib:.1f} GiB)")
            return out
    for window in range(cur.window_frames - cur.frames_per_block, cur.frames_per_block, -cur.frames_per_block):
        p = plan_memory(dataclasses.replace(cur, window_frames=window), vram_gib, with_options=False)
        if p.fits:
            out.append(f"{' '.join(flags + [f'--kv-window {window}'])} ({p.total_gib:.1f} GiB)")
            break
    mult = cur.spatial_factor * 2
    for scale in (0.75, 0.5):
        w, h = (max(mult, int(v * scale) // mult * mult) for v in (cur.width, cur.height))
        p = plan_memory(dataclasses.replace(cur, width=w, height=h), vram_gib, with_options=False)
        if p.fits:
            out.append(f"{' '.join(flags + [f'--size {w}x{h}'])} ({p.total_gib:.1f} GiB)")
            break
    return out


# -- requests from model names and folders (configs and headers only) --------------------------------
def _safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open
    files = [path]
    if path.name.endswith(".index.json"):
        files = [path.parent / f for f in sorted(set(json.loads(path.read_text())["weight_map"].values()))]
    shapes: dict[str, tuple[int, ...]] = {}
    for f in files:
        with safe_open(str(f), "pt") as h:
            for k in h.keys():
                shapes[k] = tuple(h.get_slice(k).get_shape())
    return shapes


def _folder_dit_config(folder: Path) -> DiTConfig:
    import torch
    from sfe_live.model.checkpoints import diffusers_to_wan, find_dit_weights, infer_dit_config, read_dit_config
    weights, cfg_path, _ = find_dit_weights(folder)
    if cfg_path is not None and "WanTransformer3DModel" not in cfg_path.read_text():
        return read_dit_config(cfg_path)
    shapes = _safetensors_shapes(weights)
    sd = {k: torch.empty(s, device="meta") for k, s in shapes.items()}
    if any(k.startswith("condition_embedder.") for k in sd):
        sd = diffusers_to_wan(sd)
    return infer_dit_config(sd, weights)


def _folder_text_params(folder: Path) -> int:
    cfg = folder / "text_encoder" / "config.json"
    if cfg.is_file():
        import torch
        from transformers import UMT5Config, UMT5EncoderModel
        with torch.device("meta"):
            model = UMT5EncoderModel(UMT5Config.from_dict(json.loads(cfg.read_text())))
        return sum(p.numel() for p in model.parameters())
    from sfe_live.model.text import WAN_T5_FILENAME
    pth = folder / WAN_T5_FILENAME
    return pth.stat().st_size // 2 if pth.is_file() else WAN_UMT5_XXL_PARAMS   # the file is bf16


def request_for(spec: Optional[str], stream: StreamConfig, dtype: str = "bf16", text_on_gpu: bool = True,
                fp8: bool = False, cuda_context: bool = True) -> PlanRequest:
    """A plan request for a model name or folder ("" / None: the built-in Wan2.1-T2V-1.3B config)."""
    common = dict(width=stream.width, height=stream.height, window_frames=stream.window_frames,
                  frames_per_block=stream.frames_per_block, dtype=dtype, text_on_gpu=text_on_gpu, fp8=fp8,
                  cuda_context=cuda_context)
    name = str(spec or "")
    if not name:
        return PlanRequest(WAN21_NAME, DiTConfig(), VAEConfig(), WAN_UMT5_XXL_PARAMS, **common)  # type: ignore[arg-type]
    if name in ("tiny-random", "random-medium"):
        from sfe_live.config import tiny_random
        from sfe_live.model.bundle import random_medium
        mc = tiny_random() if name == "tiny-random" else random_medium()
        return PlanRequest(name, mc.dit, mc.vae, 0, **common)  # type: ignore[arg-type]
    if name in ("demo", "vj"):
        from sfe_live.model.bundle import DEMO_DIR, VJ_DIR
        meta = json.loads(((DEMO_DIR if name == "demo" else VJ_DIR) / "model.json").read_text())
        return PlanRequest(name, DiTConfig.from_dict(meta["dit"]), None, 22_713_216, **common)  # type: ignore[arg-type]
    folder = Path(name).expanduser()
    return PlanRequest(folder.name, _folder_dit_config(folder), VAEConfig(), _folder_text_params(folder),
                       **common)  # type: ignore[arg-type]


# -- sfe-live doctor --plan ---------------------------------------------------------------------------
def add_plan_arguments(parser: "argparse.ArgumentParser") -> None:
    g = parser.add_argument_group("memory plan")
    g.add_argument("--plan", action="store_true",
                   help="print the memory plan (with --size, --vram, --model, --dtype, --text-device, --fp8)")
    g.add_argument("--vram", type=float, help="GPU memory in GiB to plan for (default: this GPU's, if any)")
    g.add_argument("--json", action="store_true", help="the plan as JSON")


def plan_report(args: "argparse.Namespace") -> str:
    """The text (or JSON) of ``sfe-live doctor --plan``; no folder: the built-in Wan2.1-T2V-1.3B."""
    import torch
    from sfe_live.model.files import ModelLoadError
    from sfe_live.model.runtime import gpu_memory_gib, runtime_options
    opts = runtime_options(args)
    dev = torch.device(args.device) if args.device else (
        torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    vram = args.vram if args.vram is not None else gpu_memory_gib(dev)
    size = (args.size or "832x480").lower().split("x")
    try:
        w, h = int(size[0]), int(size[1])
        stream = StreamConfig(height=h, width=w, frames_per_block=args.frames_per_block,
                              kv_window=args.kv_window, sink_frames=args.sink_frames)
    except (ValueError, IndexError) as exc:
        raise ModelLoadError(f"--size {args.size!r} / window: {exc}") from None
    model = args.model if args.model not in ("", None) else None
    dtype = "bf16" if opts.dtype == "auto" else opts.dtype

    def make(on_gpu: bool) -> MemoryPlan:
        return plan_memory(request_for(model, stream, dtype, text_on_gpu=on_gpu, fp8=opts.fp8), vram)
    plan = make(opts.text_device != "cpu")
    if opts.text_device == "auto" and plan.fits is False:
        alt = make(False)
        plan = alt if alt.fits else plan
    if args.json:
        return json.dumps(plan.to_dict(), indent=2)
    return "\n".join([f"memory plan ({'no GPU memory given: use --vram GIB' if vram is None else f'{vram:.1f} GiB'}):"]
                     + plan.lines())
