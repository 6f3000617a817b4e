"""The Wan2.1 causal video VAE with explicit, caller-owned streaming state.

This module owns:

* :class:`WanVAE` -- encoder, decoder and the two 1x1x1 convs, with Wan's ORIGINAL
  parameter names (``encoder.*``, ``decoder.*``, ``conv1.*``, ``conv2.*``), so a
  ``Wan2.1_VAE.pth`` state dict loads strictly. Constructible on the meta device.
* :class:`VAEStreamState` -- the causal-conv caches of one stream (a plain dataclass the
  caller holds, clones, moves and throws away; nothing is hidden on the module).
* Layout and pixel helpers for the engine boundary: the VAE works in Wan's
  ``[B, C, T, H, W]``; the pipeline uses ``[B, T, C, H, W]`` latents and ``uint8``
  ``[..., T, H, W, 3]`` frames.

Latents are always in the NORMALISED space: ``z = (mu - mean) / std`` per channel;
decoding computes ``z * std + mean`` first. Decoded pixels are NOT clamped; use
:func:`pixels_to_uint8` for display frames.

Streaming semantics (identical to the reference, see the fixture README section 2.4):
every causal 3x3x3 / (3,1,1) conv remembers the last 2 frames of its input and uses them
instead of zero padding at the next call; the decoder's temporal upsamplers skip the very
first latent frame of a stream (1 latent -> 1 pixel frame, then 1 -> 4); the encoder's
temporal downsamplers keep the last frame and need the stream to start with one frame
alone, then groups of 4 (buffered in the state, so any chunk size may be fed).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sfe_live.config import VAEConfig

log = logging.getLogger(__name__)

CACHE_T = 2  # frames each causal 3-tap conv remembers (its temporal padding)

_DeviceLike = Union[str, torch.device]


# --------------------------------------------------------------------------------------
# Stream state
# --------------------------------------------------------------------------------------

@dataclass
class VAEStreamState:
    """The caches of one encode or decode stream, owned by the caller.

    ``cache[i]`` belongs to one causal conv (slot numbers are fixed at construction, in
    module order, which is the reference's ``feat_idx`` order). A slot is ``None`` before
    the stream's first call; otherwise a ``[B, C, k, H, W]`` tensor holding the last
    ``k <= 2`` input frames of that conv. A ``k == 0`` tensor marks a temporal upsampler
    that has skipped the stream's first frame (the reference's ``'Rep'``): its history is
    all zeros.

    ``pending`` (encode only) holds up to 3 pixel frames waiting for a full group of 4.
    The methods of :class:`WanVAE` update the state in place and return it.
    """

    kind: str                                  # "decode" | "encode"
    cache: list[Optional[Tensor]]
    latent_frames: int = 0                     # latent frames decoded / produced so far
    pixel_frames: int = 0                      # pixel frames produced / consumed so far
    pending: Optional[Tensor] = None           # encode: [B, 3, <=3, H, W] frames not yet encoded

    @property
    def started(self) -> bool:
        return self.latent_frames > 0 or self.pixel_frames > 0

    def clone(self) -> "VAEStreamState":
        """Deep copy (every tensor cloned) for save / restore."""
        return VAEStreamState(
            kind=self.kind,
            cache=[None if t is None else t.clone() for t in self.cache],
            latent_frames=self.latent_frames,
            pixel_frames=self.pixel_frames,
            pending=None if self.pending is None else self.pending.clone(),
        )

    def to(self, device: _DeviceLike, dtype: Optional[torch.dtype] = None) -> "VAEStreamState":
        """A state with every tensor on ``device`` (and ``dtype``); shares tensors already there."""
        def move(t: Optional[Tensor]) -> Optional[Tensor]:
            return None if t is None else t.to(device=device, dtype=dtype)
        return VAEStreamState(self.kind, [move(t) for t in self.cache], self.latent_frames,
                              self.pixel_frames, move(self.pending))

    def nbytes(self) -> int:
        """Bytes held by the cached tensors."""
        tensors = [t for t in self.cache if t is not None]
        if self.pending is not None:
            tensors.append(self.pending)
        return sum(t.numel() * t.element_size() for t in tensors)


# --------------------------------------------------------------------------------------
# Layers (parameter names follow wan/modules/vae.py)
# --------------------------------------------------------------------------------------

class CausalConv3d(nn.Conv3d):
    """Conv3d that pads the past only in time (``2 * p_t`` frames) and symmetrically in space.

    With a cache list, the remembered last frames of the previous call replace (part of) the
    zero time padding, and the last ``2 * p_t`` frames of this call's input are remembered.
    """

    def __init__(self, in_dim: int, out_dim: int, kernel: Union[int, tuple[int, int, int]],
                 stride: Union[int, tuple[int, int, int]] = 1,
                 padding: Union[int, tuple[int, int, int]] = 0) -> None:
        super().__init__(in_dim, out_dim, kernel, stride=stride, padding=0)
        p = (padding,) * 3 if isinstance(padding, int) else tuple(padding)
        self.time_pad = 2 * p[0]
        self.space_pad = (0, p[1], p[2])
        self.slot = -1  # cache slot, assigned by the owning encoder / decoder

    def forward(self, x: Tensor, cache: Optional[list[Optional[Tensor]]] = None) -> Tensor:
        if self.time_pad == 0:
            if x.device.type == "cpu" and self.stride == (1, 1, 1):
                return self._conv_by_taps(x)
            return F.conv3d(x, self.weight, self.bias, self.stride, self.space_pad)
        prev = cache[self.slot] if cache is not None else None
        b, c, t, h, w = x.shape
        k = 0 if prev is None else prev.shape[2]
        zeros = self.time_pad - k
        # [B, C, time_pad + T, H, W]: zero frames, remembered frames, this call's frames
        buf = x.new_empty((b, c, self.time_pad + t, h, w))
        if zeros > 0:
            buf[:, :, :zeros].zero_()
        if k:
            buf[:, :, zeros:self.time_pad].copy_(prev)
        buf[:, :, self.time_pad:].copy_(x)
        if cache is not None:
            cache[self.slot] = buf[:, :, -self.time_pad:].clone()  # [B, C, 2, H, W]
        if buf.device.type == "cpu" and self.stride == (1, 1, 1):
            return self._conv_by_taps(buf)
        return F.conv3d(buf, self.weight, self.bias, self.stride, self.space_pad)

    def _conv_by_taps(self, buf: Tensor) -> Tensor:
        """The same causal conv as a sum of 2-D convs, one per temporal tap.

        torch's CPU conv3d falls back to a slow unvectorised kernel; frames folded into the
        batch of conv2d take the fast path (measured 2.6-3.6x faster, same result to fp32
        rounding).
        """
        b, c, tp, h, w = buf.shape
        kt = self.weight.shape[2]
        t_out = tp - kt + 1
        pad = self.space_pad[1:]
        out: Optional[Tensor] = None
        for tap in range(kt):
            frames = buf[:, :, tap:tap + t_out].transpose(1, 2).reshape(b * t_out, c, h, w)  # [B*T, C, H, W]
            y = F.conv2d(frames, self.weight[:, :, tap], None, 1, pad)
            out = y if out is None else out.add_(y)
        assert out is not None
        if self.bias is not None:
            out.add_(self.bias[None, :, None, None])
        return out.reshape(b, t_out, -1, out.shape[-2], out.shape[-1]).transpose(1, 2)  # [B, C', T, H', W']


class RMSNorm(nn.Module):
    """``F.normalize`` over channels (dim 1) times ``sqrt(C) * gamma`` (Wan's ``RMS_norm``)."""

    def __init__(self, dim: int, images: bool = True) -> None:
        super().__init__()
        shape = (dim, 1, 1) if images else (dim, 1, 1, 1)
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones(shape))

    def forward(self, x: Tensor) -> Tensor:
        g = self.gamma.reshape((-1,) + (1,) * (x.dim() - 2))
        # = F.normalize(x, dim=1), written as a channel sum: the strided vector norm is slow on CPU
        norm = x.square().sum(dim=1, keepdim=True).sqrt_().clamp_min_(1e-12)
        return (x / norm).mul_(g * self.scale)


