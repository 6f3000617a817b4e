"""The engine's one decoder seam: latents <-> display frames with an explicit stream state.

Three implementations: the Wan VAE (:class:`sfe_live.model.vae.WanVAE`), TAEHV
(:class:`sfe_live.model.decoders.taehv.TAEHV`) and the demo's pixel codec
(:class:`sfe_live.model.codec.PixelCodec`). The engine calls nothing else on them.

* ``new_decode_state()`` / ``new_encode_state()`` -- a fresh stream (this is also "reset": the
  engine throws the old state away);
* ``decode_to_frames(latents [B, T, z, h, w], state) -> (uint8 [B, T', H, W, 3], state)`` with
  ``T' = config.pixel_frames(T, first_in_stream)``;
* ``encode_frames(uint8 [B, T, H, W, 3], state) -> (latents [B, T', z, h, w], state)`` for
  video-to-video; ``config.pixel_frames(n, first)`` frames give ``n`` latents;
* ``config`` -- the latent geometry (:class:`LatentGeometry`).

A state is a plain object the caller owns (it survives purges, prompt switches, re-anchoring
and re-caching untouched: only a new stream replaces it); ``nbytes()`` is its memory and
``clone()`` a deep copy.
"""

from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable

import torch
from torch import Tensor

from sfe_live.config import LatentGeometry

__all__ = ["DECODERS", "LatentGeometry", "StreamState", "VideoDecoder"]


@runtime_checkable
class StreamState(Protocol):
    """What the engine may ask of any decoder's stream state."""

    kind: str                      # "decode" | "encode"
    latent_frames: int             # latent frames through the stream so far
    pixel_frames: int              # pixel frames through the stream so far

    def nbytes(self) -> int: ...

    def clone(self) -> "StreamState": ...


@runtime_checkable
class VideoDecoder(Protocol):
    """The typed decoder protocol (see the module docstring)."""

    name: str                      # "wan" | "taehv" | "pixel"

    @property
    def config(self) -> LatentGeometry: ...

    @property
    def dtype(self) -> torch.dtype: ...

    @property
    def device(self) -> torch.device: ...

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]: ...

    def new_decode_state(self) -> StreamState: ...

    def new_encode_state(self) -> StreamState: ...

    def decode_to_frames(self, latents: Tensor, state: StreamState) -> tuple[Tensor, StreamState]: ...

    def encode_frames(self, frames: Tensor, state: StreamState) -> tuple[Tensor, StreamState]: ...


DECODERS = ("wan", "taehv")   # what --decoder chooses between for Wan 2.1 latents
