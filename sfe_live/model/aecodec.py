"""A small learned autoencoder codec (the built-in VJ model's decoder).

Per frame (temporal factor 1, no memory between frames): an ``f x f`` pixel tile becomes one
latent cell of ``z_dim`` channels (``f`` = 8: 96 x 96 pixels <-> 12 x 12 x 16 latents), with a
frozen per-channel normalisation so the DiT sees roughly unit-variance latents. The encoder and
decoder are plain convolution stacks; the decoder ends in a pixel shuffle so its cost at full
size stays small (about 0.3 GFLOP a frame to decode at 96 x 96, 0.15 to encode). It is trained once on the VJ world
(:mod:`sfe_live.vj.train_codec`) and frozen before the DiT is trained on its latents.

It implements the engine's decoder protocol (:mod:`sfe_live.model.decoders.protocol`), like the
Wan VAE, TAEHV and the pixel codec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from sfe_live.model.codec import PerFrameCodec, PerFrameGeometry


@dataclass(frozen=True)
class AECodecConfig(PerFrameGeometry):
    """Geometry and widths of the learned codec (every size derived from these)."""

    kind: str = "ae"
    factor: int = 8                # pixels per latent cell on each side (3 stride-2 stages)
    z_dim: int = 16                # latent channels
    width: int = 64                # channels of the middle stages (the outer ones are derived)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AECodecConfig":
        cfg = cls(**cls.known_fields(d))
        if cfg.factor != 8 or not (1 <= cfg.z_dim <= 256) or not (8 <= cfg.width <= 512):
            raise ValueError(f"unsupported learned codec geometry: factor {cfg.factor} (needs 8), "
                             f"z_dim {cfg.z_dim}, width {cfg.width}")
        return cfg


def _act() -> nn.Module:
    return nn.SiLU()


class AECodec(PerFrameCodec, nn.Module):
    """uint8 frames <-> normalised latents ``[B, T, z, H/8, W/8]``."""

    name = "ae"

    def __init__(self, config: AECodecConfig = AECodecConfig()) -> None:
        super().__init__()
        self.config = config
        w, z = config.width, config.z_dim
        w2, w1 = w * 3 // 2, w // 2                                   # 96, 32 at width 64
        self.encoder = nn.Sequential(                                  # [N, 3, H, W] in [-1, 1]
            nn.Conv2d(3, w1, 4, 2, 1), _act(),                         # H/2
            nn.Conv2d(w1, w, 4, 2, 1), _act(),                         # H/4
            nn.Conv2d(w, w, 3, 1, 1), _act(),
            nn.Conv2d(w, w2, 4, 2, 1), _act(),                         # H/8
            nn.Conv2d(w2, w2, 3, 1, 1), _act(),
            nn.Conv2d(w2, z, 3, 1, 1))                                 # [N, z, H/8, W/8]
        self.decoder = nn.Sequential(
            nn.Conv2d(z, w2, 3, 1, 1), _act(),
            nn.Conv2d(w2, w2, 3, 1, 1), _act(),
            nn.Upsample(scale_factor=2, mode="nearest"),               # H/4
            nn.Conv2d(w2, w, 3, 1, 1), _act(),
            nn.Conv2d(w, w, 3, 1, 1), _act(),
            nn.Upsample(scale_factor=2, mode="nearest"),               # H/2
            nn.Conv2d(w, w, 3, 1, 1), _act(),
            nn.Conv2d(w, 12, 3, 1, 1),
            nn.PixelShuffle(2))                                        # [N, 3, H, W]
        self.register_buffer("z_mean", torch.zeros(z))
        self.register_buffer("z_std", torch.ones(z))

    @property
    def dtype(self) -> torch.dtype:
        return self.z_mean.dtype

    @property
    def device(self) -> torch.device:
        return self.z_mean.device

    # -- tensors in [-1, 1] ------------------------------------------------------------------
    def raw_encode(self, pixels: Tensor) -> Tensor:
        """``[N, 3, H, W]`` in [-1, 1] -> un-normalised latents ``[N, z, H/8, W/8]``."""
        f = self.config.factor
        if pixels.shape[-1] % f or pixels.shape[-2] % f:
            raise ValueError(f"frame {pixels.shape[-1]}x{pixels.shape[-2]} is not a multiple of the codec factor {f}")
        return self.encoder(pixels)

    def pixels_to_latents(self, pixels: Tensor) -> Tensor:
        """``[B, T, 3, H, W]`` in [-1, 1] -> ``[B, T, z, H/8, W/8]`` (normalised)."""
        b, t = pixels.shape[:2]
        z = self.raw_encode(pixels.flatten(0, 1).to(self.dtype))
        z = (z - self.z_mean[:, None, None]) / self.z_std[:, None, None]
        return z.unflatten(0, (b, t))

    def latents_to_pixels(self, latents: Tensor) -> Tensor:
        """``[B, T, z, h, w]`` (normalised) -> ``[B, T, 3, 8h, 8w]`` (unclamped, [-1, 1] range)."""
        if latents.shape[2] != self.config.z_dim:
            raise ValueError(f"codec expects {self.config.z_dim} latent channels, got {latents.shape[2]}")
        b, t = latents.shape[:2]
        z = latents.flatten(0, 1) * self.z_std[:, None, None] + self.z_mean[:, None, None]
        return self.decoder(z).unflatten(0, (b, t))

    def decode_pixels(self, latents: Tensor) -> Tensor:
        """What :class:`PerFrameCodec` decodes (``[B, T, z, h, w]`` -> pixels)."""
        return self.latents_to_pixels(latents.to(self.dtype))