class ResidualBlock(nn.Module):
    """RMS -> SiLU -> conv3 -> RMS -> SiLU -> dropout -> conv3, plus a 1x1x1 shortcut."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            RMSNorm(in_dim, images=False), nn.SiLU(),
            CausalConv3d(in_dim, out_dim, 3, padding=1),
            RMSNorm(out_dim, images=False), nn.SiLU(), nn.Dropout(dropout),
            CausalConv3d(out_dim, out_dim, 3, padding=1))
        self.shortcut = CausalConv3d(in_dim, out_dim, 1) if in_dim != out_dim else nn.Identity()

    def forward(self, x: Tensor, cache: Optional[list[Optional[Tensor]]] = None) -> Tensor:
        r = self.residual
        h = self.shortcut(x)
        y = F.silu(r[0](x), inplace=True)
        y = r[2](y, cache)
        y = F.silu(r[3](y), inplace=True)
        y = r[5](y)
        y = r[6](y, cache)
        return y.add_(h)


class AttentionBlock(nn.Module):
    """Single-head self-attention over the pixels of each frame (no temporal mixing)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = RMSNorm(dim, images=True)
        self.to_qkv = nn.Conv2d(dim, dim * 3, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: Tensor, cache: Optional[list[Optional[Tensor]]] = None) -> Tensor:
        b, c, t, h, w = x.shape
        y = self.norm(x).permute(0, 2, 3, 4, 1).reshape(b, t, h * w, c)  # [B, T, HW, C]
        qkv = F.linear(y, self.to_qkv.weight.view(3 * c, c), self.to_qkv.bias)  # [B, T, HW, 3C]
        q, k, v = qkv.chunk(3, dim=-1)
        o = F.scaled_dot_product_attention(q, k, v)                            # [B, T, HW, C]
        o = F.linear(o, self.proj.weight.view(c, c), self.proj.bias)
        o = o.permute(0, 3, 1, 2).reshape(b, c, t, h, w)                       # [B, C, T, H, W]
        return o.add_(x)


