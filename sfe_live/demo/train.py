"""Train the built-in demo model: ``python -m sfe_live.demo.train``.

Two stages, both on the procedural world of ``sfe_live.demo.world``:

1. **teacher forcing** -- a clip of ``blocks`` blocks is laid out twice in one sequence: the
   clean frames (timestep 0, as the engine's context pass writes them) and a noisy copy
   (one timestep per block). A block-causal mask lets noisy block i see the clean blocks
   before it and itself, and clean block i the clean blocks up to i -- exactly what the
   streaming loop's KV cache shows the model. Flow-matching loss on the noisy copy.
2. **the model's own context**, one of two objectives (``--stage2``):

   * ``predicted`` (default) -- the context blocks are the model's own one-step predictions
     of the real clip (from a noisy copy at the engine's steps, mostly the last one, whose x0
     is what the engine writes into its cache; no gradient), and the loss asks for the real
     clip. Context and target stay the same scene, so positions still have to be continued.
     Sometimes the colour and its caption switch at a block (a prompt change without purge).
   * ``rollout`` (self forcing proper) -- the model rolls a clip out with the engine's own
     4-step sampler and KV cache (no gradient): block 0 is real, the next blocks are the
     model's, and the target block's noisy input is taken from the model's own sampler
     trajectory. The loss asks for the real next block from that context (sometimes with a
     colour switch at the target block). The rolled-out context is a different scene from
     the real target, which teaches the model to distrust its context for shape and place.
   * ``ode`` (few-step distillation, the ODE regression that starts CausVid and Self-Forcing)
     -- a frozen teacher (the shipped weights when the stage starts) continues real context
     blocks with an ``--ode-steps`` Euler ODE through the KV cache, as the engine would; the
     student sees the teacher's block at one of the engine's sigmas on that trajectory and
     learns to land where the ODE landed, so its 4 steps draw a sample, not a posterior mean.
   * ``mixed`` -- ``ode`` and ``predicted`` steps drawn half and half; any weighted mix of the
     objectives is written ``guided=1,predicted=1``.
   * ``guided`` (autoguidance distillation) -- the model rolls its context out and runs the
     engine's sampler into the next block as ``rollout`` does; at the state it reaches, the
     target is the frozen teacher's flow pushed away from a weaker model's (``--guide-from``,
     an early checkpoint of the same model): ``v + w (v - v_weak)``, each model reading the
     same context through its own KV cache. Guidance by a weaker self (Karras et al. 2024,
     "Guiding a diffusion model with a bad version of itself") needs no unconditional branch;
     distilled, it costs the engine nothing at run time.

   Teacher-forcing batches stay mixed in.

Timesteps are mostly the engine's warped steps (1000, 750, 500, 250 at the model's shift, --shift). Seeded;
progress goes to the log; the weights are saved atomically to ``--out`` every few minutes,
and ``--resume`` continues from the weights shipped there.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import itertools
import json
import logging
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Callable, Hashable, Iterable, Optional, Protocol, Union, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from sfe_live.config import DiTConfig
from sfe_live.demo import world as W
from sfe_live.engine.denoise import denoise_block, write_context
from sfe_live.engine.schedule import Schedule, make_schedule, shifted_sigma, warp_steps
from sfe_live.io import atomic_path, atomic_write_bytes, atomic_write_text
from sfe_live.model.cache import CrossKV, KVCache
from sfe_live.model.checkpoints import load_dit
from sfe_live.model.aecodec import AECodec
from sfe_live.model.codec import PixelCodec, PixelCodecConfig
from sfe_live.model.dit import CausalWanDiT, CrossSpan
from sfe_live.model.files import ModelLoadError

log = logging.getLogger("sfe_live.demo.train")

TrainCodec = Union[PixelCodec, AECodec]     # a codec with pixels_to_latents (training only)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "assets" / "demo"
FRAMES_PER_BLOCK = 3
CONTEXT_BLOCKS = 6            # the engine's default window: 21 frames = 6 context blocks + 1
STEPS = (1000, 750, 500, 250)
TEXT_LEN = 20

STAGE2 = ("predicted", "rollout", "ode", "mixed", "guided")
LOSS_KEY = {"tf": "tf", "predicted": "sf", "rollout": "sf", "ode": "ode", "guided": "guided"}   # the log's columns
OBJECTIVES = ("predicted", "rollout", "ode", "guided")          # what one stage-2 step can be


def stage2_mix(text: str) -> dict[str, float]:
    """``--stage2``: one objective's name, ``mixed`` (``ode`` and ``predicted`` half and half), or a
    weighted mix such as ``guided=1,predicted=1`` -> {objective: share}, shares summing to 1.

    Raises ``argparse.ArgumentTypeError`` with one line naming what is allowed."""
    return dict(_parse_stage2(text))


@functools.lru_cache(maxsize=8)
def _parse_stage2(text: str) -> tuple[tuple[str, float], ...]:
    """:func:`stage2_mix` as (objective, share) pairs, parsed once per text (it is drawn every step)."""
    allowed = f"give one of {', '.join(STAGE2)} or a mix such as guided=1,predicted=1"
    if text == "mixed":
        return (("ode", 0.5), ("predicted", 0.5))
    if "=" not in text:
        if text not in OBJECTIVES:
            raise argparse.ArgumentTypeError(f"{text!r}: {allowed}")
        return ((text, 1.0),)
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        try:
            w = float(value)
        except ValueError:
            w = float("nan")
        if name not in OBJECTIVES or name in weights or not math.isfinite(w) or w < 0:
            raise argparse.ArgumentTypeError(f"{part!r} in {text!r}: {allowed} (each objective once, "
                                             "a finite weight >= 0)")
        weights[name] = w
    total = sum(weights.values())
    if total <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the weights sum to 0; {allowed}")
    return tuple((k, w / total) for k, w in weights.items() if w > 0)


def choose_objective(stage: str, stage2: str, tf_mix: float, rng: random.Random) -> str:
    """One training step's objective: ``tf`` (teacher forcing), ``predicted``, ``rollout``, ``ode`` or ``guided``.

    Stage 1 is all teacher forcing; stage 2 mixes ``tf_mix`` teacher forcing into ``stage2``
    (see :func:`stage2_mix`: one objective, ``mixed`` -- ``ode`` and ``predicted`` half and half,
    distillation keeping the 4 steps a sample and the model's own context keeping the rollout
    moving -- or a weighted mix)."""
    if stage != "2" or rng.random() < tf_mix:
        return "tf"
    mix = _parse_stage2(stage2)
    if len(mix) == 1:
        return mix[0][0]
    names, shares = zip(*mix)
    return rng.choices(names, weights=shares)[0]


def dit_config() -> DiTConfig:
    return DiTConfig(patch_size=(1, 4, 4), in_dim=48, out_dim=48, dim=128, ffn_dim=512, num_heads=4,
                     num_layers=4, freq_dim=128, text_dim=384, text_len=TEXT_LEN)


def codec_config(project_rank: int = 0) -> PixelCodecConfig:
    return PixelCodecConfig(factor=4, mean=-0.7, std=0.4, project_rank=project_rank)


def fit_codec(rank: int, seed: int, clips: int = 400) -> PixelCodec:
    """The codec with its decode projection fitted on clean world frames."""
    codec = PixelCodec(codec_config(rank))
    rng = random.Random(seed + 99)
    z, _, _, _ = clip_batch(rng, PixelCodec(codec_config()), clips, 4)
    explained = codec.fit_basis(z.flatten(0, 1))
    log.info("codec projection: rank %d explains %.4f of the world's latent variance", rank, explained)
    return codec


def model_meta(dit_cfg: DiTConfig, codec_cfg: PixelCodecConfig) -> dict:
    extra = {"vae_file": "codec.safetensors"} if codec_cfg.project_rank > 0 else {}
    return {**extra, "dit": dit_cfg.to_dict(), "vae": codec_cfg.to_dict(),
            "text": {"kind": "minilm", "dim": 384, "text_len": dit_cfg.text_len, "cache_size": 64},
            "dit_file": "dit.safetensors", "height": W.SIZE, "width": W.SIZE,
            "frames_per_block": FRAMES_PER_BLOCK}


# -- what the trainer needs from a world ---------------------------------------------------------

Label = Hashable


@runtime_checkable
class TrainingWorld(Protocol):
    """A procedural world the trainer can learn: its DiT and codec, captions per label, clips.

    Two exist: the demo's object world (:class:`DemoWorld`, below) and the VJ world
    (:class:`sfe_live.vj.train.VJWorld`); the trainer, its losses and the engine's denoising
    block are the same for both."""

    size: int                                           # frame side in pixels

    def dit_config(self) -> DiTConfig: ...

    def make_codec(self, args: argparse.Namespace) -> TrainCodec: ...

    def label_captions(self) -> Iterable[tuple[Label, list[str]]]: ...

    def clip_batch(self, rng: random.Random, codec: TrainCodec, batch: int, frames: int,
                   switch_at: Optional[int] = None, object_weight: float = 0.0
                   ) -> tuple[torch.Tensor, list[Label], list[Label], torch.Tensor]: ...

    def model_meta(self, dit_cfg: DiTConfig, codec: TrainCodec) -> dict: ...

    def codec_weights(self, codec: TrainCodec) -> Optional[dict[str, torch.Tensor]]: ...


class DemoWorld:
    """The first demo model's world: one object, colour/shape/motion/background captions."""

    size = W.SIZE

    def dit_config(self) -> DiTConfig:
        return dit_config()

    def make_codec(self, args: argparse.Namespace) -> PixelCodec:
        return fit_codec(args.codec_rank, args.seed) if args.codec_rank > 0 else PixelCodec(codec_config())

    def label_captions(self) -> Iterable[tuple[Label, list[str]]]:
        for lab in itertools.product(W.COLOURS, W.OBJECTS, W.MOTIONS, W.BACKGROUNDS):
            yield lab, W.all_captions(*lab)

    def clip_batch(self, rng, codec, batch, frames, switch_at=None, object_weight=0.0):
        return clip_batch(rng, codec, batch, frames, switch_at, object_weight)

    def model_meta(self, dit_cfg: DiTConfig, codec: PixelCodec) -> dict:
        return model_meta(dit_cfg, codec.config)

    def codec_weights(self, codec: PixelCodec) -> Optional[dict[str, torch.Tensor]]:
        if codec.config.project_rank > 0:
            return {k: v.contiguous() for k, v in codec.state_dict().items()}
        return None


