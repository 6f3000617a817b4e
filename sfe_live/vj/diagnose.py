"""Where the VJ model's limits come from: the codec's ceiling and the sampler's share.

* :func:`codec_ceiling` -- world frames through the frozen codec and back: the probe's family
  and palette accuracy on the reconstructions (beside its accuracy on the originals), their
  high-frequency energy over the originals' and the PSNR. A DiT that only ever sees the codec's
  latents can draw no better than this.
* :func:`sampler_gap` -- the first block of a stream (no context) for one caption per family,
  from the same noise, by the engine's few-step sampler (x0 prediction, then re-noising with
  fresh noise, as :func:`sfe_live.engine.denoise.denoise_block` does) and by an N-step Euler
  ODE of the same flow model. If the many-step sample obeys the prompt better, a few-step
  distillation has a teacher to learn from; if not, the flow model itself is what is missing.
* :func:`guidance_gain` -- the same first block by the engine's sampler with the flow guided
  away from a weaker checkpoint's (autoguidance), per guidance weight: what distilling that
  guidance (``--stage2 guided``) could give.

None is a figure of the model as it runs; they are the model's own ceilings, measured.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Sequence

import numpy as np
import torch

from sfe_live.engine.schedule import make_schedule, shifted_sigma as sigma_of, warp_steps
from sfe_live.model.aecodec import AECodec
from sfe_live.model.dit import CausalWanDiT
from sfe_live.vj import judge as J
from sfe_live.vj import world as W

FlowModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]   # (x [B, F, C, h, w], sigma) -> flow


def _to_uint8(px: torch.Tensor) -> np.ndarray:
    """[B, T, 3, H, W] in [-1, 1] -> uint8 [B, T, H, W, 3]."""
    return ((px.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


@torch.no_grad()
def codec_ceiling(codec: AECodec, probe: J.Probe, clips: int = 56, frames: int = 12, seed: int = 0) -> dict[str, Any]:
    rng = random.Random(seed)
    fams = list(W.FAMILIES)
    ok_rec, ok_real, pal_rec, hf, psnr = [], [], [], [], []
    for i in range(clips):
        lab = W.random_label(rng, family=fams[i % len(fams)])
        real = W.render(W.Scene(lab, rng.randrange(2 ** 31)), frames, rng.randrange(0, 400))   # [T, H, W, 3]
        px = torch.from_numpy(real).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)[None]
        rec = _to_uint8(codec.latents_to_pixels(codec.pixels_to_latents(px)))[0]
        fr, pr = probe.classify(rec)
        fw, _ = probe.classify(real)
        ok_rec.append(np.mean(fr == J.FAMILY_NAMES.index(lab.family)))
        ok_real.append(np.mean(fw == J.FAMILY_NAMES.index(lab.family)))
        pal_rec.append(np.mean(pr == J.PALETTE_NAMES.index(lab.palette)))
        hf.append(J.hf_energy(rec) / max(J.hf_energy(real), 1e-9))
        psnr.append(_psnr(rec, real))
    return {"clips": clips, "family_right_reconstructed": round(float(np.mean(ok_rec)), 3),
            "family_right_world": round(float(np.mean(ok_real)), 3),
            "palette_right_reconstructed": round(float(np.mean(pal_rec)), 3),
            "hf_ratio_median": round(float(np.median(hf)), 3), "psnr_db": round(float(np.mean(psnr)), 2)}


def few_step(flow: FlowModel, x_T: torch.Tensor, sigmas: Sequence[float], gen: torch.Generator) -> torch.Tensor:
    """The engine's sampler: x0 = x - sigma v at each sigma, re-noised to the next with fresh noise."""
    x, x0 = x_T, x_T
    for i, s in enumerate(sigmas):
        x0 = x - s * flow(x, s)
        if i < len(sigmas) - 1:
            nxt = sigmas[i + 1]
            x = (1 - nxt) * x0 + nxt * torch.randn(x.shape, generator=gen)
    return x0


def euler_ode(flow: FlowModel, x_T: torch.Tensor, steps: int, shift: float) -> torch.Tensor:
    """``steps`` Euler steps of dx/dsigma = v from sigma 1 to 0 on the shifted grid."""
    x = x_T
    us = np.linspace(1.0, 0.0, steps + 1)
    for a, b in zip(us[:-1], us[1:]):
        s, s2 = sigma_of(float(a), shift), sigma_of(float(b), shift)
        x = x + (s2 - s) * flow(x, s)
    return x