class Resample(nn.Module):
    """2x spatial up/down sampling, with an optional 2x temporal step (``*3d`` modes)."""

    def __init__(self, dim: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        if mode in ("upsample2d", "upsample3d"):
            self.resample = nn.Sequential(nn.Upsample(scale_factor=(2.0, 2.0), mode="nearest-exact"),
                                          nn.Conv2d(dim, dim // 2, 3, padding=1))
        elif mode in ("downsample2d", "downsample3d"):
            self.resample = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(dim, dim, 3, stride=(2, 2)))
        else:
            raise ValueError(f"unknown resample mode {mode!r}")
        if mode == "upsample3d":
            self.time_conv = CausalConv3d(dim, dim * 2, (3, 1, 1), padding=(1, 0, 0))
        elif mode == "downsample3d":
            self.time_conv = CausalConv3d(dim, dim, (3, 1, 1), stride=(2, 1, 1), padding=(0, 0, 0))
        self.slot = -1  # downsample3d: cache slot of its last input frame

    def forward(self, x: Tensor, cache: Optional[list[Optional[Tensor]]] = None) -> Tensor:
        if self.mode == "upsample3d" and cache is not None:
            if cache[self.time_conv.slot] is None:
                # first frame of the stream: no temporal upsampling; history starts as zeros
                b, c, _, h, w = x.shape
                cache[self.time_conv.slot] = x.new_zeros((b, c, 0, h, w))
            else:
                b, c, t, h, w = x.shape
                y = self.time_conv(x, cache)                                 # [B, 2C, T, H, W]
                # the two C-channel halves are frames 2t and 2t+1
                x = y.view(b, 2, c, t, h, w).permute(0, 2, 3, 1, 4, 5).reshape(b, c, 2 * t, h, w)
        conv = self.resample[1]
        weight = conv.weight.unsqueeze(2)                                    # 2D kernel as (1, 3, 3)
        if self.mode.startswith("up"):
            x = F.interpolate(x, scale_factor=(1.0, 2.0, 2.0), mode="nearest-exact")
            x = F.conv3d(x, weight, conv.bias, 1, (0, 1, 1))                 # [B, C/2, T, 2H, 2W]
        else:
            x = F.pad(x, (0, 1, 0, 1))
            x = F.conv3d(x, weight, conv.bias, (1, 2, 2))                    # [B, C, T, H/2, W/2]
        if self.mode == "downsample3d" and cache is not None:
            prev = cache[self.slot]
            last = x[:, :, -1:].clone()
            if prev is not None:  # the stream's first frame passes without temporal downsampling
                x = self.time_conv(torch.cat([prev, x], dim=2))             # [B, C, T/2, H, W]
            cache[self.slot] = last
        return x


def _assign_slots(module: nn.Module) -> int:
    """Give every cached conv of ``module`` a fixed slot, in module order; returns the count."""
    n = 0
    for m in module.modules():
        if isinstance(m, CausalConv3d) and m.time_pad > 0:
            m.slot = n
            n += 1
        elif isinstance(m, Resample) and m.mode == "downsample3d":
            m.slot = n
            n += 1
    return n


class Encoder3d(nn.Module):
    def __init__(self, dim: int, z_dim: int, dim_mult: tuple[int, ...], num_res_blocks: int,
                 attn_scales: tuple[float, ...], temperal_downsample: tuple[bool, ...],
                 dropout: float) -> None:
        super().__init__()
        dims = [dim * u for u in (1,) + tuple(dim_mult)]
        scale = 1.0
        self.conv1 = CausalConv3d(3, dims[0], 3, padding=1)
        layers: list[nn.Module] = []
        for i, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:])):
            for _ in range(num_res_blocks):
                layers.append(ResidualBlock(in_dim, out_dim, dropout))
                if scale in attn_scales:
                    layers.append(AttentionBlock(out_dim))
                in_dim = out_dim
            if i != len(dim_mult) - 1:
                layers.append(Resample(out_dim, "downsample3d" if temperal_downsample[i] else "downsample2d"))
                scale /= 2.0
        self.downsamples = nn.Sequential(*layers)
        self.middle = nn.Sequential(ResidualBlock(out_dim, out_dim, dropout), AttentionBlock(out_dim),
                                    ResidualBlock(out_dim, out_dim, dropout))
        self.head = nn.Sequential(RMSNorm(out_dim, images=False), nn.SiLU(),
                                  CausalConv3d(out_dim, z_dim, 3, padding=1))
        self.num_slots = _assign_slots(self)

    def forward(self, x: Tensor, cache: list[Optional[Tensor]]) -> Tensor:
        x = self.conv1(x, cache)
        for layer in self.downsamples:
            x = layer(x, cache)
        for layer in self.middle:
            x = layer(x, cache)
        x = F.silu(self.head[0](x), inplace=True)
        return self.head[2](x, cache)


