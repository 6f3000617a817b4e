"""TAEHV for Wan 2.1 latents (``taew2_1``): a tiny causal video autoencoder with exact streaming.

Written from the fixture README (section 3), not from the reference code. The decoder maps
the DiT's normalised 16-channel latents (``[B, T, 16, h, w]``, no mean/std step) to RGB in
[0, 1]; the encoder maps RGB in [0, 1] back to latents. Every layer is a 2-D conv applied per
frame; time enters only through three kinds of blocks:

* ``MemBlock`` -- convs over ``cat([x_t, m_t])`` where ``m_t`` is the block's input at the
  previous frame (zeros at a stream's first frame), plus a residual;
* ``TPool(s)`` (encoder) -- ``s`` consecutive frames concatenated along channels -> one frame;
* ``TGrow(s)`` (decoder) -- one frame -> ``s`` frames (channel groups in time order).

The decoder grows time 4x and drops the stream's first 3 frames, so ``T`` latents give
``1 + 4 (T - 1)`` frames for a fresh stream and ``4 T`` after: the Wan VAE's geometry.

Streaming is exact: :class:`TAEHVStreamState` holds one remembered frame per MemBlock (and,
for encoding, up to 3 pixel frames waiting for a group of 4); feeding a clip block by block
gives the same frames as decoding it at once. The state is a plain dataclass the caller owns.

Widths are inferred from the weight file (the fixture is narrow, ``taew2_1`` is not); loading
is strict and errors are one line naming the file (:func:`load_taehv`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sfe_live.config import causal_pixel_frames
from sfe_live.model.files import ModelLoadError, load_strict, read_state_dict

log = logging.getLogger(__name__)

TAEHV_FILENAMES = ("taew2_1.safetensors", "taew2_1.pth")
WHAT = "a TAEHV (taew2_1) state dict"

_DeviceLike = Union[str, torch.device]


# --------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TAEHVConfig:
    """Widths and time strides of a TAEHV (defaults: the published ``taew2_1``)."""

    kind: str = "taehv"
    latent_channels: int = 16
    encoder_width: int = 64
    decoder_widths: tuple[int, int, int, int] = (256, 128, 64, 64)
    encoder_time_pool: tuple[int, int, int] = (2, 2, 1)      # TPool strides (encoder.2, .7, .12)
    decoder_time_grow: tuple[int, int, int] = (1, 2, 2)      # TGrow strides (decoder.7, .13, .19)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decoder_widths", tuple(int(w) for w in self.decoder_widths))
        object.__setattr__(self, "encoder_time_pool", tuple(int(s) for s in self.encoder_time_pool))
        object.__setattr__(self, "decoder_time_grow", tuple(int(s) for s in self.decoder_time_grow))
        if math.prod(self.encoder_time_pool) != math.prod(self.decoder_time_grow):
            raise ValueError("TAEHV encoder and decoder time strides must have the same product")

    @property
    def z_dim(self) -> int:
        return self.latent_channels

    @property
    def spatial_factor(self) -> int:
        return 8

    @property
    def temporal_factor(self) -> int:
        return math.prod(self.decoder_time_grow)

    @property
    def trim_frames(self) -> int:
        """Frames dropped at the start of a decode stream (causal alignment with the Wan VAE)."""
        return self.temporal_factor - 1

    def pixel_frames(self, latent_frames: int, first_in_stream: bool) -> int:
        """Pixel frames decoded from ``latent_frames`` (the stream's first latent gives 1)."""
        return causal_pixel_frames(latent_frames, first_in_stream, self.temporal_factor)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# --------------------------------------------------------------------------------------
# Stream state
# --------------------------------------------------------------------------------------

@dataclass
class TAEHVStreamState:
    """One encode or decode stream of a :class:`TAEHV`, owned by the caller.

    ``mem[i]`` is the input of the i-th MemBlock (module order) at the stream's last frame,
    ``[B, C, H, W]``, or ``None`` before the first frame (= zeros). ``pending`` (encode only)
    holds up to 3 pixel frames ``[B, <4, 3, H, W]`` waiting for a full group of 4. ``align``
    (encode only): the stream's first frame is repeated 3 times in front, so ``1 + 4 (n - 1)``
    frames give ``n`` latents and frame ``j`` of a round trip is input frame ``j`` (the
    reference's clip encode pads at the end instead; see :meth:`TAEHV.encode`).
    """

    kind: str                                    # "decode" | "encode"
    mem: list[Optional[Tensor]]
    latent_frames: int = 0
    pixel_frames: int = 0
    pending: Optional[Tensor] = None
    align: bool = True

    @property
    def started(self) -> bool:
        return self.latent_frames > 0 or self.pixel_frames > 0

    def clone(self) -> "TAEHVStreamState":
        """Deep copy (every tensor cloned) for save / restore."""
        return TAEHVStreamState(self.kind, [None if t is None else t.clone() for t in self.mem],
                                self.latent_frames, self.pixel_frames,
                                None if self.pending is None else self.pending.clone(), self.align)

    def to(self, device: _DeviceLike, dtype: Optional[torch.dtype] = None) -> "TAEHVStreamState":
        def move(t: Optional[Tensor]) -> Optional[Tensor]:
            return None if t is None else t.to(device=device, dtype=dtype)
        return TAEHVStreamState(self.kind, [move(t) for t in self.mem], self.latent_frames,
                                self.pixel_frames, move(self.pending), self.align)

    def nbytes(self) -> int:
        """Bytes held by the remembered tensors."""
        tensors = [t for t in self.mem if t is not None]
        if self.pending is not None:
            tensors.append(self.pending)
        return sum(t.numel() * t.element_size() for t in tensors)


# --------------------------------------------------------------------------------------
# Blocks (parameter names follow taew2_1: indices of an nn.Sequential)
# --------------------------------------------------------------------------------------

def _conv(a: int, b: int, **kw: Any) -> nn.Conv2d:
    return nn.Conv2d(a, b, 3, padding=1, **kw)


def _per_frame(layer: nn.Module, x: Tensor) -> Tensor:
    """Apply a 2-D layer to every frame of ``[B, T, C, H, W]``."""
    b, t = x.shape[:2]
    y = layer(x.reshape(b * t, *x.shape[2:]))
    return y.reshape(b, t, *y.shape[1:])


class MemBlock(nn.Module):
    """``relu(convs(cat([x_t, x_{t-1}])) + x_t)``; ``x_{t-1}`` comes from the stream state."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(2 * c_in, c_out), nn.ReLU(inplace=True), _conv(c_out, c_out),
                                  nn.ReLU(inplace=True), _conv(c_out, c_out))
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, prev: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        """``x`` ``[B, T, C, H, W]``, ``prev`` ``[B, C, H, W]`` or None -> (output, new memory)."""
        b, t, c, h, w = x.shape
        first = x.new_zeros((b, 1, c, h, w)) if prev is None else prev.unsqueeze(1)
        past = torch.cat([first, x[:, :-1]], dim=1)                       # [B, T, C, H, W]
        y = _per_frame(self.conv, torch.cat([x, past], dim=2))            # [B, T, C', H, W]
        y = y.add_(_per_frame(self.skip, x))
        return F.relu_(y), x[:, -1].clone()


class TPool(nn.Module):
    """``s`` consecutive frames -> one frame (channels: earlier frame first), then a 1x1 conv."""

    def __init__(self, c: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(c * stride, c, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, t, c, h, w = x.shape
        if t % self.stride:
            raise ValueError(f"TPool({self.stride}) needs a multiple of {self.stride} frames, got {t}")
        return _per_frame(self.conv, x.reshape(b, t // self.stride, self.stride * c, h, w))


class TGrow(nn.Module):
    """A 1x1 conv to ``s`` times the channels, then each frame -> ``s`` frames in time order."""

    def __init__(self, c: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(c, c * stride, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, t, c, h, w = x.shape
        return _per_frame(self.conv, x).reshape(b, t * self.stride, c, h, w)


class Clamp(nn.Module):
    """``tanh(x / 3) * 3``: a soft clamp of the latents."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(x / 3.0) * 3.0


def _run(layers: nn.Sequential, x: Tensor, mem: list[Optional[Tensor]]) -> Tensor:
    """Run an encoder/decoder stack over ``[B, T, C, H, W]``, updating the MemBlock memories."""
    slot = 0
    for layer in layers:
        if isinstance(layer, MemBlock):
            x, mem[slot] = layer(x, mem[slot])
            slot += 1
        elif isinstance(layer, (TPool, TGrow)):
            x = layer(x)
        else:
            x = _per_frame(layer, x)
    return x


# --------------------------------------------------------------------------------------
# The autoencoder
# --------------------------------------------------------------------------------------

class TAEHV(nn.Module):
    """TAEHV: ``uint8``/[0, 1] RGB frames <-> normalised Wan 2.1 latents, exact streaming both ways.

    Implements the engine's decoder protocol (:mod:`sfe_live.model.decoders.protocol`).
    """

    name = "taehv"

    def __init__(self, config: TAEHVConfig = TAEHVConfig()) -> None:
        super().__init__()
        self.config = config
        e, z = config.encoder_width, config.latent_channels
        p = config.encoder_time_pool
        self.encoder = nn.Sequential(
            _conv(3, e), nn.ReLU(inplace=True),
            TPool(e, p[0]), _conv(e, e, stride=2, bias=False), MemBlock(e, e), MemBlock(e, e), MemBlock(e, e),
            TPool(e, p[1]), _conv(e, e, stride=2, bias=False), MemBlock(e, e), MemBlock(e, e), MemBlock(e, e),
            TPool(e, p[2]), _conv(e, e, stride=2, bias=False), MemBlock(e, e), MemBlock(e, e), MemBlock(e, e),
            _conv(e, z))
        f, g = config.decoder_widths, config.decoder_time_grow
        up = nn.Upsample(scale_factor=2, mode="nearest")
        self.decoder = nn.Sequential(
            Clamp(), _conv(z, f[0]), nn.ReLU(inplace=True),
            MemBlock(f[0], f[0]), MemBlock(f[0], f[0]), MemBlock(f[0], f[0]),
            up, TGrow(f[0], g[0]), _conv(f[0], f[1], bias=False),
            MemBlock(f[1], f[1]), MemBlock(f[1], f[1]), MemBlock(f[1], f[1]),
            up, TGrow(f[1], g[1]), _conv(f[1], f[2], bias=False),
            MemBlock(f[2], f[2]), MemBlock(f[2], f[2]), MemBlock(f[2], f[2]),
            up, TGrow(f[2], g[2]), _conv(f[2], f[3], bias=False),
            nn.ReLU(inplace=True), _conv(f[3], 3))
        self._enc_slots = sum(isinstance(m, MemBlock) for m in self.encoder)
        self._dec_slots = sum(isinstance(m, MemBlock) for m in self.decoder)

    @property
    def dtype(self) -> torch.dtype:
        return self.decoder[1].weight.dtype

    @property
    def device(self) -> torch.device:
        return self.decoder[1].weight.device

    # ---- streams ---------------------------------------------------------------------

    def new_decode_state(self) -> TAEHVStreamState:
        return TAEHVStreamState("decode", [None] * self._dec_slots)

    def new_encode_state(self, align: bool = True) -> TAEHVStreamState:
        return TAEHVStreamState("encode", [None] * self._enc_slots, align=align)

    def _check_state(self, state: object, kind: str) -> TAEHVStreamState:
        slots = self._dec_slots if kind == "decode" else self._enc_slots
        if not isinstance(state, TAEHVStreamState) or state.kind != kind or len(state.mem) != slots:
            raise ValueError(f"expected a TAEHV {kind} state, got {type(state).__name__} "
                             f"(use new_{kind}_state() of this decoder)")
        return state

    # ---- decoding ([B, T, C, h, w] latents, RGB in [0, 1]) ------------------------------

    @torch.no_grad()
    def decode_stream(self, latents: Tensor, state: TAEHVStreamState,
                      frames_per_call: int = 1) -> tuple[Tensor, TAEHVStreamState]:
        """Decode the next latent frames of a stream; updates ``state`` in place and returns it.

        ``latents``: ``[B, T, z, h, w]`` normalised. Returns RGB ``[B, T', 3, 8h, 8w]`` in
        [0, 1] with ``T' = config.pixel_frames(T, not state.started)``. ``frames_per_call``
        latent frames go through the network at once (same result; more is faster on a GPU and
        needs more memory; <= 0 means all).
        """
        state = self._check_state(state, "decode")
        z = self.config.latent_channels
        if latents.dim() != 5 or latents.shape[2] != z:
            raise ValueError(f"TAEHV decode expects latents [B, T, {z}, h, w], got {list(latents.shape)}")
        b, t, _, h, w = latents.shape
        x = latents.to(self.dtype)
        step = t if frames_per_call <= 0 else frames_per_call
        outs: list[Tensor] = []
        for i in range(0, t, step):
            y = _run(self.decoder, x[:, i:i + step], state.mem).clamp_(0.0, 1.0)   # [B, 4n, 3, H, W]
            if state.latent_frames == 0:
                y = y[:, self.config.trim_frames:]
            state.latent_frames += min(step, t - i)
            outs.append(y)
        f = self.config.spatial_factor
        pixels = torch.cat(outs, dim=1) if outs else x.new_empty((b, 0, 3, h * f, w * f))
        state.pixel_frames += pixels.shape[1]
        return pixels, state

    def decode(self, latents: Tensor, frames_per_call: int = 0) -> Tensor:
        """Whole-clip decode (fresh stream): ``[B, T, z, h, w]`` -> ``[B, 1 + 4(T-1), 3, 8h, 8w]``."""
        pixels, _ = self.decode_stream(latents, self.new_decode_state(), frames_per_call)
        return pixels

    def forward(self, latents: Tensor) -> Tensor:
        return self.decode(latents)

    # ---- encoding ----------------------------------------------------------------------

    @torch.no_grad()
    def encode_stream(self, pixels: Tensor, state: TAEHVStreamState) -> tuple[Tensor, TAEHVStreamState]:
        """Encode the next RGB frames ``[B, T, 3, H, W]`` in [0, 1] of a stream (any ``T``).

        Every full group of 4 frames gives one latent; up to 3 leftover frames wait in
        ``state.pending``. Returns ``[B, T', z, H/8, W/8]`` (``T'`` may be 0).
        """
        state = self._check_state(state, "encode")
        if pixels.dim() != 5 or pixels.shape[2] != 3:
            raise ValueError(f"TAEHV encode expects RGB frames [B, T, 3, H, W], got {list(pixels.shape)}")
        x = pixels.to(self.dtype)
        if state.pixel_frames == 0 and state.pending is None and state.align and x.shape[1] > 0:
            x = torch.cat([x[:, :1].expand(-1, self.config.trim_frames, -1, -1, -1), x], dim=1)
        if state.pending is not None:
            x = torch.cat([state.pending, x], dim=1)
            state.pending = None
        state.pixel_frames += pixels.shape[1]
        tf = self.config.temporal_factor
        usable = x.shape[1] // tf * tf
        if usable < x.shape[1]:
            state.pending = x[:, usable:].clone()
        b, _, _, h, w = x.shape
        if usable == 0:
            f = self.config.spatial_factor
            return x.new_empty((b, 0, self.config.latent_channels, -(-h // f), -(-w // f))), state
        out = _run(self.encoder, x[:, :usable], state.mem)                # [B, usable/4, z, h, w]
        state.latent_frames += out.shape[1]
        return out, state

    def encode(self, pixels: Tensor) -> Tensor:
        """Whole-clip encode as the reference does it: ``[B, T, 3, H, W]`` in [0, 1], padded at the
        end to a multiple of 4 frames by repeating the last one -> ``[B, ceil(T/4), z, H/8, W/8]``."""
        if pixels.dim() != 5 or pixels.shape[1] == 0:
            raise ValueError(f"TAEHV encode expects RGB frames [B, T, 3, H, W], got {list(pixels.shape)}")
        tf = self.config.temporal_factor
        pad = -pixels.shape[1] % tf
        if pad:
            pixels = torch.cat([pixels, pixels[:, -1:].expand(-1, pad, -1, -1, -1)], dim=1)
        out, _ = self.encode_stream(pixels, self.new_encode_state(align=False))
        return out

    # ---- the engine's decoder protocol (uint8 frames) ------------------------------------

    def decode_to_frames(self, latents: Tensor, state: TAEHVStreamState,
                         frames_per_call: int = 1) -> tuple[Tensor, TAEHVStreamState]:
        """``[B, T, z, h, w]`` latents -> ``uint8 [B, T', H, W, 3]`` display frames."""
        pixels, state = self.decode_stream(latents, state, frames_per_call)
        frames = pixels.float().mul_(255.0).round_().to(torch.uint8)
        return frames.permute(0, 1, 3, 4, 2).contiguous(), state

    def encode_frames(self, frames: Tensor, state: TAEHVStreamState) -> tuple[Tensor, TAEHVStreamState]:
        """``uint8 [B, T, H, W, 3]`` (or ``[T, H, W, 3]``) -> ``[B, T', z, h, w]`` latents."""
        if frames.dim() == 4:
            frames = frames.unsqueeze(0)
        if frames.dim() != 5 or frames.shape[-1] != 3:
            raise ValueError(f"expected frames [B, T, H, W, 3], got {list(frames.shape)}")
        pixels = frames.permute(0, 1, 4, 2, 3).float().div_(255.0)
        return self.encode_stream(pixels, state)


# --------------------------------------------------------------------------------------
# Loading and random init
# --------------------------------------------------------------------------------------

_WIDTH_KEYS = {"encoder_width": "encoder.0.weight", "latent_channels": "encoder.17.weight",
               "f0": "decoder.1.weight", "f1": "decoder.8.weight", "f2": "decoder.14.weight",
               "f3": "decoder.20.weight"}
_TGROW_KEYS = ("decoder.7.conv.weight", "decoder.13.conv.weight", "decoder.19.conv.weight")


def config_from_state_dict(sd: Mapping[str, Tensor], source: str = "state dict") -> TAEHVConfig:
    """Widths from the weight shapes (raises a one-line :class:`ModelLoadError` naming ``source``)."""
    missing = [k for k in _WIDTH_KEYS.values() if k not in sd]
    if missing:
        hint = ""
        if any(k.startswith(("decoder.conv1", "decoder.upsamples", "conv2.")) for k in sd):
            hint = " (this looks like a Wan VAE; TAEHV is taew2_1.safetensors / taew2_1.pth)"
        raise ModelLoadError(f"{source}: not {WHAT}: no {missing[0]}{hint}")
    w = {k: int(sd[v].shape[0]) for k, v in _WIDTH_KEYS.items()}
    pools = []
    for key in ("encoder.2.conv.weight", "encoder.7.conv.weight", "encoder.12.conv.weight"):
        if key not in sd:
            raise ModelLoadError(f"{source}: not {WHAT}: no {key}")
        c_out, c_in = sd[key].shape[:2]
        if c_out == 0 or c_in % c_out:
            raise ModelLoadError(f"{source}: {key} has shape {list(sd[key].shape)}, not a TPool conv")
        pools.append(c_in // c_out)
    try:
        return TAEHVConfig(latent_channels=w["latent_channels"], encoder_width=w["encoder_width"],
                           decoder_widths=(w["f0"], w["f1"], w["f2"], w["f3"]),
                           encoder_time_pool=(pools[0], pools[1], pools[2]))
    except ValueError as exc:
        raise ModelLoadError(f"{source}: {exc}") from None


def _trim_tgrow(sd: dict[str, Tensor], model: TAEHV) -> None:
    """The TGrow loading rule: a file's TGrow conv may hold more output rows than the module
    needs (trained with a larger stride); keep the last rows (the later time steps)."""
    for key in _TGROW_KEYS:
        want = model.state_dict()[key].shape[0]
        have = sd[key].shape[0] if key in sd else want
        if have > want and have % want == 0:
            sd[key] = sd[key][-want:]


def taehv_from_state_dict(sd: Mapping[str, Tensor], source: str = "state dict",
                          device: _DeviceLike = "cpu", dtype: torch.dtype = torch.float32) -> TAEHV:
    """Build on the meta device with widths from ``sd`` and load strictly."""
    cfg = config_from_state_dict(sd, source)
    with torch.device("meta"):
        model = TAEHV(cfg)
    weights = dict(sd)
    _trim_tgrow(weights, model)
    load_strict(model, weights, source, WHAT, dtype=dtype)
    model.to(device=device)
    return model.eval().requires_grad_(False)


def load_taehv(path: Union[str, Path], device: _DeviceLike = "cpu",
               dtype: torch.dtype = torch.float32) -> TAEHV:
    """Load ``taew2_1.safetensors`` / ``.pth`` (plain tensors only: pickles load with
    ``weights_only=True``). Every mistake raises a one-line :class:`ModelLoadError`."""
    path = Path(path).expanduser()
    if path.is_dir():
        found = find_taehv(path)
        if found is None:
            raise ModelLoadError(f"{path}: no {' or '.join(TAEHV_FILENAMES)} in this folder")
        path = found
    sd = read_state_dict(path)
    bad = [k for k, v in sd.items() if not isinstance(v, Tensor)]
    if bad:
        raise ModelLoadError(f"{path}: {bad[0]} is not a tensor; expected {WHAT}")
    model = taehv_from_state_dict(sd, str(path), device=device, dtype=dtype)
    log.info("TAEHV %s: encoder %d, decoder %s", path.name, model.config.encoder_width,
             model.config.decoder_widths)
    return model


def find_taehv(folder: Union[str, Path]) -> Optional[Path]:
    """``taew2_1.safetensors`` or ``taew2_1.pth`` in ``folder`` (safetensors first), else None."""
    folder = Path(folder).expanduser()
    for name in TAEHV_FILENAMES:
        if (folder / name).is_file():
            return folder / name
    return None


@torch.no_grad()
def random_taehv(config: TAEHVConfig = TAEHVConfig(), seed: int = 0, device: _DeviceLike = "cpu",
                 dtype: torch.dtype = torch.float32) -> TAEHV:
    """A seeded random-init TAEHV (benchmarks, tests): conv weights ~ N(0, 2/fan_in) (ReLU
    gain), biases 0, the last conv's bias 0.5 so frames sit mid-grey."""
    with torch.device("meta"):
        model = TAEHV(config)
    model.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(int(seed))
    for name, p in model.named_parameters():
        if name.endswith(".bias"):
            p.zero_()
        else:
            p.copy_(torch.randn(p.shape, generator=gen) * math.sqrt(2.0 / p[0].numel()))
    model.decoder[-1].bias.fill_(0.5)
    model.to(device=device, dtype=dtype)
    return model.eval().requires_grad_(False)
