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

Neither is a figure of the model as it runs; both are the model's own ceilings, measured.
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
    sched = make_schedule(shift, 1000)
    sigmas = [float(s) for s in sched.sigma(warp_steps(tuple(steps), shift))]
    samples = {f"engine_{len(steps)}_steps": few_step(flow, x_T, sigmas, gen)}
    for n in ode_steps:
        samples[f"ode_{n}_steps"] = euler_ode(flow, x_T, n, shift)
    out: dict[str, Any] = {"captions": len(captions), "frames": frames, "sigmas": [round(s, 3) for s in sigmas]}
    reference = [W.render(W.Scene(lab, rng.randrange(2 ** 31)), frames, rng.randrange(0, 400)) for lab in labels]
    for name, z in samples.items():
        frames_u8 = _to_uint8(codec.latents_to_pixels(z))
        fam = [np.mean(probe.classify(fr)[0] == J.FAMILY_NAMES.index(lab.family)) for fr, lab in zip(frames_u8, labels)]
        hf = [J.hf_energy(fr) / max(J.hf_energy(real), 1e-9) for fr, real in zip(frames_u8, reference)]
        out[name] = {"family_right": round(float(np.mean(fam)), 3), "hf_ratio_median": round(float(np.median(hf)), 3)}
    return out


def codec_grid(codec: AECodec) -> tuple[int, int]:
    side = W.SIZE // codec.config.factor
    return side, side