class Decoder3d(nn.Module):
    def __init__(self, dim: int, z_dim: int, dim_mult: tuple[int, ...], num_res_blocks: int,
                 attn_scales: tuple[float, ...], temperal_upsample: tuple[bool, ...],
                 dropout: float) -> None:
        super().__init__()
        dim_mult = tuple(dim_mult)
        dims = [dim * u for u in (dim_mult[-1],) + dim_mult[::-1]]
        scale = 1.0 / 2 ** (len(dim_mult) - 2)
        self.conv1 = CausalConv3d(z_dim, dims[0], 3, padding=1)
        self.middle = nn.Sequential(ResidualBlock(dims[0], dims[0], dropout), AttentionBlock(dims[0]),
                                    ResidualBlock(dims[0], dims[0], dropout))
        layers: list[nn.Module] = []
        for i, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:])):
            if i > 0:
                in_dim = in_dim // 2  # the previous upsampler halved the channels
            for _ in range(num_res_blocks + 1):
                layers.append(ResidualBlock(in_dim, out_dim, dropout))
                if scale in attn_scales:
                    layers.append(AttentionBlock(out_dim))
                in_dim = out_dim
            if i != len(dim_mult) - 1:
                layers.append(Resample(out_dim, "upsample3d" if temperal_upsample[i] else "upsample2d"))
                scale *= 2.0
        self.upsamples = nn.Sequential(*layers)
        self.head = nn.Sequential(RMSNorm(out_dim, images=False), nn.SiLU(),
                                  CausalConv3d(out_dim, 3, 3, padding=1))
        self.num_slots = _assign_slots(self)

    def forward(self, x: Tensor, cache: list[Optional[Tensor]]) -> Tensor:
        x = self.conv1(x, cache)
        for layer in self.middle:
            x = layer(x, cache)
        for layer in self.upsamples:
            x = layer(x, cache)
        x = F.silu(self.head[0](x), inplace=True)
        return self.head[2](x, cache)