# -- the masked full-sequence forward and the rollout ----------------------------------------------

def block_mask(kinds: list[int], blocks: list[int], tokens_per_frame: int) -> torch.Tensor:
    """bool [L, L] (True = attend). kind 0 = clean context frame, 1 = noisy target frame."""
    k = torch.tensor(kinds)
    b = torch.tensor(blocks)
    kq, kk, bq, bk = k[:, None], k[None, :], b[:, None], b[None, :]
    ctx = (kq == 0) & (kk == 0) & (bk <= bq)
    tgt = (kq == 1) & (((kk == 0) & (bk < bq)) | ((kk == 1) & (bk == bq)))
    m = ctx | tgt
    return m.repeat_interleave(tokens_per_frame, 0).repeat_interleave(tokens_per_frame, 1)


Noise = Callable[[int], tuple[torch.Tensor, list[torch.Tensor]]]   # block j -> (noise, re-noise draws)


@torch.no_grad()
def rollout(dit: CausalWanDiT, cross: CrossKV, cache: KVCache, first: torch.Tensor, blocks: int, noise: Noise,
            steps_t: torch.Tensor, sched: Schedule) -> list[torch.Tensor]:
    """Stage 2's context, written into ``cache`` as the engine writes a stream: the real block
    ``first`` [B, F, C, h, w] by the context pass, then ``blocks - 1`` blocks the model samples
    with the engine's denoising block (``noise(j)`` gives block j's draws), each committed.
    Returns the clean latents of every block."""
    nf = first.shape[1]
    write_context(dit, first, cross, cache, cache.block_positions(nf))
    out = [first]
    for j in range(1, blocks):
        x, eps = noise(j)
        out.append(denoise_block(dit, x, cross, cache, cache.block_positions(nf), steps_t, sched, eps).x0)
    return out


