"""Attention caches of the causal DiT, as explicit state objects owned by the caller.

``KVCache`` holds the self-attention K (already rotated) and V of the frames in the
rolling window, for every layer, in preallocated buffers. Its rules follow the
reference's (see the fixture README, section 1.6): a block's denoising calls attend over
the committed frames plus the block's own fresh K/V written into scratch slots right after
them; the t = 0 context pass then *commits* the block (``commit``). Eviction keeps the
first ``sink_frames`` frames and drops the oldest others (``make_room``), once per block.

Positions: each cached frame remembers its temporal RoPE position. ``reanchor`` moves the
non-sink frames down to contiguous positions right after the sink, rotating their cached
keys in place, whenever the next block would cross the position horizon; so the positions
the model sees stay within the trained horizon forever, and the first ``horizon`` frames
of a stream see exactly the reference's absolute positions.

``CrossKV`` holds the cross-attention K/V of one prompt for every layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch

from sfe_live.model.rope import RopeTables, shift_frames


@dataclass
class CrossKV:
    """Cross-attention K/V of one context for every layer: each [B, L_ctx, N, D].

    ``bias`` ([B, 1, 1, L_ctx] or None) is added to the attention logits: the all-zero padding
    rows of a prompt all give the same K/V, so they are kept as one row whose logit carries
    log(number of padding rows) - the same softmax, a fraction of the work.
    """

    k: list[torch.Tensor]
    v: list[torch.Tensor]
    bias: Optional[torch.Tensor] = None

    def clone(self) -> "CrossKV":
        return CrossKV([t.clone() for t in self.k], [t.clone() for t in self.v],
                       None if self.bias is None else self.bias.clone())


@dataclass
class KVCache:
    """Self-attention K/V of the frames in the window, for every layer."""

    k: list[torch.Tensor]              # per layer [B, window_frames * tokens_per_frame, N, D]
    v: list[torch.Tensor]
    tokens_per_frame: int
    window_frames: int
    sink_frames: int
    frame_positions: list[int] = field(default_factory=list)  # temporal position of each cached frame
    frame_ids: list[int] = field(default_factory=list)        # caller's id (absolute index) of each cached frame
    global_end: int = 0                # tokens ever committed since the stream (or last purge) began
    evicted_frames: int = 0            # frames dropped by the rolling window so far
    reanchors: int = 0                 # how many times positions were moved down

    @classmethod
    def empty(cls, num_layers: int, batch: int, window_frames: int, tokens_per_frame: int,
              num_heads: int, head_dim: int, sink_frames: int = 0,
              device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> "KVCache":
        cap = window_frames * tokens_per_frame
        shape = (batch, cap, num_heads, head_dim)  # [B, cap, N, D]
        k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        return cls(k, v, tokens_per_frame, window_frames, sink_frames)

    # -- sizes ---------------------------------------------------------------------------
    @property
    def cached_frames(self) -> int:
        return len(self.frame_positions)

    @property
    def valid_tokens(self) -> int:
        return self.cached_frames * self.tokens_per_frame

    @property
    def capacity_tokens(self) -> int:
        return self.window_frames * self.tokens_per_frame

    def next_position(self) -> int:
        return self.frame_positions[-1] + 1 if self.frame_positions else 0

    def block_positions(self, n_frames: int) -> torch.Tensor:
        start = self.next_position()
        return torch.arange(start, start + n_frames, dtype=torch.int64)

    # -- block-level operations (called by the engine between DiT calls) ------------------
    def make_room(self, n_frames: int) -> int:
        """Evict the oldest non-sink frames so that ``n_frames`` more fit; returns frames evicted."""
        if n_frames + self.sink_frames > self.window_frames:
            raise ValueError(f"a block of {n_frames} frames does not fit a window of "
                             f"{self.window_frames} frames with {self.sink_frames} sink frames")
        evict = self.cached_frames + n_frames - self.window_frames
        if evict <= 0:
            return 0
        tpf = self.tokens_per_frame
        sink = min(self.sink_frames, self.cached_frames)
        src0, dst0, end = (sink + evict) * tpf, sink * tpf, self.valid_tokens
        keep = end - src0
        if keep > 0:
            for buf in (*self.k, *self.v):
                buf[:, dst0:dst0 + keep] = buf[:, src0:end].clone()
        del self.frame_positions[sink:sink + evict]
        del self.frame_ids[sink:sink + evict]
        self.evicted_frames += evict
        return evict

    def reanchor(self, tables: RopeTables, horizon: int, n_frames: int, pairs_f: int) -> bool:
        """Move positions down if the next ``n_frames`` would reach ``horizon``; True if moved."""
        if self.next_position() + n_frames <= horizon:
            return False
        sink = min(self.sink_frames, self.cached_frames)
        base = self.frame_positions[sink - 1] + 1 if sink else 0
        new = self.frame_positions[:sink] + list(range(base, base + self.cached_frames - sink))
        next_pos = new[-1] + 1 if new else 0
        if next_pos + n_frames > horizon:
            raise ValueError(f"window of {self.cached_frames} frames + block of {n_frames} exceeds the "
                             f"position horizon {horizon}; use a smaller kv_window")
        delta = torch.tensor([n - o for n, o in zip(new, self.frame_positions)], dtype=torch.int64)
        if bool((delta != 0).any()):
            tok_delta = delta.repeat_interleave(self.tokens_per_frame)       # [valid_tokens]
            vt = self.valid_tokens
            for i, buf in enumerate(self.k):
                self.k[i][:, :vt] = shift_frames(buf[:, :vt], tables, tok_delta.to(buf.device), pairs_f)
        self.frame_positions = new
        self.reanchors += 1
        return True

    def commit(self, positions: torch.Tensor, ids: Optional[list[int]] = None) -> None:
        """Make the block whose K/V sit in the scratch slots part of the cache."""
        n = int(positions.shape[0])
        if self.cached_frames + n > self.window_frames:
            raise RuntimeError("commit without make_room: the window is full")
        self.frame_positions.extend(int(p) for p in positions)
        self.frame_ids.extend(ids if ids is not None else [-1] * n)
        self.global_end += n * self.tokens_per_frame

    def truncate(self, frames: int) -> None:
        """Keep only the first ``frames`` cached frames (e.g. the sink, before a re-cache)."""
        del self.frame_positions[frames:]
        del self.frame_ids[frames:]

    def clear(self) -> None:
        """Purge: forget every cached frame (buffers are reused, not reallocated)."""
        self.frame_positions = []
        self.frame_ids = []
        self.global_end = 0

    def purge(self, mode: str = "full") -> list[int]:
        """Forget cached frames: ``full`` all, ``keep-sink`` all but the sink, ``keep-last`` all but
        the sink and the newest frame (an "∞-RoPE KV flush": the new prompt takes over at once and
        the picture keeps its last frame to continue from). Kept frames keep their positions and
        ids and move to the buffer's start; returns the indices (before the purge) that stayed."""
        n = self.cached_frames
        sink = min(self.sink_frames, n)
        if mode == "full":
            keep: list[int] = []
        elif mode == "keep-sink":
            keep = list(range(sink))
        elif mode == "keep-last":
            keep = list(range(sink)) + ([n - 1] if n > sink else [])
        else:
            raise ValueError(f"purge mode {mode!r} unknown: use full, keep-last or keep-sink")
        tpf = self.tokens_per_frame
        for dst, src in enumerate(keep):
            if dst != src:
                for buf in (*self.k, *self.v):
                    buf[:, dst * tpf:(dst + 1) * tpf] = buf[:, src * tpf:(src + 1) * tpf].clone()
        self.frame_positions = [self.frame_positions[i] for i in keep]
        self.frame_ids = [self.frame_ids[i] for i in keep]
        self.global_end = len(keep) * tpf
        return keep

    def clone(self) -> "KVCache":
        return KVCache([t.clone() for t in self.k], [t.clone() for t in self.v], self.tokens_per_frame,
                       self.window_frames, self.sink_frames, list(self.frame_positions), list(self.frame_ids),
                       self.global_end,
                       self.evicted_frames, self.reanchors)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.k, *self.v))

    def memory_bias(self, n_new_tokens: int, memory: float, dtype: torch.dtype,
                    device: torch.device) -> Optional[torch.Tensor]:
        """Additive attention bias [1, 1, 1, valid + new]: log(memory) on cached keys; None at 1."""
        if memory >= 1.0 or self.valid_tokens == 0:
            return None
        val = float("-inf") if memory <= 0.0 else math.log(memory)
        bias = torch.zeros(1, 1, 1, self.valid_tokens + n_new_tokens, dtype=dtype, device=device)
        bias[..., : self.valid_tokens] = val
        return bias
