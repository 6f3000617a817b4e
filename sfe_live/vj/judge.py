"""Judges of generated VJ frames, independent of the model that made them.

* :func:`global_motion` -- per consecutive frame pair, an affine optical-flow fit (Lucas-Kanade
  on the whole frame, iterated with warping, on blurred luminance): mean flow (u, v) in pixels
  per frame, divergence (zoom: > 0 expands, "out") and curl (> 0 turns clockwise on screen).
* :func:`motion_ok` -- whether a rollout moved the way its direction word says.
* :func:`hf_energy` -- high-frequency energy (mean squared Laplacian), the speckle measure.
* :class:`Probe` -- a small CNN trained on the world's own ground-truth frames that names a
  frame's family and palette (trained once by :func:`train_probe`, never on model outputs).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sfe_live.vj import world as W

log = logging.getLogger("sfe_live.vj.judge")


def _gray(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(frames)).float() / 255.0                 # [T, H, W, 3]
    g = (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[:, None]  # [T, 1, H, W]
    return blur(g, torch.full((g.shape[0],), 1.5))


def global_motion(frames: np.ndarray, iters: int = 4) -> np.ndarray:
    """uint8 [T, H, W, 3] -> float [T-1, 4]: (u, v, divergence, curl) per frame pair.

    u, v in pixels per frame at the frame centre (x right, y down); divergence and curl of the
    fitted affine flow, per frame (unitless: flow change per pixel)."""
    g = _gray(frames)
    g = (g - g.mean((1, 2, 3), keepdim=True)) / (g.std((1, 2, 3), keepdim=True) + 1e-3)   # pulsing-proof
    a, b = g[:-1], g[1:]                                   # [N, 1, H, W]
    n, _, h, w = a.shape
    ys, xs = torch.meshgrid(torch.arange(h).float() - (h - 1) / 2, torch.arange(w).float() - (w - 1) / 2,
                            indexing="ij")
    p = torch.zeros(n, 6)                                  # u = p0 + p1 x + p2 y, v = p3 + p4 x + p5 y
    border = 6
    sl = (slice(None), 0, slice(border, h - border), slice(border, w - border))
    xx, yy = xs[border:h - border, border:w - border].reshape(-1), ys[border:h - border, border:w - border].reshape(-1)
    for _ in range(iters):
        u = p[:, 0, None, None] + p[:, 1, None, None] * xs + p[:, 2, None, None] * ys
        v = p[:, 3, None, None] + p[:, 4, None, None] * xs + p[:, 5, None, None] * ys
        gx = (xs + u) / ((w - 1) / 2)
        gy = (ys + v) / ((h - 1) / 2)
        bw = F.grid_sample(b, torch.stack([gx, gy], -1), align_corners=True, padding_mode="border")
        avg = 0.5 * (a + bw)
        ix = (avg[..., :, 2:] - avg[..., :, :-2]) / 2
        iy = (avg[..., 2:, :] - avg[..., :-2, :]) / 2
        ix = F.pad(ix, (1, 1, 0, 0))
        iy = F.pad(iy, (0, 0, 1, 1))
        it = bw - a
        Ix, Iy, It = ix[sl].reshape(n, -1), iy[sl].reshape(n, -1), it[sl].reshape(n, -1)
        A = torch.stack([Ix, Ix * xx, Ix * yy, Iy, Iy * xx, Iy * yy], -1)   # [N, P, 6]
        AtA = A.transpose(1, 2) @ A
        # ridge: an unconstrained direction (stripes move only across themselves: the aperture
        # problem) stays at zero flow instead of taking noise
        AtA = AtA + 1e-2 * AtA.diagonal(dim1=1, dim2=2).mean(1)[:, None, None] * torch.eye(6)
        dp = torch.linalg.solve(AtA, -(A.transpose(1, 2) @ It[..., None]))[..., 0]
        p = p + dp.clamp(-8, 8)
    return torch.stack([p[:, 0], p[:, 3], p[:, 1] + p[:, 5], p[:, 4] - p[:, 2]], -1).numpy()


def motion_ok(direction: str, motion: np.ndarray) -> bool | None:
    """Did frames with per-pair ``motion`` [N, 4] move as ``direction`` says? (None: no direction)."""
    m = np.median(motion, 0)
    u, v, div, curl = (float(x) for x in m)
    if direction == "left":
        return u < 0 and abs(u) > abs(v)
    if direction == "right":
        return u > 0 and abs(u) > abs(v)
    if direction == "up":
        return v < 0 and abs(v) > abs(u)
    if direction == "down":
        return v > 0 and abs(v) > abs(u)
    if direction == "out":
        return div > 0
    if direction == "in":
        return div < 0
    if direction == "clockwise":
        return curl > 0
    if direction == "counter-clockwise":
        return curl < 0
    return None


def hf_energy(frames: np.ndarray) -> float:
    """Mean squared Laplacian of the luminance (0..1 scale): speckle and fine detail."""
    x = torch.as_tensor(np.asarray(frames)).float() / 255.0
    g = (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[:, None]
    lap = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    return float(F.conv2d(g, lap).pow(2).mean())


# -- the family / palette probe --------------------------------------------------------------------

FAMILY_NAMES = list(W.FAMILIES)
PALETTE_NAMES = list(W.PALETTES)


class Probe(nn.Module):
    """A small CNN: one frame [B, 3, 96, 96] in [0, 1] -> family logits, palette logits."""

    def __init__(self) -> None:
        super().__init__()
        c = 32
        self.body = nn.Sequential(
            nn.Conv2d(3, c, 3, 2, 1), nn.SiLU(), nn.Conv2d(c, c, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(c, 2 * c, 3, 2, 1), nn.SiLU(), nn.Conv2d(2 * c, 2 * c, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.SiLU(), nn.Conv2d(4 * c, 4 * c, 3, 1, 1), nn.SiLU())
        # colour statistics help the palette head: a per-channel histogram-ish summary
        self.family = nn.Linear(4 * c * 2, len(FAMILY_NAMES))
        self.palette = nn.Linear(4 * c * 2 + 48, len(PALETTE_NAMES))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        feat = torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1)
        q = torch.quantile(x.flatten(2), torch.linspace(0.05, 1.0, 16), dim=2)   # [16, B, 3]
        col = q.permute(1, 0, 2).reshape(x.shape[0], 48)
        return self.family(feat), self.palette(torch.cat([feat, col], 1))

    @torch.no_grad()
    def classify(self, frames: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [T, H, W, 3] -> (family index [T], palette index [T])."""
        self.eval()
        fam, pal = [], []
        for i in range(0, len(frames), batch):
            x = torch.as_tensor(np.asarray(frames[i:i + batch])).permute(0, 3, 1, 2).float() / 255.0
            a, b = self(x)
            fam.append(a.argmax(1).numpy())
            pal.append(b.argmax(1).numpy())
        return np.concatenate(fam), np.concatenate(pal)