def first_block_flow(dit: CausalWanDiT, emb: torch.Tensor, frames: int) -> FlowModel:
    """The DiT on a first block (no cache): full attention inside the block, as the engine's first call."""
    cross = dit.cross_kv(emb, compact=False)
    positions = torch.arange(frames)

    def flow(x: torch.Tensor, sigma: float) -> torch.Tensor:
        n = x.shape[1] * (x.shape[3] // dit.cfg.patch_size[1]) * (x.shape[4] // dit.cfg.patch_size[2])   # tokens
        mask = torch.ones(n, n, dtype=torch.bool)
        t = torch.full(x.shape[:2], sigma * 1000.0)                                   # [B, F]
        return dit.masked(x, t, positions, mask, cross)
    return flow


@torch.no_grad()
def sampler_gap(dit: CausalWanDiT, codec: AECodec, encode: Callable[[list[str]], torch.Tensor], probe: J.Probe,
                shift: float, ode_steps: Sequence[int] = (8, 32), frames: int = 3, per_family: int = 2,
                seed: int = 0, steps: Sequence[int] = (1000, 750, 500, 250)) -> dict[str, Any]:
    rng = random.Random(seed)
    labels = [W.random_label(rng, family=f) for f in W.FAMILIES for _ in range(per_family)]
    captions = [W.caption(lab, rng) for lab in labels]
    flow = first_block_flow(dit.eval(), encode(captions).float(), frames)
    gen = torch.Generator().manual_seed(seed)
    lat = (len(labels), frames, dit.cfg.in_dim, *codec_grid(codec))
    x_T = torch.randn(lat, generator=gen)
    sigmas = engine_sigmas(shift, steps)
    samples = {f"engine_{len(steps)}_steps": few_step(flow, x_T, sigmas, gen)}
    for n in ode_steps:
        samples[f"ode_{n}_steps"] = euler_ode(flow, x_T, n, shift)
    out: dict[str, Any] = {"captions": len(captions), "frames": frames, "sigmas": [round(s, 3) for s in sigmas]}
    reference = [W.render(W.Scene(lab, rng.randrange(2 ** 31)), frames, rng.randrange(0, 400)) for lab in labels]
    for name, z in samples.items():
        out[name] = _score(codec, probe, z, labels, reference, palette=False)
    return out


@torch.no_grad()
def guidance_gain(dit: CausalWanDiT, weak: CausalWanDiT, codec: AECodec,
                  encode: Callable[[list[str]], torch.Tensor], probe: J.Probe, shift: float,
                  weights: Sequence[float] = (0.0, 0.5, 1.0, 1.5), frames: int = 3, per_family: int = 8,
                  seed: int = 0, steps: Sequence[int] = (1000, 750, 500, 250)) -> dict[str, Any]:
    """The first block by the engine's few-step sampler with the flow ``v + w (v - v_weak)``
    (autoguidance by a weaker checkpoint) for each ``w`` in ``weights``, from the same noise and
    re-noise draws: what ``--stage2 guided`` would distil into the model, measured before training."""
    rng = random.Random(seed)
    labels = [W.random_label(rng, family=f) for f in W.FAMILIES for _ in range(per_family)]
    emb = encode([W.caption(lab, rng) for lab in labels]).float()
    good, bad = first_block_flow(dit.eval(), emb, frames), first_block_flow(weak.eval(), emb, frames)
    x_T = torch.randn((len(labels), frames, dit.cfg.in_dim, *codec_grid(codec)),
                      generator=torch.Generator().manual_seed(seed))
    sigmas = engine_sigmas(shift, steps)
    reference = [W.render(W.Scene(lab, rng.randrange(2 ** 31)), frames, rng.randrange(0, 400)) for lab in labels]
    out: dict[str, Any] = {"captions": len(labels), "frames": frames, "sigmas": [round(s, 3) for s in sigmas]}
    for w in weights:
        def flow(x: torch.Tensor, sigma: float, w: float = w) -> torch.Tensor:
            v = good(x, sigma)
            return v + w * (v - bad(x, sigma)) if w else v
        z = few_step(flow, x_T, sigmas, torch.Generator().manual_seed(seed + 1))
        out[f"w={w:g}"] = _score(codec, probe, z, labels, reference)
    return out


def engine_sigmas(shift: float, steps: Sequence[int]) -> list[float]:
    """The sigmas of the engine's warped steps at ``shift``."""
    return [float(s) for s in make_schedule(shift, 1000).sigma(warp_steps(tuple(steps), shift))]


def _score(codec: AECodec, probe: J.Probe, z: torch.Tensor, labels: Sequence[W.Label],
           reference: Sequence[np.ndarray], palette: bool = True) -> dict[str, float]:
    """Probe accuracy of decoded latents ``z`` [B, F, C, h, w] against ``labels``, and their
    high-frequency energy over the world's ``reference`` frames for the same captions (median)."""
    frames_u8 = _to_uint8(codec.latents_to_pixels(z))
    got = [probe.classify(fr) for fr in frames_u8]
    out = {"family_right": float(np.mean([np.mean(f == J.FAMILY_NAMES.index(lab.family))
                                          for (f, _), lab in zip(got, labels)]))}
    if palette:
        out["palette_right"] = float(np.mean([np.mean(p == J.PALETTE_NAMES.index(lab.palette))
                                              for (_, p), lab in zip(got, labels)]))
    out["hf_ratio_median"] = float(np.median([J.hf_energy(fr) / max(J.hf_energy(real), 1e-9)
                                              for fr, real in zip(frames_u8, reference)]))
    return {k: round(v, 3) for k, v in out.items()}


def codec_grid(codec: AECodec) -> tuple[int, int]:
    side = W.SIZE // codec.config.factor
    return side, side
