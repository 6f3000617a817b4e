"""The one explicit session state of a stream, and the live parameters that steer it.

``SessionState`` holds everything a stream carries from block to block: the self-attention
``KVCache``, the current conditioning (prompt, embeddings, cross-attention K/V), a blend in
progress, the VAE decode (and v2v encode) stream states, the clean latents of the cached
frames (for re-caching), counters and the seed. The pipeline takes it in and gives it
back; nothing hides state on modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from sfe_live.model.cache import CrossKV, KVCache
from sfe_live.model.decoders.protocol import StreamState


def block_seed(seed: int, block_index: int) -> int:
    """The noise seed of one block: depends only on the session seed and the block index."""
    return (int(seed) * 0x9E3779B97F4A7C15 + int(block_index) * 0xBF58476D1CE4E5B9 + 1) % (2 ** 63)


@dataclass
class Conditioning:
    prompt: str
    embeds: torch.Tensor          # [1, text_len, text_dim]
    cross: CrossKV


@dataclass
class Blend:
    """Interpolating the text conditioning from ``src`` to ``dst`` over ``blocks`` blocks."""

    src: torch.Tensor             # [1, text_len, text_dim]
    dst: Conditioning
    blocks: int
    mode: str = "linear"
    done: int = 0


@dataclass
class LiveParams:
    """Continuous values, applied at block edges (latest wins)."""

    memory: float = 1.0
    noise_scale: float = 1.0
    steps: tuple[int, ...] = (1000, 750, 500, 250)
    reactivity: int = 3                         # default purge strength 0..MAX_STRENGTH
    purge_mode: str = "full"                    # default purge mode (commands.PURGE_MODES)
    v2v_amount: float = 0.0                     # video-to-video amount 0..1 (0 = text-to-video)
    drift_guard: bool = False
    drift_strength: int = 1
    drift_threshold: float = 0.35
    seed_locked: bool = False


@dataclass(frozen=True)
class PendingPurge:
    """A purge due in the next block: its strength (0..MAX_STRENGTH) and mode."""

    strength: int
    mode: str = "full"


DRIFT_SETTLE_BLOCKS = 4     # blocks left to settle after a (re)start: a purged or new stream looks softer at first
DRIFT_BASELINE_BLOCKS = 8   # blocks then averaged into the reference (about 1.5 s at 16 fps)
DRIFT_SMOOTH_BLOCKS = 8     # time constant, in blocks, of the average compared with the reference


@dataclass
class DriftState:
    """The drift guard's memory: a reference look and a running average of the current one.

    Each block's statistics (saturation, contrast, high-frequency energy) enter an exponential
    average over about ``DRIFT_SMOOTH_BLOCKS`` blocks, and the guard compares that average with
    the reference, not the block itself: a pulse, a strobe or a beat-synced flash changes single
    blocks by far more than the threshold and is what the performer asked for, while drift (the
    picture fading, washing out or going to mush) lasts. The reference is taken only after
    ``DRIFT_SETTLE_BLOCKS``: the first blocks after a purge are softer than what follows, and a
    reference taken from them made the guard purge again as soon as the detail came back, a loop.
    """

    baseline: Optional[torch.Tensor] = None     # [3] saturation, contrast, high-frequency energy
    smoothed: Optional[torch.Tensor] = None     # [3] the running average of the same
    blocks_seen: int = 0
    last: Optional[list[float]] = None
    deviation: float = 0.0
    triggers: int = 0

    def rebase(self) -> None:
        """Forget the reference (after a purge or a new prompt, whose look may differ by intent)."""
        self.baseline, self.smoothed, self.blocks_seen, self.deviation = None, None, 0, 0.0

    def update(self, stats: list[float]) -> float:
        """Take one block's statistics; return the relative deviation of the running average from the
        reference (largest over the three; 0 while the reference is still being averaged)."""
        cur = torch.tensor(stats, dtype=torch.float64)
        self.last = stats
        self.blocks_seen += 1
        n = self.blocks_seen - DRIFT_SETTLE_BLOCKS          # blocks into the reference
        self.deviation = 0.0
        if n <= 0:
            return 0.0
        if n <= DRIFT_BASELINE_BLOCKS or self.baseline is None:
            self.baseline = cur if self.baseline is None else self.baseline + (cur - self.baseline) / n
            return 0.0
        if self.smoothed is None:                            # the average starts from the reference
            self.smoothed = self.baseline.clone()
        self.smoothed += (cur - self.smoothed) / DRIFT_SMOOTH_BLOCKS
        self.deviation = float(((self.smoothed - self.baseline).abs() / self.baseline.abs().clamp_min(1e-3)).max())
        return self.deviation


@dataclass
class SessionState:
    kv: KVCache
    vae: StreamState                            # the decoder's decode stream state
    cond: Conditioning
    seed: int
    enc: Optional[StreamState] = None           # the decoder's v2v encode stream, created on demand
    blend: Optional[Blend] = None
    block_index: int = 0                        # blocks generated so far (the next block's index)
    latent_frame: int = 0                       # absolute index of the next latent frame
    pixel_frames: int = 0
    frame_latents: dict[int, torch.Tensor] = field(default_factory=dict)  # frame id -> [1, 1, C, h, w]
    pending_purge: Optional[PendingPurge] = None  # a purge due in the next block
    pending_recache: bool = False
    drift: DriftState = field(default_factory=DriftState)
    purges: int = 0
    recaches: int = 0