@torch.no_grad()
def ode_trajectory(teacher: CausalWanDiT, cross: CrossKV, cache: KVCache, context: torch.Tensor, x_T: torch.Tensor,
                   n: int, shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's ``n``-step Euler ODE (sigma 1 -> 0 on the shifted grid) for the block after
    ``context`` [B, k * F, C, h, w], which the engine's context pass writes into the empty ``cache``
    block by block (F = ``x_T``'s frames). Returns the block at each of the engine's sigmas
    (``STEPS``) on the way [len(STEPS), B, F, C, h, w] and the endpoint [B, F, C, h, w]."""
    b, fpb = x_T.shape[:2]
    at = {(1000 - s) * n // 1000: i for i, s in enumerate(STEPS)}           # grid index -> engine step
    for j in range(context.shape[1] // fpb):
        write_context(teacher, context[:, j * fpb:(j + 1) * fpb], cross, cache, cache.block_positions(fpb))
    pos = cache.block_positions(fpb)
    sig = [shifted_sigma(float(u), shift) for u in np.linspace(1.0, 0.0, n + 1)]
    points: list[torch.Tensor] = []
    x = x_T
    for i in range(n):
        if i in at:
            points.append(x)
        v = teacher.step(x, torch.full((b, fpb), sig[i] * 1000.0), cross, cache, pos)
        assert v is not None
        x = x + (sig[i + 1] - sig[i]) * v
    return torch.stack(points), x


@torch.no_grad()
def guided_flow(teacher: CausalWanDiT, weak: CausalWanDiT, weight: float, x: torch.Tensor, t: torch.Tensor,
                crosses: tuple[CrossKV, CrossKV], caches: tuple[KVCache, KVCache],
                positions: torch.Tensor) -> torch.Tensor:
    """``v + weight * (v - v_weak)`` at the block ``x`` [B, F, C, h, w] (timesteps ``t`` [B, F]):
    the teacher's and the weak model's flows, each through its own cross K/V and KV cache of
    the same context (``crosses``/``caches``: the teacher's first)."""
    v = teacher.step(x, t, crosses[0], caches[0], positions)
    v_weak = weak.step(x, t, crosses[1], caches[1], positions)
    assert v is not None and v_weak is not None
    return v + weight * (v - v_weak)


# -- captions ---------------------------------------------------------------------------------------

class CaptionBank:
    """MiniLM embeddings of ``per_label`` training captions for every scene label of a world."""

    def __init__(self, per_label: int, seed: int, cache: Path, world: "TrainingWorld",
                 text_len: int = TEXT_LEN) -> None:
        rng = random.Random(seed)
        texts: list[str] = []
        self.index: dict[Label, list[int]] = {}
        for lab, caps in world.label_captions():
            pick = rng.sample(caps, min(per_label, len(caps)))
            self.index[lab] = list(range(len(texts), len(texts) + len(pick)))
            texts.extend(pick)
        self.texts = texts
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        key = f"{per_label}-{seed}-{len(texts)}-{text_len}-{digest}"    # the captions themselves
        if cache.exists():
            obj = torch.load(cache)
            if obj.get("key") == key:
                self.emb = obj["emb"]
                return
        from sfe_live.model.text import MiniLMTextEncoder
        enc = MiniLMTextEncoder(text_len)
        t0 = time.time()
        chunks = [enc.encode(texts[i:i + 256]).half() for i in range(0, len(texts), 256)]
        self.emb = torch.cat(chunks)
        log.info("encoded %d captions in %.1f s", len(texts), time.time() - t0)
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"key": key, "emb": self.emb}, cache)

    def sample(self, labels: list[tuple], rng: random.Random) -> torch.Tensor:
        idx = [rng.choice(self.index[lab]) for lab in labels]
        return self.emb[idx].float()


# -- data -------------------------------------------------------------------------------------------

def clip_batch(rng: random.Random, codec: PixelCodec, batch: int, frames: int, switch_at: Optional[int] = None,
               object_weight: float = 0.0):
    """latents [B, frames, C, h, w], first labels, labels after the switch (or the same), and a
    loss weight [B, frames, C, h, w]: 1 + ``object_weight`` where the object covers the background."""
    clips, labs, labs2, masks = [], [], [], []
    for _ in range(batch):
        scene, fr, scene2 = W.sample_clip(rng, frames, switch_at)
        clips.append(fr)
        labs.append(scene.label())
        labs2.append((scene2 or scene).label())
        bg = W.background(scene.background, scene.seed)
        masks.append((np.abs(fr.astype(np.float32) - bg[None]).max(-1, keepdims=True) > 40).repeat(3, -1))
    px = torch.from_numpy(np.stack(clips)).permute(0, 1, 4, 2, 3).float().div(127.5).sub(1.0)
    m = torch.from_numpy(np.stack(masks)).permute(0, 1, 4, 2, 3).float()
    b, t, c, h, w = m.shape
    f = codec.config.factor
    wgt = 1.0 + object_weight * F.pixel_unshuffle(m.reshape(b * t, c, h, w), f).reshape(b, t, c * f * f, h // f, w // f)
    return codec.pixels_to_latents(px), labs, labs2, wgt


def per_frame(per_block: torch.Tensor, batch: int) -> torch.Tensor:
    """``[B * blocks]`` values, one per block -> ``[B, blocks * frames_per_block]``, one per frame."""
    return per_block.view(batch, -1).repeat_interleave(FRAMES_PER_BLOCK, 1)


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return ((pred - target) ** 2 * weight).sum() / weight.sum()


def flow_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, temporal: float = 0.0,
              fpb: int = FRAMES_PER_BLOCK) -> torch.Tensor:
    """The flow loss on ``[B, F, ...]`` frames that start on a block boundary, plus ``temporal`` times
    the same loss on the frame-to-frame change of the error inside each block (where the frames
    share a noise level). The plain loss is minimised by the posterior mean; so is the added term,
    but it weighs the part of the error that changes from frame to frame -- the motion a model
    that draws near-static blocks gets wrong -- as much as the rest (0 = the plain loss)."""
    base = weighted_mse(pred, target, weight)
    if temporal <= 0 or pred.shape[1] < 2:
        return base
    inside = torch.tensor([(f + 1) % fpb != 0 for f in range(pred.shape[1] - 1)],   # pair (f, f+1) in a block
                          device=pred.device)
    if not bool(inside.any()):
        return base
    err = pred - target
    d = (err[:, 1:] - err[:, :-1])[:, inside]
    w = (0.5 * (weight[:, 1:] + weight[:, :-1]))[:, inside]
    return base + temporal * (d ** 2 * w).sum() / w.sum()


@torch.no_grad()
def copy_matching(model: torch.nn.Module, src: dict[str, torch.Tensor]) -> list[str]:
    """Copy every tensor of ``src`` whose name and shape match into ``model``; the names left as
    they were (absent from ``src`` or shaped differently) are returned, sorted."""
    own = model.state_dict()
    copied = {k for k, v in src.items() if k in own and own[k].shape == v.shape}
    for k in copied:
        own[k].copy_(src[k])
    return sorted(set(own) - copied)


# a block's three residual branches end in these projections: zeroed, the block is the identity
RESIDUAL_OUTPUTS = ("self_attn.o", "cross_attn.o", "ffn.2")


@torch.no_grad()
def grow_blocks(model: torch.nn.Module, src: dict[str, torch.Tensor]) -> list[int]:
    """Deepen: each block of ``model`` beyond those in ``src`` starts as a copy of source block
    ``i % n`` with its residual output projections zeroed, so it adds nothing and the deeper
    model computes exactly what the source did; training then opens the new blocks. Returns
    the new blocks' indices (none when ``src`` has as many blocks or more)."""
    n = len({k.split(".")[1] for k in src if k.startswith("blocks.")})
    blocks = getattr(model, "blocks", None)
    if n == 0 or blocks is None or len(blocks) <= n:
        return []
    grown = list(range(n, len(blocks)))
    for i in grown:
        prefix = f"blocks.{i % n}."
        part = {k[len(prefix):]: v for k, v in src.items() if k.startswith(prefix)}
        blocks[i].load_state_dict(part)                     # strict: the same block layout
        for name in RESIDUAL_OUTPUTS:
            proj = blocks[i].get_submodule(name)
            proj.weight.zero_()
            proj.bias.zero_()
    return grown


class Trainer:
    def __init__(self, args: argparse.Namespace, world: Optional[TrainingWorld] = None) -> None:
        self.args = args
        self.world: TrainingWorld = world if world is not None else DemoWorld()
        self.out = Path(args.out)
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(args.seed)
        self.rng = random.Random(args.seed)
        self.cfg = self.world.dit_config()
        self.codec = self.world.make_codec(args)
        self.dit = CausalWanDiT(self.cfg)
        with torch.no_grad():
            self.dit.head.head.weight.mul_(0.1)
            self.dit.head.head.bias.zero_()
        self.step = 0
        self.stage_steps = {"1": 0, "2": 0}
        self.history: list[dict] = []
        if args.resume:
            self._load()
        elif args.init_from:
            self._warm_start(Path(args.init_from))
        # the shipped weights are an exponential moving average of the trained ones (as the
        # reference's generator_ema); training itself continues from the raw weights
        self.ema = {k: v.detach().clone() for k, v in self.dit.state_dict().items()} if args.ema > 0 else None
        self.ema_steps = 0
        raw = self.work / "dit_raw.safetensors"
        if args.resume and self.ema is not None and raw.exists():
            from safetensors.torch import load_file
            try:
                self.dit.load_state_dict(load_file(str(raw)))
                log.info("training continues from the raw weights in %s", raw)
            except Exception as exc:  # a different model: keep the shipped weights
                log.warning("raw weights not loaded: %s", exc)
        self.dit.train().requires_grad_(True)
        self.opt = torch.optim.AdamW(self.dit.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.01)
        opt_path = self.work / "optimizer.pt"
        # a fresh optimiser's first steps are as large as the learning rate in every weight, so the
        # learning rate warms up over --warmup steps whenever the moments were not loaded (a new run,
        # or a resume from shipped weights without the work folder), not only when the step is 0
        self.opt_resumed = False
        if args.resume and opt_path.exists():
            try:
                self.opt.load_state_dict(torch.load(opt_path))
                for g in self.opt.param_groups:
                    g["lr"] = args.lr
                self.opt_resumed = True
            except Exception as exc:  # a different model: start the optimiser fresh
                log.warning("optimizer state not loaded: %s", exc)
        self.bank = CaptionBank(args.captions_per_label, args.seed, self.work / "captions.pt", self.world,
                                self.cfg.text_len)
        self.sched = make_schedule(args.shift, 1000)
        self.steps_t = warp_steps(STEPS, args.shift)           # warped timesteps [4]
        self.sigmas = self.sched.sigma(self.steps_t)           # [4]
        self.grid = self.world.size // self.codec.config.spatial_factor      # latent side
        self.S = self.cfg.tokens_per_frame(self.grid, self.grid)
        self.teacher: Optional[CausalWanDiT] = None             # the ODE and guided stages', made when they start
        self.weak: Optional[CausalWanDiT] = None                # the guided stage's weaker model

    # -- persistence ---------------------------------------------------------------------------
    def _load(self) -> None:
        from safetensors.torch import load_file
        path = self.out / "dit.safetensors"
        if not path.exists():
            log.warning("--resume: %s not found, starting from scratch", path)
            return
        self.dit.load_state_dict(load_file(str(path)))
        meta = self.out / "train_state.json"
        if meta.exists():
            st = json.loads(meta.read_text())
            self.step = int(st.get("step", 0))
            self.stage_steps = {k: int(v) for k, v in st.get("stage_steps", self.stage_steps).items()}
            self.history = st.get("history", [])
        log.info("resumed from %s at step %d", path, self.step)

    def _warm_start(self, folder: Path) -> None:
        """Start a new model (a different patch, say) from another's weights at step 0."""
        from safetensors.torch import load_file
        path = folder / "dit.safetensors"
        if not path.exists():
            raise SystemExit(f"--init-from: {path} not found (give a folder with a trained dit.safetensors)")
        src = load_file(str(path))
        fresh = copy_matching(self.dit, src)
        grown = grow_blocks(self.dit, src)
        fresh = [k for k in fresh if not any(k.startswith(f"blocks.{i}.") for i in grown)]
        if grown:
            log.info("warm start: blocks %s start as copies of the source's with zeroed outputs (identity)",
                     ", ".join(map(str, grown)))
        log.info("warm start from %s: %d tensors keep their fresh init: %s", path, len(fresh),
                 ", ".join(fresh) or "none")

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.ema is None:
            return
        d = min(self.args.ema, (1 + self.ema_steps) / (10 + self.ema_steps))
        self.ema_steps += 1
        for k, v in self.dit.state_dict().items():
            e = self.ema[k]
            if e.is_floating_point():
                e.lerp_(v.detach(), 1 - d)
            else:
                e.copy_(v)

    def save(self) -> None:
        from safetensors.torch import save as safetensors_bytes
        raw = {k: v.detach().contiguous().clone() for k, v in self.dit.state_dict().items()}
        sd = {k: v.contiguous() for k, v in self.ema.items()} if self.ema is not None else raw
        atomic_write_bytes(self.out / "dit.safetensors", safetensors_bytes(sd))
        if self.ema is not None:
            atomic_write_bytes(self.work / "dit_raw.safetensors", safetensors_bytes(raw))
        meta = self.world.model_meta(self.cfg, self.codec)
        if self.args.shift != 5.0:
            meta["stream"] = {"shift": self.args.shift}        # the sampler the model was trained for
        codec = self.world.codec_weights(self.codec)
        if codec is not None:
            atomic_write_bytes(self.out / "codec.safetensors", safetensors_bytes(codec))
        atomic_write_text(self.out / "train_meta.json", json.dumps(meta, indent=1))
        st = {"step": self.step, "stage_steps": self.stage_steps, "history": self.history[-400:],
              "args": {k: v for k, v in vars(self.args).items()}}
        atomic_write_text(self.out / "train_state.json", json.dumps(st))
        with atomic_path(self.work / "optimizer.pt") as tmp:
            torch.save(self.opt.state_dict(), tmp)
        if self.args.publish:
            atomic_write_text(self.out / "model.json", json.dumps(meta, indent=1))

    # -- timesteps -------------------------------------------------------------------------------
    def sample_t(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n timesteps and their sigmas: 75 % the engine's 4 steps, 25 % uniform (shifted)."""
        ts, ss = [], []
        for _ in range(n):
            if self.rng.random() < 0.75:
                i = self.rng.randrange(4)
                ts.append(float(self.steps_t[i]))
                ss.append(float(self.sigmas[i]))
            else:
                i = self.rng.randrange(0, 1000)
                ts.append(float(self.sched.timesteps[i]))
                ss.append(float(self.sched.sigmas[i]))
        return torch.tensor(ts), torch.tensor(ss)

    def context_noise(self, z: torch.Tensor) -> torch.Tensor:
        amp = torch.rand(z.shape[0], 1, 1, 1, 1) * self.args.context_noise
        return z + amp * torch.randn_like(z)

    # -- stage 1 (and the predicted-context variant of stage 2) ----------------------------------
    def tf_loss(self, batch: int, predicted_context: bool = False, switch_prob: float = 0.0) -> torch.Tensor:
        """Flow-matching loss on every block of a clip, each seeing the clean blocks before it.

        ``predicted_context``: the context blocks are replaced by the model's own one-step
        predictions of them (from a noisy copy at one of the engine's steps, no gradient), so
        the model learns to continue from the slightly wrong frames it writes into its cache
        at inference, while context and target stay the same scene. ``switch_prob``: the
        object's colour switches at a random block and the caption with it, as a prompt change
        without a purge does in the engine.
        """
        fpb = FRAMES_PER_BLOCK
        # short clips are cheap (attention is quadratic); the full window now and then
        nb = CONTEXT_BLOCKS + 1 if self.rng.random() < self.args.full_clip_prob else self.rng.randint(3, 5)
        n = nb * fpb
        j = self.rng.randint(1, nb - 1) if self.rng.random() < switch_prob else 0   # first block of caption B
        z, labs, labs2, wgt = self.world.clip_batch(self.rng, self.codec, batch, n, switch_at=j * fpb if j else None,
                                         object_weight=self.args.object_weight)
        emb_a = self.bank.sample(labs, self.rng)
        blocks = [i // fpb for i in range(n)] * 2
        kinds = [0] * n + [1] * n
        mask = block_mask(kinds, blocks, self.S)
        pos = torch.arange(n).repeat(2)
        L = n * self.S                                                   # tokens per copy
        if j:
            ca, cb = self.dit.cross_kv(emb_a), self.dit.cross_kv(self.bank.sample(labs2, self.rng))
            cut = j * fpb * self.S
            spans = [CrossSpan(0, cut, ca), CrossSpan(cut, L, cb), CrossSpan(L, L + cut, ca),
                     CrossSpan(L + cut, 2 * L, cb)]
        else:
            spans = [CrossSpan(0, 2 * L, self.dit.cross_kv(emb_a))]
        context = z
        if predicted_context:
            with torch.no_grad():
                # mostly the last step: its x0 is what the engine writes into the cache
                idx = torch.tensor([3 if self.rng.random() < 0.7 else self.rng.randrange(4) for _ in range(batch * nb)])
                t_p, s_p = per_frame(self.steps_t[idx].float(), batch), per_frame(self.sigmas[idx].float(), batch)
                s_p = s_p[..., None, None, None]
                xt_p = (1 - s_p) * z + s_p * torch.randn_like(z)
                x = torch.cat([z, xt_p], 1)
                t = torch.cat([torch.zeros(batch, n), t_p], 1)
                context = xt_p - s_p * self.dit.masked(x, t, pos, mask, spans)[:, n:]
        t_blk, s_blk = self.sample_t(batch * nb)
        t_fr, s_fr = per_frame(t_blk, batch), per_frame(s_blk, batch)[..., None, None, None]   # [B, n]
        eps = torch.randn_like(z)
        xt = (1 - s_fr) * z + s_fr * eps
        x = torch.cat([self.context_noise(context), xt], 1)
        t = torch.cat([torch.zeros(batch, n), t_fr], 1)
        v = self.dit.masked(x, t, pos, mask, spans)
        return flow_loss(v[:, n:], eps - z, wgt, self.args.temporal_weight)

    # -- stage 2 ---------------------------------------------------------------------------------
    def _cache(self, b: int) -> KVCache:
        """An empty KV cache of the engine's window (the context blocks and one more) for ``b`` streams."""
        return KVCache.empty(self.cfg.num_layers, b, (CONTEXT_BLOCKS + 1) * FRAMES_PER_BLOCK, self.S,
                             self.cfg.num_heads, self.cfg.head_dim)

    def _stage2_clip(self, batch: int) -> tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]:
        """A clip for the distillation objectives: ``k`` context blocks (none in 10 %) and the
        block after them -- latents [B, (k + 1) F, C, h, w], caption embeddings, loss weight."""
        k = 0 if self.rng.random() < 0.1 else self.rng.randint(1, CONTEXT_BLOCKS)
        z, labs, _, wgt = self.world.clip_batch(self.rng, self.codec, batch, (k + 1) * FRAMES_PER_BLOCK,
                                                object_weight=self.args.object_weight)
        return k, z, self.bank.sample(labs, self.rng), wgt

    def _noise(self, b: int) -> Noise:
        """Fresh N(0, 1) draws of a block: its noise and the re-noise between the 4 steps."""
        shape = (b, FRAMES_PER_BLOCK, self.cfg.in_dim, self.grid, self.grid)
        return lambda _j: (torch.randn(shape), [torch.randn(shape) for _ in range(len(self.steps_t) - 1)])

    def sf_loss(self, batch: int) -> torch.Tensor:
        fpb = FRAMES_PER_BLOCK
        k = 0 if self.rng.random() < 0.1 else self.rng.randint(1, CONTEXT_BLOCKS)
        switch = k > 0 and self.rng.random() < self.args.switch_prob
        n = (k + 1) * fpb
        z, labs, labs2, wgt = self.world.clip_batch(self.rng, self.codec, batch, n, switch_at=k * fpb if switch else None,
                                         object_weight=self.args.object_weight)
        emb_a = self.bank.sample(labs, self.rng)
        emb_b = self.bank.sample(labs2, self.rng) if switch else emb_a
        self.dit.eval()
        with torch.no_grad():
            cross_a = self.dit.cross_kv(emb_a)
            cross_b = self.dit.cross_kv(emb_b) if switch else cross_a
            cache = self._cache(batch)
            noise = self._noise(batch)
            ctx = rollout(self.dit, cross_a, cache, z[:, :fpb], k, noise, self.steps_t, self.sched) if k else []
            pos = cache.block_positions(fpb)
            s = self.rng.randrange(4)
            if self.rng.random() < 0.25:     # a plain noisy target now and then
                eps = torch.randn(batch, fpb, *z.shape[2:])
                sig = float(self.sigmas[s])
                xt = (1 - sig) * z[:, k * fpb:] + sig * eps
            else:
                x_T, eps = noise(k)
                xt = denoise_block(self.dit, x_T, cross_b, cache, pos, self.steps_t, self.sched, eps, stop=s,
                                   commit=False).x
        self.dit.train()
        sig = float(self.sigmas[s])
        target = (xt - z[:, k * fpb:]) / sig
        v = self._next_block_flow(torch.cat(ctx, 1) if k else None, xt, self.steps_t[s].expand(batch, fpb),
                                  emb_a, emb_b)
        return flow_loss(v, target, wgt[:, k * fpb:], self.args.temporal_weight)

    def _next_block_flow(self, context: Optional[torch.Tensor], xt: torch.Tensor, t_tgt: torch.Tensor,
                         emb_ctx: torch.Tensor, emb_tgt: torch.Tensor) -> torch.Tensor:
        """The student's flow [B, F, C, h, w] on the block ``xt`` (timesteps ``t_tgt`` [B, F]) after
        the clean ``context`` [B, k * F, C, h, w] (or none), in one block-causal masked forward
        with gradient: what the engine's step computes from a cache of that context. The context
        gets the training context noise; it was written under ``emb_ctx``, the block reads ``emb_tgt``."""
        fpb = FRAMES_PER_BLOCK
        b = xt.shape[0]
        nc = 0 if context is None else context.shape[1]                  # context frames
        k = nc // fpb
        if context is not None:
            x = torch.cat([self.context_noise(context), xt], 1)
            t = torch.cat([torch.zeros(b, nc), t_tgt], 1)
        else:
            x, t = xt, t_tgt
        mask = block_mask([0] * nc + [1] * fpb, [i // fpb for i in range(nc)] + [k] * fpb, self.S)
        cb = self.dit.cross_kv(emb_tgt)
        spans = [CrossSpan(nc * self.S, (nc + fpb) * self.S, cb)]
        if nc:
            spans.insert(0, CrossSpan(0, nc * self.S, cb if emb_ctx is emb_tgt else self.dit.cross_kv(emb_ctx)))
        return self.dit.masked(x, t, torch.arange(nc + fpb), mask, spans)[:, nc:]

    # -- stage 2: ODE distillation ----------------------------------------------------------------
    def _teacher(self) -> CausalWanDiT:
        if self.teacher is None:
            teacher = CausalWanDiT(self.cfg)
            teacher.load_state_dict(self.ema if self.ema is not None else self.dit.state_dict())
            self.teacher = teacher.eval().requires_grad_(False)
        return self.teacher

    def ode_loss(self, batch: int) -> torch.Tensor:
        fpb = FRAMES_PER_BLOCK
        k, z, emb, wgt = self._stage2_clip(batch)
        x_T = torch.randn(batch, fpb, *z.shape[2:])
        teacher = self._teacher()
        points, x0 = ode_trajectory(teacher, teacher.cross_kv(emb, compact=False), self._cache(batch),
                                    z[:, :k * fpb], x_T, self.args.ode_steps, self.args.shift)
        s = torch.tensor([self.rng.randrange(len(STEPS)) for _ in range(batch)])        # engine step per clip
        xs = points[s, torch.arange(batch)]                                             # [B, fpb, C, h, w]
        sig = self.sigmas[s].float()[:, None, None, None, None]
        target = (xs - x0) / sig                                                        # the flow that lands on x0
        t_tgt = self.steps_t[s].float()[:, None].expand(batch, fpb)
        v = self._next_block_flow(z[:, :k * fpb] if k else None, xs, t_tgt, emb, emb)
        return flow_loss(v, target, wgt[:, k * fpb:], self.args.temporal_weight)

    # -- stage 2: autoguidance distillation -------------------------------------------------------
    def _weak(self) -> CausalWanDiT:
        if self.weak is None:
            path = Path(self.args.guide_from) / "dit.safetensors"
            try:                                                 # start() checked that the file exists
                # the weaker model may be shallower (a deepened run guided by its source): its own depth
                from safetensors import safe_open
                with safe_open(str(path), "pt") as f:
                    depth = len({k.split(".")[1] for k in f.keys() if k.startswith("blocks.")})
                cfg = dataclasses.replace(self.cfg, num_layers=depth or self.cfg.num_layers)
                self.weak = load_dit(path, config=cfg)
            except ModelLoadError as exc:
                raise SystemExit(f"--guide-from: {exc}") from None
        return self.weak

    def guided_loss(self, batch: int) -> torch.Tensor:
        fpb = FRAMES_PER_BLOCK
        k, z, emb, wgt = self._stage2_clip(batch)
        teacher, weak = self._teacher(), self._weak()
        s = self.rng.randrange(len(STEPS))
        t_tgt = self.steps_t[s].expand(batch, fpb)
        self.dit.eval()
        with torch.no_grad():
            own = self._cache(batch)
            cross = self.dit.cross_kv(emb)
            noise = self._noise(batch)
            ctx = rollout(self.dit, cross, own, z[:, :fpb], k, noise, self.steps_t, self.sched) if k else []
            if self.rng.random() < 0.25:     # a plain noisy block now and then
                sig = float(self.sigmas[s])
                xt = (1 - sig) * z[:, k * fpb:] + sig * torch.randn(batch, fpb, *z.shape[2:])
            else:                            # where the model's own sampler is at step s
                x_T, eps = noise(k)
                xt = denoise_block(self.dit, x_T, cross, own, own.block_positions(fpb), self.steps_t, self.sched,
                                   eps, stop=s, commit=False).x
            crosses = (teacher.cross_kv(emb), weak.cross_kv(emb))
            caches = (self._cache(batch), self._cache(batch))
            for m, c, kv in zip((teacher, weak), crosses, caches):
                for block in ctx:
                    write_context(m, block, c, kv, kv.block_positions(fpb))
            target = guided_flow(teacher, weak, self.args.guide_weight, xt, t_tgt, crosses, caches,
                                 caches[0].block_positions(fpb))
        self.dit.train()
        v = self._next_block_flow(torch.cat(ctx, 1) if k else None, xt, t_tgt, emb, emb)
        return flow_loss(v, target, wgt[:, k * fpb:], self.args.temporal_weight)

    # -- loop ------------------------------------------------------------------------------------
    def warmup_factor(self, run_steps: int) -> float:
        """The learning rate's warm-up factor after ``run_steps`` steps of this run: 1 with the
        optimiser's saved moments, else a linear ramp over ``--warmup`` steps."""
        if self.opt_resumed or self.args.warmup <= 0:
            return 1.0
        return min(1.0, (run_steps + 1) / self.args.warmup)

    def run(self) -> None:
        a = self.args
        t_start = time.time()
        last_save = time.time()
        plan = [("1", a.stage1_minutes), ("2", a.stage2_minutes)]
        losses: dict[str, list[float]] = {k: [] for k in dict.fromkeys(LOSS_KEY.values())}
        run_steps = 0                                          # steps taken by this run
        for stage, minutes in plan:
            if minutes <= 0:
                continue
            t_stage = time.time()
            log.info("stage %s for %.1f min (batch %d, lr %.2g)", stage, minutes, a.batch, a.lr)
            while time.time() - t_stage < minutes * 60:
                warm = self.warmup_factor(run_steps)
                frac = min(1.0, (time.time() - t_stage) / (minutes * 60))
                lr = a.lr_min + (a.lr - a.lr_min) * 0.5 * (1 + math.cos(math.pi * frac))   # cosine over the stage
                for g in self.opt.param_groups:
                    g["lr"] = lr * warm
                objective = choose_objective(stage, a.stage2, a.tf_mix, self.rng)
                if objective == "tf":
                    loss = self.tf_loss(a.batch)
                elif objective == "rollout":
                    loss = self.sf_loss(a.batch)
                elif objective == "ode":
                    loss = self.ode_loss(a.batch)
                elif objective == "guided":
                    loss = self.guided_loss(a.batch)
                else:
                    loss = self.tf_loss(a.batch, predicted_context=True, switch_prob=a.switch_prob)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.dit.parameters(), 1.0)
                self.opt.step()
                self.update_ema()
                self.step += 1
                run_steps += 1
                self.stage_steps[stage] += 1
                losses[LOSS_KEY[objective]].append(float(loss.detach()))
                if self.step % a.log_every == 0:
                    rec = {"step": self.step, "stage": stage, "min": round((time.time() - t_start) / 60, 2),
                           **{k: float(np.mean(v)) if v else None for k, v in losses.items()}}
                    self.history.append(rec)
                    losses = {k: [] for k in losses}
                    log.info("step %d stage %s %3.0f%% %.1f min lr %.2g  %s", self.step, stage, 100 * frac,
                             rec["min"], self.opt.param_groups[0]["lr"],
                             "  ".join(f"{k} loss {rec[k]:.4f}" if rec[k] is not None else f"{k} loss -"
                                       for k in losses))
                if time.time() - last_save > a.save_minutes * 60:
                    self.save()
                    last_save = time.time()
                    log.info("saved %s at step %d", self.out / "dit.safetensors", self.step)
                if (self.work / "STOP").exists():
                    log.info("STOP file found: saving and stopping")
                    self.save()
                    return
        self.save()
        log.info("done: %d steps in %.1f min", self.step, (time.time() - t_start) / 60)


def parser(prog: str, description: str, out: Path, work: Path) -> argparse.ArgumentParser:
    """The training options every world shares (``--out``/``--work`` defaults per world)."""
    p = argparse.ArgumentParser(prog=prog, description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(out), help=f"weights folder (default {out.relative_to(REPO)})")
    p.add_argument("--work", default=str(work), help="caches, optimiser state, log")
    p.add_argument("--resume", action="store_true", help="continue from the weights in --out")
    p.add_argument("--init-from", default=None, metavar="FOLDER",
                   help="new run only: copy every weight whose name and shape match from FOLDER/dit.safetensors")
    p.add_argument("--stage1-minutes", type=float, default=30.0)
    p.add_argument("--stage2-minutes", type=float, default=45.0)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--lr-min", type=float, default=1e-4, help="end of each stage's cosine learning-rate decay")
    p.add_argument("--ema", type=float, default=0.998,
                   help="decay of the weight average that is shipped (0 = ship the raw weights)")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--shift", type=float, default=5.0,
                   help="sampler shift the model is trained for (5 = Wan's; lower puts the 4 steps at lower "
                        "noise: the last x0 comes from less noise, so frames are sharper); saved in model.json")
    p.add_argument("--context-noise", type=float, default=0.1, help="max std of noise added to context latents")
    p.add_argument("--stage2", default="predicted", metavar="OBJECTIVE",
                   help="stage 2 objective: the real clip continued from the model's own predictions of "
                        "its context (predicted), or from the model's free rollout (rollout); or the "
                        "4 steps distilled from a frozen teacher's many-step ODE (ode); or ode and "
                        "predicted drawn half and half (mixed); or a frozen teacher's flow guided away "
                        "from a weaker checkpoint's (guided, see --guide-from); or a weighted mix of "
                        "them, e.g. guided=1,predicted=1")
    p.add_argument("--guide-from", default=None, metavar="FOLDER",
                   help="--stage2 guided: the weaker model, an early checkpoint of this one (FOLDER/dit.safetensors)")
    p.add_argument("--guide-weight", type=float, default=1.0,
                   help="--stage2 guided: w in v + w (v - v_weak) (0 = the teacher's own flow)")
    p.add_argument("--ode-steps", type=int, default=16,
                   help="--stage2 ode: the teacher's Euler steps (a multiple of 4, so the engine's 4 steps lie on them)")
    p.add_argument("--switch-prob", type=float, default=0.3,
                   help="stage 2: chance that the colour and its caption switch at a block")
    p.add_argument("--temporal-weight", type=float, default=0.0,
                   help="weight of the loss on the frame-to-frame change of the error inside a block "
                        "(0 = the plain flow loss)")
    p.add_argument("--tf-mix", type=float, default=0.3, help="stage 2: fraction of teacher-forcing batches")
    p.add_argument("--codec-rank", type=int, default=8,
                   help="rank of the codec's decode projection (0 = plain space-to-depth)")
    p.add_argument("--object-weight", type=float, default=4.0,
                   help="extra loss weight on pixels the object covers (objects are ~5 %% of a frame)")
    p.add_argument("--full-clip-prob", type=float, default=0.25,
                   help="stage 1: fraction of clips with the full 7-block window (else 3-5 blocks)")
    p.add_argument("--captions-per-label", type=int, default=8)
    p.add_argument("--save-minutes", type=float, default=3.0)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--publish", action="store_true", help="also write model.json (makes the model loadable)")
    return p


def start(a: argparse.Namespace, world: Optional[TrainingWorld] = None) -> int:
    """Set threads and logging, then train ``world`` (the demo world by default)."""
    if a.ode_steps < 4 or any((1000 - s) * a.ode_steps % 1000 for s in STEPS):
        raise SystemExit(f"--ode-steps {a.ode_steps}: give a multiple of 4 (the engine's steps "
                         f"{', '.join(map(str, STEPS))} must lie on the teacher's grid)")
    try:
        mix = stage2_mix(a.stage2)
    except argparse.ArgumentTypeError as exc:
        raise SystemExit(f"--stage2 {exc}") from None
    if "guided" in mix and not (a.guide_from and (Path(a.guide_from) / "dit.safetensors").exists()):
        raise SystemExit(f"--stage2 guided: --guide-from {a.guide_from}: give a folder with the dit.safetensors "
                         "of an early checkpoint of this model (the weaker model the teacher is guided away from)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    torch.set_num_threads(a.threads)
    Path(a.work).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.StreamHandler(sys.stdout),
                                  logging.FileHandler(Path(a.work) / "train.log")])
    Trainer(a, world).run()
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    return start(parser("python -m sfe_live.demo.train", __doc__ or "", DEFAULT_OUT,
                        REPO / "out" / "demo-train").parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
