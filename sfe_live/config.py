"""Typed, frozen configuration for every part of the model and the stream.

Every size the code needs (tokens per latent frame, KV-cache capacity, head size, RoPE
split, latent shape) is derived here from the architecture config and the resolution,
so nothing else hard-codes numbers that belong to one model or one resolution.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Optional, Protocol, runtime_checkable

MAX_WIDTH = 65536          # hidden / text / ffn widths (Wan 14B: dim 5120, ffn 13824, text 4096)
MAX_LAYERS = 1024
MAX_TEXT_LEN = 8192        # text rows (Wan: 512)


def whole(name: str, value: Any, lo: int, hi: int) -> int:
    """``value`` as an int in ``lo..hi``; a ValueError naming ``name`` otherwise (checked before any
    allocation, so a config.json saying ``num_layers: 1e9`` costs one line, not the machine)."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value, ok = int(value), True
    if not ok or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number in {lo}..{hi} (got {value!r})")
    return int(value)


def positive(name: str, value: Any, hi: float = 1e12) -> float:
    """``value`` as a finite float in (0, hi]; a ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= hi \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a number in (0, {hi:g}] (got {value!r})")
    return float(value)


def _whole_fields(obj: Any, bounds: dict[str, tuple[int, int]]) -> None:
    for name, (lo, hi) in bounds.items():
        object.__setattr__(obj, name, whole(name, getattr(obj, name), lo, hi))


@dataclass(frozen=True)
class DiTConfig:
    """Causal Wan2.1 DiT architecture (defaults: Wan2.1-T2V-1.3B)."""

    patch_size: tuple[int, int, int] = (1, 2, 2)  # (t, h, w) patch of the Conv3d embedding
    in_dim: int = 16            # latent channels in
    out_dim: int = 16           # latent channels out
    dim: int = 1536             # hidden width
    ffn_dim: int = 8960         # MLP width
    num_heads: int = 12
    num_layers: int = 30
    freq_dim: int = 256         # sinusoidal timestep embedding width
    text_dim: int = 4096        # text-encoder width (umT5-XXL)
    text_len: int = 512         # text rows the DiT sees (padded with zeros)
    eps: float = 1e-6
    qk_norm: bool = True
    cross_attn_norm: bool = True
    rope_positions: int = 1024  # rows of each RoPE table (the model's position horizon)
    rope_theta: float = 10000.0

    def __post_init__(self) -> None:
        _whole_fields(self, {"in_dim": (1, 4096), "out_dim": (1, 4096), "dim": (1, MAX_WIDTH),
                             "ffn_dim": (1, 4 * MAX_WIDTH), "num_heads": (1, 1024), "num_layers": (1, MAX_LAYERS),
                             "freq_dim": (2, MAX_WIDTH), "text_dim": (1, MAX_WIDTH), "text_len": (1, MAX_TEXT_LEN),
                             "rope_positions": (1, 1 << 20)})
        if not isinstance(self.patch_size, (list, tuple)) or len(self.patch_size) != 3:
            raise ValueError(f"patch_size must be three whole numbers (t, h, w) (got {self.patch_size!r})")
        object.__setattr__(self, "patch_size", tuple(whole("patch_size", p, 1, 64) for p in self.patch_size))
        object.__setattr__(self, "eps", positive("eps", self.eps, 1.0))
        object.__setattr__(self, "rope_theta", positive("rope_theta", self.rope_theta))
        for name in ("qk_norm", "cross_attn_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false (got {getattr(self, name)!r})")
        if self.dim % self.num_heads:
            raise ValueError(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if self.head_dim % 2:
            raise ValueError(f"head_dim {self.head_dim} must be even for RoPE")

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def rope_split(self) -> tuple[int, int, int]:
        """Complex pairs of a head given to (frame, row, col) rotary embeddings."""
        pairs = self.head_dim // 2
        spatial = pairs // 3
        return (pairs - 2 * spatial, spatial, spatial)

    @property
    def patch_volume(self) -> int:
        pt, ph, pw = self.patch_size
        return pt * ph * pw

    def tokens_per_frame(self, latent_h: int, latent_w: int) -> int:
        _, ph, pw = self.patch_size
        if latent_h % ph or latent_w % pw:
            raise ValueError(f"latent {latent_h}x{latent_w} is not divisible by patch {ph}x{pw}")
        return (latent_h // ph) * (latent_w // pw)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["patch_size"] = list(self.patch_size)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DiTConfig":
        """Accepts our own field names and Wan's / diffusers' config.json names."""
        aliases = {
            "attention_head_dim": None, "num_attention_heads": "num_heads",
            "in_channels": "in_dim", "out_channels": "out_dim", "rope_max_seq_len": "rope_positions",
        }
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            key = aliases.get(key, key) if key in aliases else key
            if key in known:
                kwargs[key] = value
        if "attention_head_dim" in d and "dim" not in d:
            heads = int(d.get("num_attention_heads", d.get("num_heads", 12)))
            kwargs["dim"] = int(d["attention_head_dim"]) * heads
        if "patch_size" in kwargs:
            kwargs["patch_size"] = tuple(kwargs["patch_size"])
        if isinstance(kwargs.get("qk_norm"), str):
            kwargs["qk_norm"] = kwargs["qk_norm"] not in ("", "none", "None")
        return cls(**kwargs)


# Wan2.1 latent normalisation constants (per channel), from the released VAE.
WAN21_LATENTS_MEAN = (
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
)
WAN21_LATENTS_STD = (
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
)


def causal_pixel_frames(latent_frames: int, first_in_stream: bool, temporal_factor: int) -> int:
    """Pixel frames a causal video decoder gives for ``latent_frames`` (the stream's first latent gives 1,
    every other ``temporal_factor``): the Wan VAE's and TAEHV's geometry."""
    if latent_frames <= 0:
        return 0
    if first_in_stream:
        return 1 + (latent_frames - 1) * temporal_factor
    return latent_frames * temporal_factor


@dataclass(frozen=True)
class VAEConfig:
    """Wan2.1 causal video VAE (defaults: the released Wan2.1_VAE.pth)."""

    dim: int = 96
    z_dim: int = 16
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    attn_scales: tuple[float, ...] = ()
    temperal_downsample: tuple[bool, ...] = (False, True, True)  # Wan's spelling, kept
    dropout: float = 0.0
    latents_mean: tuple[float, ...] = WAN21_LATENTS_MEAN
    latents_std: tuple[float, ...] = WAN21_LATENTS_STD

    def __post_init__(self) -> None:
        for name in ("dim_mult", "attn_scales", "temperal_downsample", "latents_mean", "latents_std"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or len(value) > 64:
                raise ValueError(f"{name} must be a short list (got {str(value)[:40]})")
            object.__setattr__(self, name, tuple(value))
        _whole_fields(self, {"dim": (1, 4096), "z_dim": (1, 1024), "num_res_blocks": (0, 64)})
        if not 1 <= len(self.dim_mult) <= 8:
            raise ValueError(f"dim_mult must have 1..8 entries (got {len(self.dim_mult)})")
        object.__setattr__(self, "dim_mult", tuple(whole("dim_mult", m, 1, 64) for m in self.dim_mult))
        if len(self.latents_mean) != self.z_dim or len(self.latents_std) != self.z_dim:
            raise ValueError(f"latents_mean/std need {self.z_dim} values (z_dim)")

    @property
    def spatial_factor(self) -> int:
        return 2 ** (len(self.dim_mult) - 1)

    @property
    def temporal_factor(self) -> int:
        return 2 ** sum(bool(t) for t in self.temperal_downsample)

    def pixel_frames(self, latent_frames: int, first_in_stream: bool) -> int:
        """Pixel frames decoded from ``latent_frames`` (the stream's first latent gives 1)."""
        return causal_pixel_frames(latent_frames, first_in_stream, self.temporal_factor)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VAEConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        if "base_dim" in d and "dim" not in d:  # diffusers AutoencoderKLWan
            kwargs["dim"] = d["base_dim"]
        if "temperal_downsample" not in d and "temporal_downsample" in d:
            kwargs["temperal_downsample"] = d["temporal_downsample"]
        return cls(**kwargs)


@dataclass(frozen=True)
class TextConfig:
    """Which text encoder turns prompts into the DiT's context rows."""

    kind: str = "umt5"          # "umt5" | "minilm" | "random"
    dim: int = 4096             # output width (must equal DiTConfig.text_dim)
    text_len: int = 512         # rows after padding/truncation
    cache_size: int = 64        # LRU of prompt embeddings

    def __post_init__(self) -> None:
        _whole_fields(self, {"dim": (1, MAX_WIDTH), "text_len": (1, MAX_TEXT_LEN), "cache_size": (0, 1 << 16)})


@dataclass(frozen=True)
class StreamConfig:
    """How the engine streams: resolution, blocks, cache window, steps."""

    height: int = 480                       # pixels
    width: int = 832                        # pixels
    frames_per_block: int = 3               # latent frames per block (1 = frame-wise)
    kv_window: int = -1                     # self-attention window in latent frames (-1 = all so far)
    sink_frames: int = 0                    # latent frames always kept at the window's start
    denoising_steps: tuple[int, ...] = (1000, 750, 500, 250)  # nominal steps, warped by `shift`
    shift: float = 5.0
    num_train_timesteps: int = 1000
    fps: int = 16                           # pixel frames per second of the model
    seed: int = 0
    noise_scale: float = 1.0
    context_noise: float = 0.0              # timestep of the context pass (0 = clean, reference)
    position_policy: str = "window"         # "window" (re-anchor positions under the horizon) | "absolute"
    position_horizon: int = 21              # latent frames the model was trained on (Self-Forcing: 21)

    def __post_init__(self) -> None:
        object.__setattr__(self, "denoising_steps", tuple(int(s) for s in self.denoising_steps))
        check_steps(self.denoising_steps, self.num_train_timesteps)
        if self.sink_frames < 0:
            raise ValueError("sink_frames must be >= 0")
        if self.kv_window < -1 or self.kv_window == 0:
            raise ValueError(f"kv_window must be -1 (the whole horizon) or a number of frames, got {self.kv_window}")
        if self.frames_per_block < 1:
            raise ValueError("frames_per_block must be >= 1")
        if self.kv_window != -1 and self.kv_window < self.frames_per_block + self.sink_frames:
            raise ValueError(
                f"kv_window {self.kv_window} must hold sink_frames {self.sink_frames} + one block "
                f"({self.frames_per_block} frames)")
        if self.window_frames > self.position_horizon and self.position_policy == "window":
            raise ValueError(f"kv_window {self.kv_window} exceeds the position horizon {self.position_horizon}")
        if self.position_policy not in ("window", "absolute"):
            raise ValueError("position_policy must be 'window' or 'absolute'")

    @property
    def window_frames(self) -> int:
        """Frames the self-attention cache holds (the whole horizon when kv_window is -1)."""
        return self.position_horizon if self.kv_window == -1 else self.kv_window

    def latent_size(self, vae: "LatentGeometry") -> tuple[int, int]:
        f = vae.spatial_factor
        return self.height // f, self.width // f


def check_steps(steps: tuple[int, ...], num_train_timesteps: int = 1000) -> None:
    """Denoising steps: 1 to 16 values, each 1..num_train_timesteps (ValueError otherwise)."""
    if not 1 <= len(steps) <= 16 or any(not 0 < s <= num_train_timesteps for s in steps):
        raise ValueError(f"denoising steps must be 1 to 16 values in 1..{num_train_timesteps}, got {list(steps)}")


@dataclass(frozen=True)
class StreamOptions:
    """The stream as a user chose it (command line, settings, a replay log header); ``resolve``
    fills in what the model decides (its native size) and gives the ``StreamConfig``. The one
    place every command (render, bench, run, gui) builds its stream from; invalid choices raise
    ValueError when the options are built, before any model is loaded."""

    size: Optional[tuple[int, int]] = None          # (width, height); None = the model's native size
    frames_per_block: int = 3
    kv_window: int = -1
    sink_frames: int = 0
    steps: tuple[int, ...] = (1000, 750, 500, 250)
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            raise ValueError(f"size {self.size} must be two positive numbers (width, height)")
        self.resolve(ModelConfig("check", DiTConfig(), VAEConfig(), TextConfig(), 480, 832))

    def resolve(self, model: "ModelConfig") -> StreamConfig:
        width, height = self.size or (model.default_width, model.default_height)
        return StreamConfig(height=height, width=width, frames_per_block=self.frames_per_block,
                            kv_window=self.kv_window, sink_frames=self.sink_frames,
                            denoising_steps=self.steps, seed=self.seed, shift=model.shift)


def check_size(height: int, width: int, multiple: int) -> None:
    """Raise a ValueError naming the nearest valid sizes when a size is off-grid."""
    bad = [(n, v) for n, v in (("height", height), ("width", width)) if v % multiple or v <= 0]
    if bad:
        def near(v: int) -> str:
            lo = max(multiple, v // multiple * multiple)
            return f"{lo} or {lo + multiple}" if lo != v else str(v)
        raise ValueError(
            f"size {width}x{height} is not a multiple of {multiple}: nearest valid sizes are "
            f"width {near(width)}, height {near(height)}")


@runtime_checkable
class LatentGeometry(Protocol):
    """How a decoder's latents map to pixels: ``VAEConfig``, TAEHV's and the pixel codec's configs."""

    @property
    def z_dim(self) -> int: ...

    @property
    def spatial_factor(self) -> int: ...

    @property
    def temporal_factor(self) -> int: ...

    def pixel_frames(self, latent_frames: int, first_in_stream: bool) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...


DEFAULT_PROMPT = "a red ball bouncing on a black background"   # the demo model's; a model.json may name its own


@dataclass(frozen=True)
class ModelConfig:
    """The three components of a model bundle (``vae``: the geometry of the bundle's decoder)."""

    name: str
    dit: DiTConfig
    vae: LatentGeometry         # VAEConfig for Wan2.1 checkpoints, PixelCodecConfig for the demo
    text: TextConfig
    default_height: int = 480
    default_width: int = 832
    shift: float = 5.0          # the model's sampler shift (Wan's sample_shift): streams use it
    prompt: str = DEFAULT_PROMPT    # what a show starts on when the user gives no prompt

    def first_prompt(self, given: Optional[str]) -> str:
        """The prompt a show starts on: the user's, else the model's own."""
        return given if given else self.prompt

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "dit": self.dit.to_dict(), "vae": self.vae.to_dict(),
                           "text": dataclasses.asdict(self.text),
                           "default_height": self.default_height, "default_width": self.default_width})


