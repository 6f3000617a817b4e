"""A fixed pixel codec for the demo model: space-to-depth, no learned weights.

The demo DiT works on "latents" that are the pixels themselves, rearranged: an ``f x f``
pixel tile becomes ``3 f^2`` channels (space-to-depth), one latent frame per pixel frame
(temporal factor 1), normalised by a fixed mean and std. Decoding is the exact inverse, so
the codec is lossless up to uint8 rounding and costs microseconds, which is what a 2-core
CPU needs for >= 16 fps (a Wan VAE of any useful size decodes slower than that here).

It implements the engine's decoder protocol (:mod:`sfe_live.model.decoders.protocol`), like
the Wan VAE and TAEHV.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn


class PerFrameGeometry:
    """The latent geometry every per-frame codec shares (this pixel codec, the learned codec of
    :mod:`sfe_live.model.aecodec`): ``factor`` pixels per latent cell on each side, one latent frame
    per pixel frame. Mixed into frozen dataclasses that define ``factor``."""

    factor: int

    @property
    def spatial_factor(self) -> int:
        return self.factor

    @property
    def temporal_factor(self) -> int:
        return 1

    def pixel_frames(self, latent_frames: int, first_in_stream: bool) -> int:
        return max(0, int(latent_frames))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def known_fields(cls, d: dict[str, Any]) -> dict[str, Any]:
        """``d`` without the keys this config does not have (older/newer files load)."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return {k: v for k, v in d.items() if k in known}


@dataclass(frozen=True)
class PixelCodecConfig(PerFrameGeometry):
    """Space-to-depth codec: ``factor`` pixels per latent cell on each side, fixed normalisation."""

    kind: str = "pixel"
    factor: int = 4
    mean: float = -0.5           # latent = (pixel in [-1, 1] - mean) / std
    std: float = 0.5
    project_rank: int = 0        # > 0: decoding projects each latent cell onto this many principal
                                 # components of the world's cells (removes most of the residual
                                 # noise a 4-step sampler leaves); the basis is the codec's only weight

    @property
    def z_dim(self) -> int:
        return 3 * self.factor * self.factor

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PixelCodecConfig":
        return cls(**cls.known_fields(d))


@dataclass
class CodecState:
    """Stream counters (the codec itself has no memory between frames)."""

    kind: str
    latent_frames: int = 0
    pixel_frames: int = 0

    @property
    def started(self) -> bool:
        return self.latent_frames > 0

    def nbytes(self) -> int:
        """The codec remembers no tensors."""
        return 0

    def clone(self) -> "CodecState":
        return CodecState(self.kind, self.latent_frames, self.pixel_frames)


class PerFrameCodec:
    """The engine's decoder protocol for a codec with no memory between frames (this pixel codec
    and the learned codec): subclasses give ``decode_pixels`` (latents -> pixels in [-1, 1]),
    ``pixels_to_latents`` and ``dtype``; the stream state only counts frames."""

    dtype: torch.dtype

    def decode_pixels(self, latents: Tensor) -> Tensor:
        raise NotImplementedError

    def pixels_to_latents(self, pixels: Tensor) -> Tensor:
        raise NotImplementedError

    def new_decode_state(self) -> CodecState:
        return CodecState("decode")

    def new_encode_state(self) -> CodecState:
        return CodecState("encode")

    @torch.no_grad()
    def decode_to_frames(self, latents: Tensor, state: CodecState) -> tuple[Tensor, CodecState]:
        """``[B, T, C, h, w]`` latents -> ``uint8 [B, T, H, W, 3]``."""
        px = self.decode_pixels(latents)
        y = px.float().clamp(-1.0, 1.0).mul(127.5).add(127.5).round().to(torch.uint8)
        state.latent_frames += latents.shape[1]
        state.pixel_frames += latents.shape[1]
        return y.permute(0, 1, 3, 4, 2).contiguous(), state

    @torch.no_grad()
    def encode_frames(self, frames: Tensor, state: CodecState) -> tuple[Tensor, CodecState]:
        """``uint8 [B, T, H, W, 3]`` (or ``[T, H, W, 3]``) -> ``[B, T, C, h, w]`` latents."""
        if frames.dim() == 4:
            frames = frames.unsqueeze(0)
        px = frames.permute(0, 1, 4, 2, 3).float().div(127.5).sub(1.0)
        z = self.pixels_to_latents(px).to(self.dtype)
        state.latent_frames += z.shape[1]
        state.pixel_frames += z.shape[1]
        return z, state