@dataclass
class ProbeReport:
    steps: int
    seconds: float
    family_acc: float
    palette_acc: float
    family_acc_blurred: float = 0.0                  # the same held-out frames, Gaussian blur sigma 1.5
    family_acc_per_family: dict[str, float] = field(default_factory=dict)


def blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian blur (9 taps, replicated edges) of ``x`` [B, C, H, W] with a per-image ``sigma`` [B] in
    pixels (0 = unchanged)."""
    r = torch.arange(-4, 5).float()                                            # [9]
    k = torch.exp(-r[None] ** 2 / (2 * sigma.clamp(min=1e-3)[:, None] ** 2))   # [B, 9]
    k = k / k.sum(1, keepdim=True)
    b, c, h, w = x.shape
    y = x.reshape(1, b * c, h, w)
    kk = k.repeat_interleave(c, 0)                                             # [B*C, 9]
    y = F.conv2d(F.pad(y, (4, 4, 0, 0), mode="replicate"), kk.view(b * c, 1, 1, 9), groups=b * c)
    y = F.conv2d(F.pad(y, (0, 0, 4, 4), mode="replicate"), kk.view(b * c, 1, 9, 1), groups=b * c)
    return y.reshape(b, c, h, w)


def _probe_batch(rng: random.Random, n: int, family: str | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    xs, fy, py = [], [], []
    for _ in range(n):
        lab = W.random_label(rng, family=family)
        f = W.render(W.Scene(lab, rng.randrange(2 ** 31)), 1, rng.randrange(0, 400))[0]
        xs.append(f)
        fy.append(FAMILY_NAMES.index(lab.family))
        py.append(PALETTE_NAMES.index(lab.palette))
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float() / 255.0
    return x, torch.tensor(fy), torch.tensor(py)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Half the batch blurred (sigma 0.3-1.8 px) and a third given faint noise: a frame's family and
    palette do not depend on its sharpness, and generated frames are softer than the world's."""
    b = x.shape[0]
    sig = torch.where(torch.rand(b, generator=gen) < 0.5, 0.3 + 1.5 * torch.rand(b, generator=gen), torch.zeros(b))
    x = torch.where((sig > 0)[:, None, None, None], blur(x, sig), x)
    noisy = (torch.rand(b, 1, 1, 1, generator=gen) < 0.33).float()
    x = x + noisy * torch.randn(x.shape, generator=gen) * 0.015
    return x.clamp(0.0, 1.0)


def held_out_set(seed: int, per_family: int = 40) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fresh world frames, ``per_family`` of each family (a seed the training never draws)."""
    rng = random.Random(seed + 12345)
    parts = [_probe_batch(rng, per_family, family) for family in FAMILY_NAMES]
    return tuple(torch.cat(t) for t in zip(*parts))  # type: ignore[return-value]


@torch.no_grad()
def probe_report(probe: Probe, steps: int, seconds: float, seed: int = 0) -> ProbeReport:
    """Accuracy of ``probe`` on held-out world frames: overall, blurred and per family."""
    x, fy, py = held_out_set(seed)
    probe.eval()
    a, b = probe(x)
    ab, _ = probe(blur(x, torch.full((x.shape[0],), 1.5)))
    ok = a.argmax(1) == fy
    per = {name: round(float(ok[fy == i].float().mean()), 3) for i, name in enumerate(FAMILY_NAMES)}
    return ProbeReport(steps, seconds, float(ok.float().mean()), float((b.argmax(1) == py).float().mean()),
                       float((ab.argmax(1) == fy).float().mean()), per)


def train_probe(seconds: float = 240.0, seed: int = 0, batch: int = 64) -> tuple[Probe, ProbeReport]:
    """Train the probe on freshly rendered ground-truth frames (augmented: :func:`_augment`) for
    ``seconds``; report held-out accuracy (:func:`probe_report`)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    probe = Probe()
    opt = torch.optim.AdamW(probe.parameters(), lr=2e-3, weight_decay=1e-4)
    probe.train()
    t0 = time.time()
    steps = 0
    while time.time() - t0 < seconds:
        frac = (time.time() - t0) / seconds
        for g in opt.param_groups:
            g["lr"] = 2e-3 * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * frac)))
        x, fy, py = _probe_batch(rng, batch)
        a, b = probe(_augment(x, gen))
        loss = F.cross_entropy(a, fy) + F.cross_entropy(b, py)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        if steps % 100 == 0:
            log.info("probe step %d loss %.3f (%.0f of %.0f s)", steps, loss.item(), time.time() - t0, seconds)
    return probe, probe_report(probe, steps, time.time() - t0, seed)