def wan_1_3b() -> ModelConfig:
    return ModelConfig("Wan2.1-T2V-1.3B", DiTConfig(), VAEConfig(), TextConfig())


def tiny_dit() -> DiTConfig:
    """The golden-fixture DiT size (dim 64, 2 layers, text 16x32)."""
    return DiTConfig(dim=64, ffn_dim=128, num_heads=4, num_layers=2, freq_dim=16,
                     text_dim=32, text_len=16)


def tiny_vae() -> VAEConfig:
    """The golden-fixture VAE size (dim 8)."""
    return VAEConfig(dim=8)


def tiny_random() -> ModelConfig:
    dit = tiny_dit()
    return ModelConfig("tiny-random", dit, tiny_vae(), TextConfig(kind="random", dim=dit.text_dim,
                                                                    text_len=dit.text_len),
                       default_height=64, default_width=64)


@dataclass(frozen=True)
class RemoteConfig:
    """Where the engine runs when it is not on this machine (``sfe-live --remote URL``).

    ``ttl_s``: how long a discrete action issued while the link is down waits before it is dropped
    (and reported). ``ice_servers``: STUN/TURN URLs for strict NATs (none by default).
    """

    url: str
    token: str | None = None
    ttl_s: float = 3.0
    ca_file: str | None = None
    ice_servers: tuple[str, ...] = ()
    ice_username: str | None = None
    ice_credential: str | None = None

    def __post_init__(self) -> None:
        if not self.url.lower().startswith(("http://", "https://")):
            raise ValueError(f"--remote {self.url}: expected a URL like http://127.0.0.1:8765")
        if not 0 < self.ttl_s <= 60:
            raise ValueError(f"--command-ttl {self.ttl_s}: expected seconds in (0, 60]")