# --------------------------------------------------------------------------------------
# The VAE
# --------------------------------------------------------------------------------------

class WanVAE(nn.Module):
    """Wan2.1 VAE: ``[B, 3, T, H, W]`` pixels in [-1, 1] <-> ``[B, z, T', H/8, W/8]`` latents.

    All methods run without autograd. Streams: ``state = vae.new_decode_state()`` then
    ``pixels, state = vae.decode_stream(z, state)`` per chunk (and likewise for encoding).
    Implements the engine's decoder protocol (:mod:`sfe_live.model.decoders.protocol`).
    """

    name = "wan"

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.encoder = Encoder3d(c.dim, c.z_dim * 2, c.dim_mult, c.num_res_blocks, c.attn_scales,
                                 c.temperal_downsample, c.dropout)
        self.conv1 = CausalConv3d(c.z_dim * 2, c.z_dim * 2, 1)
        self.conv2 = CausalConv3d(c.z_dim, c.z_dim, 1)
        self.decoder = Decoder3d(c.dim, c.z_dim, c.dim_mult, c.num_res_blocks, c.attn_scales,
                                 tuple(c.temperal_downsample[::-1]), c.dropout)

    # ---- bookkeeping -----------------------------------------------------------------

    @property
    def dtype(self) -> torch.dtype:
        return self.conv2.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.conv2.weight.device

    def _stats(self, ref: Tensor) -> tuple[Tensor, Tensor]:
        """Per-channel latents mean and std as ``[1, z, 1, 1, 1]`` on ``ref``'s device/dtype."""
        kw = dict(device=ref.device, dtype=ref.dtype)
        mean = torch.tensor(self.config.latents_mean, **kw).view(1, -1, 1, 1, 1)
        std = torch.tensor(self.config.latents_std, **kw).view(1, -1, 1, 1, 1)
        return mean, std

    def new_decode_state(self) -> VAEStreamState:
        return VAEStreamState("decode", [None] * self.decoder.num_slots)

    def new_encode_state(self) -> VAEStreamState:
        return VAEStreamState("encode", [None] * self.encoder.num_slots)

    def _check_state(self, state: VAEStreamState, kind: str, slots: int) -> None:
        if state.kind != kind or len(state.cache) != slots:
            raise ValueError(f"expected a {kind} state with {slots} cache slots, got a {state.kind} "
                             f"state with {len(state.cache)} (use new_{kind}_state())")

    # ---- decoding --------------------------------------------------------------------

    @torch.no_grad()
    def decode_stream(self, z: Tensor, state: VAEStreamState,
                      frames_per_call: int = 1) -> tuple[Tensor, VAEStreamState]:
        """Decode the next latent frames of a stream; updates ``state`` in place and returns it.

        ``z``: ``[B, z_dim, T, h, w]`` normalised latents. Returns unclamped pixels
        ``[B, 3, T', 8h, 8w]`` with ``T' = config.pixel_frames(T, not state.started)``.
        ``frames_per_call > 1`` runs the decoder on that many latent frames at once (same
        result, more memory); the stream's first latent frame always goes alone.
        """
        self._check_state(state, "decode", self.decoder.num_slots)
        if z.dim() != 5 or z.shape[1] != self.config.z_dim:
            raise ValueError(f"decode expects latents [B, {self.config.z_dim}, T, h, w], got {list(z.shape)}")
        b, _, t, h, w = z.shape
        f = self.config.spatial_factor
        if t == 0:
            return z.new_empty((b, 3, 0, h * f, w * f), dtype=self.dtype), state
        mean, std = self._stats(z)
        u = torch.addcmul(mean, z, std).to(self.dtype)                # [B, z, T, h, w] raw latents
        x = self.conv2(u)
        outs: list[Tensor] = []
        i = 0
        while i < t:
            n = 1 if state.latent_frames == 0 else max(1, min(frames_per_call, t - i))
            outs.append(self.decoder(x[:, :, i:i + n], state.cache))  # [B, 3, 1 or 4n, H, W]
            state.latent_frames += n
            i += n
        pixels = outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)  # [B, 3, T', H, W]
        state.pixel_frames += pixels.shape[2]
        return pixels, state

    def decode(self, z: Tensor, frames_per_call: int = 1) -> Tensor:
        """Full-clip decode (fresh stream): ``[B, z, T, h, w]`` -> ``[B, 3, 1 + 4(T-1), H, W]``."""
        pixels, _ = self.decode_stream(z, self.new_decode_state(), frames_per_call)
        return pixels

    def forward(self, z: Tensor) -> Tensor:
        return self.decode(z)

    # ---- encoding --------------------------------------------------------------------

    @torch.no_grad()
    def encode_stream(self, pixels: Tensor, state: VAEStreamState) -> tuple[Tensor, VAEStreamState]:
        """Encode the next pixel frames of a stream; updates ``state`` in place and returns it.

        ``pixels``: ``[B, 3, T, H, W]`` in [-1, 1], any ``T``. The stream's first frame is
        encoded alone (-> 1 latent), then every full group of 4 frames (-> 1 latent each);
        up to 3 leftover frames wait in ``state.pending``. Returns normalised latents
        ``[B, z_dim, T', H/8, W/8]`` (``T'`` may be 0).
        """
        self._check_state(state, "encode", self.encoder.num_slots)
        if pixels.dim() != 5 or pixels.shape[1] != 3:
            raise ValueError(f"encode expects pixels [B, 3, T, H, W], got {list(pixels.shape)}")
        x = pixels.to(self.dtype)
        if state.pending is not None:
            x = torch.cat([state.pending, x], dim=2)
            state.pending = None
        b, _, t, h, w = x.shape
        outs: list[Tensor] = []
        i = 0
        if state.pixel_frames == 0 and t > 0:
            outs.append(self.encoder(x[:, :, :1], state.cache))       # [B, 2z, 1, h, w]
            i = 1
        tf = self.config.temporal_factor
        while t - i >= tf:
            outs.append(self.encoder(x[:, :, i:i + tf], state.cache))  # [B, 2z, 1, h, w]
            i += tf
        state.pixel_frames += i
        if i < t:
            state.pending = x[:, :, i:].clone()                         # [B, 3, <tf, H, W]
        f = self.config.spatial_factor
        zd = self.config.z_dim
        if not outs:
            return x.new_empty((b, zd, 0, -(-h // f), -(-w // f))), state
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)
        # only the mu half of conv1 is needed
        mu = F.conv3d(out, self.conv1.weight[:zd], self.conv1.bias[:zd])  # [B, z, T', h, w]
        mean, std = self._stats(mu)
        mu = mu.sub_(mean).div_(std)
        state.latent_frames += mu.shape[2]
        return mu, state

    def encode(self, pixels: Tensor) -> Tensor:
        """Full-clip encode (fresh stream): ``[B, 3, 1 + 4k, H, W]`` -> ``[B, z, 1 + k, H/8, W/8]``."""
        t = pixels.shape[2] if pixels.dim() == 5 else -1
        tf = self.config.temporal_factor
        if t < 1 or (t - 1) % tf:
            raise ValueError(f"encode expects 1 + {tf}k pixel frames [B, 3, T, H, W], got {list(pixels.shape)}")
        mu, _ = self.encode_stream(pixels, self.new_encode_state())
        return mu

    # ---- engine-boundary helpers ([B, T, C, H, W] latents, uint8 frames) --------------

    def decode_to_frames(self, latents: Tensor, state: VAEStreamState,
                         frames_per_call: int = 1) -> tuple[Tensor, VAEStreamState]:
        """Pipeline layout in, display frames out.

        ``latents``: ``[B, T, z, h, w]`` normalised. Returns ``uint8 [B, T', H, W, 3]``.
        """
        pixels, state = self.decode_stream(to_vae_layout(latents), state, frames_per_call)
        return pixels_to_uint8(pixels), state

    def encode_frames(self, frames: Tensor, state: VAEStreamState) -> tuple[Tensor, VAEStreamState]:
        """``uint8 [B, T, H, W, 3]`` (or ``[T, H, W, 3]``) frames in, ``[B, T', z, h, w]`` latents out."""
        mu, state = self.encode_stream(uint8_to_pixels(frames, self.dtype), state)
        return from_vae_layout(mu), state


# --------------------------------------------------------------------------------------
# Layout and pixel helpers
# --------------------------------------------------------------------------------------

def to_vae_layout(latents: Tensor) -> Tensor:
    """Pipeline ``[B, T, C, H, W]`` -> VAE ``[B, C, T, H, W]`` (a view)."""
    return latents.transpose(1, 2)


def from_vae_layout(x: Tensor) -> Tensor:
    """VAE ``[B, C, T, H, W]`` -> pipeline ``[B, T, C, H, W]`` (a view)."""
    return x.transpose(1, 2)


def pixels_to_uint8(pixels: Tensor) -> Tensor:
    """``[B, 3, T, H, W]`` (or ``[3, T, H, W]``) in about [-1, 1] -> ``uint8 [B, T, H, W, 3]``
    (or ``[T, H, W, 3]``): clamp to [-1, 1], ``* 0.5 + 0.5``, ``* 255``, rounded. Stays on the
    tensor's device (convert before copying to the host: 4x less data)."""
    if pixels.dim() == 4:
        return pixels_to_uint8(pixels.unsqueeze(0))[0]
    if pixels.dim() != 5 or pixels.shape[1] != 3:
        raise ValueError(f"expected pixels [B, 3, T, H, W], got {list(pixels.shape)}")
    y = pixels.float().clamp(-1.0, 1.0).mul_(0.5).add_(0.5).mul_(255.0).round_()
    return y.to(torch.uint8).permute(0, 2, 3, 4, 1).contiguous()      # [B, T, H, W, 3]


def uint8_to_pixels(frames: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """``uint8 [B, T, H, W, 3]`` (or ``[T, H, W, 3]``) -> ``[B, 3, T, H, W]`` in [-1, 1]."""
    if frames.dim() == 4:
        frames = frames.unsqueeze(0)
    if frames.dim() != 5 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames [B, T, H, W, 3], got {list(frames.shape)}")
    x = frames.permute(0, 4, 1, 2, 3).to(dtype=torch.float32, memory_format=torch.contiguous_format)
    return x.div_(127.5).sub_(1.0).to(dtype)


# --------------------------------------------------------------------------------------
# Random init (tests, the built-in tiny-random model)
# --------------------------------------------------------------------------------------

@torch.no_grad()
def random_vae(config: VAEConfig, seed: int = 0, device: _DeviceLike = "cpu",
               dtype: torch.dtype = torch.float32) -> WanVAE:
    """A seeded random-init :class:`WanVAE` (same seed -> same weights on any machine).

    Conv / linear weights ~ N(0, 1/fan_in), biases ~ N(0, 0.05^2), RMS gammas ~ 1 + N(0, 0.1^2)
    (the fixture's recipe); the decoder's output conv is scaled so decoded pixels mostly
    fall inside [-1, 1] and carry visible structure.
    """
    with torch.device("meta"):
        vae = WanVAE(config)
    vae.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(int(seed))
    for name, p in vae.named_parameters():  # module order: deterministic
        if name.endswith(".gamma"):
            p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
        elif name.endswith(".bias"):
            p.copy_(0.05 * torch.randn(p.shape, generator=gen))
        else:
            fan_in = p[0].numel()
            p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
    vae.decoder.head[2].weight.mul_(0.6)  # pixel std ~0.3, ~99% inside [-1, 1]
    vae.decoder.head[2].bias.zero_()
    vae.to(device=device, dtype=dtype)
    vae.eval().requires_grad_(False)
    return vae
