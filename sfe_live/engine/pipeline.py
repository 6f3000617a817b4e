"""One block of endless Self-Forcing: the denoising steps, the context pass, the decode.

``StreamPipeline.step(state, params)`` generates the next block:

1. make room in the KV window (sink kept, oldest evicted) and, under the "window" position
   policy, re-anchor cached positions so the block stays within the trained horizon;
2. optional LongLive-style re-cache of the window under the current prompt;
3. the denoising steps (default 4 warped steps, re-noising between them), with a due purge
   clearing the self-attention cache (all of it, or all but the sink / the last frame) before
   the step ``schedule.purge_step`` gives;
4. the t = 0 context pass that writes the block's clean K/V, then commit;
5. streaming decode (Wan VAE, TAEHV or the demo codec, through the decoder protocol) with
   the carried decode state (9 pixel frames for the stream's first block, 12 after); purges,
   prompt switches, re-anchoring and re-caching never touch that state.

Noise comes from a generator seeded by (seed, block index) only, so the same seed and
command timeline give bit-identical frames.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch

from sfe_live.config import StreamConfig, check_size
from sfe_live.engine.commands import MAX_STRENGTH
from sfe_live.engine.denoise import denoise_block, write_context
from sfe_live.engine.schedule import make_schedule, purge_step, renoise, v2v_start_step, warp_steps
from sfe_live.engine.state import Conditioning, DriftState, LiveParams, PendingPurge, SessionState, block_seed
from sfe_live.model.cache import KVCache
from sfe_live.model.decoders.protocol import VideoDecoder

log = logging.getLogger(__name__)

FrameSource = Callable[[int], Optional[np.ndarray]]   # n -> uint8 [n, H, W, 3] (latest n) or None
# (seed, block index, shape, draws) -> (initial noise, re-noise draws); the default is seeded randn
NoiseProvider = Callable[[int, int, tuple[int, ...], int], tuple[torch.Tensor, list[torch.Tensor]]]


def seeded_noise(seed: int, block_index: int, shape: tuple[int, ...], draws: int
                 ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """N(0, 1) noise of one block from a CPU generator seeded by (seed, block index) only."""
    gen = torch.Generator().manual_seed(block_seed(seed, block_index))
    noise = torch.randn(shape, generator=gen)
    return noise, [torch.randn(shape, generator=gen) for _ in range(draws)]


@dataclass
class Block:
    index: int
    frames: np.ndarray                 # uint8 [T, H, W, 3]
    latents: torch.Tensor              # [1, F, C, h, w] clean latents of the block
    positions: list[int]
    purge_step: Optional[int] = None   # the denoising step a purge ran before (None: no purge)
    purge_mode: Optional[str] = None
    recached: bool = False
    v2v_step: Optional[int] = None
    timings: dict[str, float] = field(default_factory=dict)
    drift: Optional[list[float]] = None
    drift_triggered: bool = False
    prompt: str = ""


def mix_embeddings(a: torch.Tensor, b: torch.Tensor, alpha: float, mode: str) -> torch.Tensor:
    """Interpolate text conditionings [1, L, D] row by row (linear or slerp)."""
    if mode == "linear":
        return torch.lerp(a, b, alpha)
    af, bf = a.double(), b.double()
    na, nb = af.norm(dim=-1, keepdim=True), bf.norm(dim=-1, keepdim=True)
    ua, ub = af / na.clamp_min(1e-12), bf / nb.clamp_min(1e-12)
    omega = torch.arccos((ua * ub).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    slerp = (torch.sin((1 - alpha) * omega) / so) * ua + (torch.sin(alpha * omega) / so) * ub
    norm = torch.lerp(na, nb, alpha)
    out = torch.where(so.abs() < 1e-6, torch.lerp(af, bf, alpha), slerp * norm)
    zero = (na == 0) | (nb == 0)
    out = torch.where(zero, torch.lerp(af, bf, alpha), out)
    return out.to(a.dtype)


def image_stats(frames: np.ndarray) -> list[float]:
    """Cheap drift statistics of uint8 [T, H, W, 3]: saturation, contrast, high-frequency energy."""
    x = torch.from_numpy(frames).float() / 255.0
    sat = (x.amax(-1) - x.amin(-1)).mean()
    luma = x @ torch.tensor([0.299, 0.587, 0.114])
    contrast = luma.std()
    hf = (luma[:, 1:, :] - luma[:, :-1, :]).abs().mean() + (luma[:, :, 1:] - luma[:, :, :-1]).abs().mean()
    return [float(sat), float(contrast), float(hf)]


class StreamPipeline:
    """Generates blocks for one model bundle at one stream configuration."""

    def __init__(self, bundle: Any, stream: StreamConfig, noise: NoiseProvider = seeded_noise,
                 decode: bool = True) -> None:
        """``decode=False`` skips the VAE (frames are black): ``bench --no-decode`` times the DiT alone."""
        self.bundle = bundle
        self.decode = decode
        self.noise = noise
        self.stream = stream
        self.dit = bundle.dit
        self.vae: VideoDecoder = bundle.vae          # the engine uses only the decoder protocol
        vcfg = self.vae.config
        multiple = vcfg.spatial_factor * max(self.dit.cfg.patch_size[1:])
        check_size(stream.height, stream.width, multiple)
        self.latent_h, self.latent_w = stream.latent_size(vcfg)
        self.channels = self.dit.cfg.in_dim
        self.tokens_per_frame = self.dit.cfg.tokens_per_frame(self.latent_h, self.latent_w)
        self.window_frames = stream.window_frames
        self.schedule = make_schedule(stream.shift, stream.num_train_timesteps)
        self.device = bundle.device
        self.dtype = bundle.dtype
        self._cross_cache: dict[str, Conditioning] = {}
        # prompt -> [1, L, D] embeddings; the runner points this at its prompt worker's store
        self.embed: Callable[[str], torch.Tensor] = bundle.text.get
        # optional observer of every denoising step: fn(block_index, step, x_t, x0)
        self.on_step: Optional[Callable[[int, int, torch.Tensor, torch.Tensor], None]] = None

    # -- conditioning -----------------------------------------------------------------
    def condition(self, prompt: str) -> Conditioning:
        """Embeddings and cross-attention K/V of a prompt (LRU of 16 prompts)."""
        cond = self._cross_cache.pop(prompt, None)
        if cond is None:
            emb = self.embed(prompt).to(self.device, self.dtype)                 # [1, L, D]
            with torch.no_grad():
                cond = Conditioning(prompt, emb, self.dit.cross_kv(emb))
        self._cross_cache[prompt] = cond
        while len(self._cross_cache) > 16:
            self._cross_cache.pop(next(iter(self._cross_cache)))
        return cond

    def new_state(self, prompt: str, seed: int) -> SessionState:
        cfg = self.dit.cfg
        kv = KVCache.empty(cfg.num_layers, 1, self.window_frames, self.tokens_per_frame, cfg.num_heads,
                           cfg.head_dim, self.stream.sink_frames, self.device, self.dtype)
        return SessionState(kv=kv, vae=self.vae.new_decode_state(), cond=self.condition(prompt), seed=seed)

    def reset(self, state: SessionState) -> None:
        """Fresh stream: empty caches and VAE state, counters kept (noise stays a function of the block)."""
        state.kv.clear()
        state.vae = self.vae.new_decode_state()
        state.enc = None
        state.frame_latents.clear()
        state.blend = None
        state.drift = DriftState()
        state.pending_purge = None
        state.pending_recache = False

    # -- one block -----------------------------------------------------------------------
    @torch.no_grad()
    def step(self, state: SessionState, params: LiveParams, source: Optional[FrameSource] = None) -> Block:
        t_start, cpu_start = time.perf_counter(), time.thread_time()
        nf = self.stream.frames_per_block
        kv = state.kv
        steps = warp_steps(params.steps, self.stream.shift, self.stream.num_train_timesteps)
        n = len(steps)

        # noise: a function of (seed, block index) only
        shape = (1, nf, self.channels, self.latent_h, self.latent_w)          # [B, F, C, h, w]
        noise, eps = self.noise(state.seed, state.block_index, shape, max(0, n - 1))
        noise = (noise * params.noise_scale).to(self.device, self.dtype)
        eps = [e.to(self.device, self.dtype) for e in eps]

        # conditioning (a blend advances one block at a time)
        cond = state.cond
        if state.blend is not None:
            bl = state.blend
            bl.done += 1
            alpha = bl.done / bl.blocks
            if bl.done >= bl.blocks:
                state.cond, state.blend = bl.dst, None
                cond = bl.dst
            else:
                emb = mix_embeddings(bl.src, bl.dst.embeds, alpha, bl.mode)
                cond = Conditioning(f"{bl.dst.prompt} ({alpha:.0%})", emb, self.dit.cross_kv(emb))

        # window: evict, re-anchor, optional re-cache
        kv.make_room(nf)
        cached = set(kv.frame_ids)
        for fid in [f for f in state.frame_latents if f not in cached]:
            del state.frame_latents[fid]
        if self.stream.position_policy == "window":
            kv.reanchor(self.dit.rope_tables(self.device), self.stream.position_horizon, nf,
                        self.dit.cfg.rope_split[0])
        recached = False
        if state.pending_recache:
            recached = self._recache(state, cond, params)
            state.pending_recache = False
        if self.stream.position_policy == "absolute":
            positions = torch.arange(state.latent_frame, state.latent_frame + nf, dtype=torch.int64)
        else:
            positions = kv.block_positions(nf)

        # video-to-video: enter at a later step with the encoded input
        start_step, x, v2v_step = 0, noise, None
        if params.v2v_amount > 0 and source is not None:
            z = self._encode_source(state, source, nf)
            if z is not None:
                start_step = v2v_start_step(n, params.v2v_amount)
                x = renoise(z, noise, steps[start_step], self.schedule)
                v2v_step = start_step

        due: Optional[PendingPurge] = state.pending_purge
        state.pending_purge = None
        at = None if due is None else purge_step(n, due.strength, MAX_STRENGTH, start_step)
        t_dit = time.perf_counter()

        def purge() -> torch.Tensor:
            """The purge at step ``at``: the cache keeps what the mode keeps (full / keep-sink / keep-last)."""
            assert due is not None
            kv.purge(due.mode)
            kept = set(kv.frame_ids)
            for fid in [f for f in state.frame_latents if f not in kept]:
                del state.frame_latents[fid]
            state.purges += 1
            return kv.block_positions(nf) if self.stream.position_policy == "window" else positions

        def observe(s: int, x_t: torch.Tensor, x0: torch.Tensor) -> None:
            if self.on_step is not None:
                self.on_step(state.block_index, s, x_t, x0)

        # the denoising steps, then the context pass that writes the block's clean K/V and commits
        ids = list(range(state.latent_frame, state.latent_frame + nf))
        out = denoise_block(self.dit, x, cond.cross, kv, positions, steps, self.schedule, eps, start=start_step,
                            memory=params.memory, purge_at=at, on_purge=purge, on_step=observe,
                            context_noise=self.stream.context_noise, frame_ids=ids)
        x0, positions = out.x0, out.positions
        for i, fid in enumerate(ids):
            state.frame_latents[fid] = x0[:, i:i + 1]
        t_decode = time.perf_counter()
        if self.decode:
            frames_t, state.vae = self.vae.decode_to_frames(x0, state.vae)    # uint8 [1, T, H, W, 3]
            frames = frames_t[0].cpu().numpy()
        else:
            vcfg = self.bundle.config.vae
            t_out = vcfg.pixel_frames(nf, state.block_index == 0)
            frames = np.zeros((t_out, self.stream.height, self.stream.width, 3), np.uint8)
        t_end = time.perf_counter()

        block = Block(index=state.block_index, frames=frames, latents=x0, positions=positions.tolist(),
                      purge_step=at, purge_mode=None if due is None else due.mode, recached=recached, v2v_step=v2v_step,
                      prompt=cond.prompt,
                      timings={"dit_s": t_decode - t_dit, "decode_s": t_end - t_decode,
                               "block_s": t_end - t_start, "block_cpu_s": time.thread_time() - cpu_start})
        self._drift(state, params, block)
        state.block_index += 1
        state.latent_frame += nf
        state.pixel_frames += frames.shape[0]
        return block

    # -- helpers ---------------------------------------------------------------------------
    def _recache(self, state: SessionState, cond: Conditioning, params: LiveParams) -> bool:
        kv = state.kv
        sink = min(kv.sink_frames, kv.cached_frames)
        ids, pos = kv.frame_ids[sink:], kv.frame_positions[sink:]
        if not ids or any(i not in state.frame_latents for i in ids):
            return False
        lat = torch.cat([state.frame_latents[i] for i in ids], dim=1)         # [1, m, C, h, w]
        kv.truncate(sink)
        positions = torch.tensor(pos, dtype=torch.int64)
        write_context(self.dit, lat, cond.cross, kv, positions, self.stream.context_noise, params.memory, ids)
        state.recaches += 1
        return True

    def _encode_source(self, state: SessionState, source: FrameSource, nf: int) -> Optional[torch.Tensor]:
        first = state.enc is None or state.enc.pixel_frames == 0
        need = self.vae.config.pixel_frames(nf, first)
        frames = source(need)
        if frames is None or len(frames) < need:
            return None
        if state.enc is None:
            state.enc = self.vae.new_encode_state()
        t = torch.from_numpy(np.ascontiguousarray(frames[-need:])).to(self.device)
        z, state.enc = self.vae.encode_frames(t, state.enc)                     # [1, F', C, h, w]
        if z.shape[1] != nf:
            return None
        return z.to(self.dtype)

    def _drift(self, state: SessionState, params: LiveParams, block: Block) -> None:
        stats = image_stats(block.frames)
        block.drift = stats
        d = state.drift
        if block.purge_step is not None:      # a purged block starts a new look: a new reference
            d.rebase()
        d.update(stats)
        if params.drift_guard and d.deviation > params.drift_threshold and state.pending_purge is None:
            state.pending_purge = PendingPurge(params.drift_strength, params.purge_mode)
            d.triggers += 1
            block.drift_triggered = True        # the purged next block takes the new reference
