"""Train the VJ model's learned codec once: ``python -m sfe_live.vj.train_codec``.

Frames are rendered on the fly from the VJ world (:mod:`sfe_live.vj.world`). Loss: L1 + MSE of
the reconstruction, with Gaussian noise added to the latents half of the time (up to 0.2 of
their spread), so the decoder turns the sampler's small latent errors into clean frames instead
of speckle. At the end the per-channel latent mean and spread are measured on fresh frames and
frozen into the codec (the DiT then sees roughly unit-variance latents). Saved atomically to
``OUT/codec.safetensors`` with a JSON report; ``--resume`` continues from it.

``--decoder-only`` trains the decoder alone, with the encoder and the normalisation frozen: the
latent space stays exactly the one a DiT was trained on, so the decoder can keep improving after
(or while) the DiT trains.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from sfe_live.io import atomic_write_bytes, atomic_write_text
from sfe_live.model.aecodec import AECodec, AECodecConfig
from sfe_live.vj import world as W

log = logging.getLogger("sfe_live.vj.train_codec")
REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "assets" / "vj"


def frame_batch(rng: random.Random, n: int) -> torch.Tensor:
    """[n, 3, S, S] in [-1, 1]: single frames of random scenes at random times."""
    fr = [W.render(W.Scene(W.random_label(rng), rng.randrange(2 ** 31)), 1, rng.randrange(0, 600))[0]
          for _ in range(n)]
    return torch.from_numpy(np.stack(fr)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(-1, 1) - b) ** 2).mean()) / 4.0            # on a 0..1 scale
    return 10 * math.log10(1.0 / max(mse, 1e-12))


@torch.no_grad()
def fit_normalisation(codec: AECodec, rng: random.Random, frames: int = 1024) -> None:
    zs = torch.cat([codec.raw_encode(frame_batch(rng, 64)) for _ in range(frames // 64)])   # [N, z, h, w]
    codec.z_mean.copy_(zs.mean((0, 2, 3)))
    codec.z_std.copy_(zs.std((0, 2, 3)).clamp_min(1e-3))


def save(codec: AECodec, out: Path, report: dict) -> None:
    from safetensors.torch import save as st_bytes
    sd = {k: v.detach().contiguous() for k, v in codec.state_dict().items()}
    atomic_write_bytes(out / "codec.safetensors", st_bytes(sd))
    atomic_write_text(out / "codec_report.json", json.dumps(report, indent=1))


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sfe_live.vj.train_codec", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--batch", type=int, default=24)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--z-dim", type=int, default=16)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--latent-noise", type=float, default=0.2)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--decoder-only", action="store_true",
                   help="freeze the encoder and the normalisation (keeps a trained DiT's latent space)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.StreamHandler(sys.stdout), logging.FileHandler(out / "codec_train.log")])
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    codec = AECodec(AECodecConfig(z_dim=a.z_dim, width=a.width))
    if a.resume and (out / "codec.safetensors").exists():
        from safetensors.torch import load_file
        codec.load_state_dict(load_file(str(out / "codec.safetensors")))
        if not a.decoder_only:
            codec.z_mean.zero_()
            codec.z_std.fill_(1.0)
        log.info("resumed from %s", out / "codec.safetensors")
    elif a.decoder_only:
        p.error("--decoder-only needs --resume and a trained codec in --out")
    codec.encoder.requires_grad_(not a.decoder_only)
    opt = torch.optim.AdamW([q for q in codec.parameters() if q.requires_grad], lr=a.lr, weight_decay=1e-5)
    t0 = time.time()
    step = 0
    hist = []
    while time.time() - t0 < a.minutes * 60:
        frac = (time.time() - t0) / (a.minutes * 60)
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, (step + 1) / 50) * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * frac)))
        x = frame_batch(rng, a.batch)
        if a.decoder_only:
            with torch.no_grad():
                z = codec.raw_encode(x)
        else:
            z = codec.raw_encode(x)
        if a.latent_noise > 0:
            spread = z.detach().std((0, 2, 3), keepdim=True)
            amp = a.latent_noise * torch.rand(z.shape[0], 1, 1, 1) * (torch.rand(z.shape[0], 1, 1, 1) < 0.5)
            z = z + amp * spread * torch.randn_like(z)
        y = codec.decoder(z)
        loss = F.l1_loss(y, x) + F.mse_loss(y, x) + 1e-4 * z.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(codec.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            hist.append({"step": step, "min": round((time.time() - t0) / 60, 2), "loss": float(loss.detach())})
            log.info("codec step %d %3.0f%% %.1f min loss %.4f", step, 100 * frac, (time.time() - t0) / 60,
                     float(loss))
    codec.eval()
    if not a.decoder_only:
        fit_normalisation(codec, random.Random(a.seed + 7))
    test = frame_batch(random.Random(a.seed + 99), 256)
    with torch.no_grad():
        rec = codec.latents_to_pixels(codec.pixels_to_latents(test[:, None]))[:, 0]
    report = {"steps": step, "decoder_only": a.decoder_only, "minutes": round((time.time() - t0) / 60, 1), "psnr_db": round(psnr(rec, test), 2),
              "config": codec.config.to_dict(), "history": hist[-200:]}
    save(codec, out, report)
    log.info("codec: %d steps, PSNR %.2f dB on 256 fresh frames; saved %s", step, report["psnr_db"],
             out / "codec.safetensors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