class PixelCodec(PerFrameCodec, nn.Module):
    """uint8 frames <-> normalised space-to-depth latents ``[B, T, 3 f^2, H/f, W/f]``."""

    name = "pixel"

    def __init__(self, config: PixelCodecConfig = PixelCodecConfig()) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("_ref", torch.zeros(()), persistent=False)
        r = max(0, int(config.project_rank))
        self.register_buffer("basis_mean", torch.zeros(config.z_dim))
        self.register_buffer("basis", torch.zeros(config.z_dim, r))

    def project(self, latents: Tensor) -> Tensor:
        """Keep each cell's component in the principal subspace (identity when rank is 0)."""
        if self.basis.shape[1] == 0:
            return latents
        b = self.basis.to(latents.dtype)
        m = self.basis_mean.to(latents.dtype)[:, None, None]
        x = latents - m
        coef = torch.einsum("btchw,ck->btkhw", x, b)
        return torch.einsum("btkhw,ck->btchw", coef, b) + m

    def fit_basis(self, latents: Tensor) -> float:
        """Fit the projection from clean latents ``[N, C, h, w]``; returns the explained variance."""
        v = latents.permute(0, 2, 3, 1).reshape(-1, self.config.z_dim).double()
        mu = v.mean(0)
        _, s, vh = torch.linalg.svd(v - mu, full_matrices=False)
        r = self.basis.shape[1]
        self.basis_mean.copy_(mu.float())
        self.basis.copy_(vh[:r].T.float())
        return float((s[:r] ** 2).sum() / (s ** 2).sum())

    @property
    def dtype(self) -> torch.dtype:
        return self._ref.dtype

    @property
    def device(self) -> torch.device:
        return self._ref.device

    # -- tensors in [-1, 1] ------------------------------------------------------------------
    def pixels_to_latents(self, pixels: Tensor) -> Tensor:
        """``[B, T, 3, H, W]`` in [-1, 1] -> ``[B, T, 3 f^2, H/f, W/f]``."""
        f = self.config.factor
        b, t, c, h, w = pixels.shape
        if h % f or w % f:
            raise ValueError(f"frame {w}x{h} is not a multiple of the codec factor {f}")
        x = pixels.reshape(b * t, c, h, w)
        z = torch.nn.functional.pixel_unshuffle(x, f).reshape(b, t, c * f * f, h // f, w // f)
        return (z - self.config.mean) / self.config.std

    def latents_to_pixels(self, latents: Tensor) -> Tensor:
        """``[B, T, 3 f^2, h, w]`` -> ``[B, T, 3, f h, f w]`` (unclamped)."""
        f = self.config.factor
        b, t, c, h, w = latents.shape
        if c != self.config.z_dim:
            raise ValueError(f"codec expects {self.config.z_dim} latent channels, got {c}")
        x = (latents * self.config.std + self.config.mean).reshape(b * t, c, h, w)
        return torch.nn.functional.pixel_shuffle(x, f).reshape(b, t, 3, h * f, w * f)

    def decode_pixels(self, latents: Tensor) -> Tensor:
        """What :class:`PerFrameCodec` decodes: the projected latents as pixels."""
        return self.latents_to_pixels(self.project(latents.float()))

    # VAE-layout streaming calls ([B, C, T, h, w] latents, [B, 3, T, H, W] pixels in [-1, 1])
    @torch.no_grad()
    def decode_stream(self, z: Tensor, state: CodecState, frames_per_call: int = 1) -> tuple[Tensor, CodecState]:
        px = self.latents_to_pixels(self.project(z.transpose(1, 2))).transpose(1, 2)
        state.latent_frames += z.shape[2]
        state.pixel_frames += z.shape[2]
        return px, state

    @torch.no_grad()
    def encode_stream(self, pixels: Tensor, state: CodecState) -> tuple[Tensor, CodecState]:
        z = self.pixels_to_latents(pixels.transpose(1, 2)).transpose(1, 2)
        state.latent_frames += z.shape[2]
        state.pixel_frames += z.shape[2]
        return z, state
