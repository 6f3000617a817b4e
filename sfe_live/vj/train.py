"""Train the built-in VJ model: ``python -m sfe_live.vj.train`` (options: ``--help``).

The same trainer, losses and denoising block as the demo model (:mod:`sfe_live.demo.train`:
teacher forcing, then the model's own context; ``--resume`` continues from the shipped weights),
on the VJ world (:mod:`sfe_live.vj.world`) through the frozen learned codec
(:mod:`sfe_live.model.aecodec`, trained first by :mod:`sfe_live.vj.train_codec`).

Clips come from a rolling bank of encoded world clips: ``--bank`` clips of 24 frames, each also
rendered with a second palette (same geometry), so a palette switch at any frame is a cut between
the two latent sequences (the codec is per frame, so that is exact); every training step replaces
``--refresh`` clips with freshly rendered ones, so the world stays generated on the fly while the
encoder's cost stays small. ``--family-weights`` draws the families the model fails at more often
(e.g. ``tunnel=3,waves=3``; the others keep weight 1).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import torch

from sfe_live.config import DiTConfig
from sfe_live.demo import train as T
from sfe_live.model.aecodec import AECodec, AECodecConfig
from sfe_live.vj import world as W

log = logging.getLogger("sfe_live.vj.train")

DEFAULT_OUT = T.REPO / "assets" / "vj"
CLIP_FRAMES = 24
TEXT_LEN = 32                 # VJ captions run to ~25 MiniLM tokens (the demo's 20 cut their ends)
FIRST_PROMPT = "pulsing neon tunnel rushing toward the camera, magenta and cyan"   # a show with no prompt


def dit_config(patch: int = 2, layers: int = 4) -> DiTConfig:
    # 12 x 12 latents in 2 x 2 patches: 36 tokens a frame. 3 x 3 patches (16 tokens, the first
    # runs) drew the 4 x 4 token grid as visible 24-pixel seams; the codec's decoder carries the
    # detail inside a token
    return DiTConfig(patch_size=(1, patch, patch), in_dim=16, out_dim=16, dim=192, ffn_dim=768, num_heads=6,
                     num_layers=layers, freq_dim=128, text_dim=384, text_len=TEXT_LEN)


def saved_dit_config(folder: Path) -> Optional[DiTConfig]:
    """The DiT config a training folder was written with (``train_meta.json``), if any."""
    meta = folder / "train_meta.json"
    if not meta.exists():
        return None
    return DiTConfig.from_dict(json.loads(meta.read_text())["dit"])


def load_codec(path: Path) -> AECodec:
    from safetensors.torch import load_file
    sd = load_file(str(path))
    z = sd["z_mean"].shape[0]
    width = sd["encoder.2.weight"].shape[0]
    codec = AECodec(AECodecConfig(z_dim=z, width=width))
    codec.load_state_dict(sd)
    return codec.eval().requires_grad_(False)


class VJWorld:
    """The VJ world for :class:`sfe_live.demo.train.Trainer` (see the module docstring)."""

    size = W.SIZE

    def __init__(self, codec_path: Path, bank: int, refresh: int, seed: int,
                 dit_cfg: Optional[DiTConfig] = None, family_weights: Optional[dict[str, float]] = None) -> None:
        self.codec_path = codec_path
        weights = family_weights or {}
        self.families = list(W.FAMILIES)
        self.family_weights = [float(weights.get(f, 1.0)) for f in self.families]
        self.dit_cfg = dit_cfg or dit_config()
        self.bank_size = bank
        self.refresh = refresh
        self.rng = random.Random(seed + 4242)
        self.bank: list[tuple[W.Label, W.Label, torch.Tensor, torch.Tensor]] = []

    def dit_config(self) -> DiTConfig:
        return self.dit_cfg

    def make_codec(self, args: argparse.Namespace) -> AECodec:
        codec = load_codec(self.codec_path)
        t0 = time.time()
        while len(self.bank) < self.bank_size:
            self.bank.append(self._fresh(codec))
        log.info("clip bank: %d clips x 2 palettes x %d frames encoded in %.0f s", self.bank_size, CLIP_FRAMES,
                 time.time() - t0)
        return codec

    def draw_label(self) -> W.Label:
        """A random scene label, its family drawn by ``family_weights``."""
        return W.random_label(self.rng, family=self.rng.choices(self.families, self.family_weights)[0])

    @torch.no_grad()
    def _fresh(self, codec: AECodec) -> tuple[W.Label, W.Label, torch.Tensor, torch.Tensor]:
        lab = self.draw_label()
        scene = W.Scene(lab, self.rng.randrange(2 ** 31))
        start = self.rng.randrange(0, 400)
        pal = self.rng.choice([p for p in W.PALETTES if p != lab.palette])
        lab2 = replace(lab, palette=pal)
        a = W.render(scene, CLIP_FRAMES, start)
        b = W.render(W.Scene(lab2, scene.seed), CLIP_FRAMES, start)
        px = torch.from_numpy(np.stack([a, b])).permute(0, 1, 4, 2, 3).float().div(127.5).sub(1.0)
        z = codec.pixels_to_latents(px).half()                       # [2, 24, z, 12, 12]
        return lab, lab2, z[0], z[1]

    def label_captions(self) -> Iterable[tuple[W.Label, list[str]]]:
        for lab in W.all_labels():
            yield lab, W.all_captions(lab)

    def clip_batch(self, rng: random.Random, codec: AECodec, batch: int, frames: int,
                   switch_at: Optional[int] = None, object_weight: float = 0.0):
        for _ in range(self.refresh):
            self.bank[rng.randrange(len(self.bank))] = self._fresh(codec)
        zs, labs, labs2 = [], [], []
        for _ in range(batch):
            lab, lab2, za, zb = self.bank[rng.randrange(len(self.bank))]
            o = rng.randrange(0, CLIP_FRAMES - frames + 1)
            if switch_at is None:
                zs.append(za[o:o + frames])
                labs2.append(lab)
            else:
                zs.append(torch.cat([za[o:o + switch_at], zb[o + switch_at:o + frames]]))
                labs2.append(lab2)
            labs.append(lab)
        z = torch.stack(zs).float()                                  # [B, frames, z, 12, 12]
        return z, labs, labs2, torch.ones_like(z)

    def model_meta(self, dit_cfg: DiTConfig, codec: AECodec) -> dict:
        return {"vae_file": "codec.safetensors", "dit": dit_cfg.to_dict(), "vae": codec.config.to_dict(),
                "text": {"kind": "minilm", "dim": 384, "text_len": dit_cfg.text_len, "cache_size": 64},
                "dit_file": "dit.safetensors", "height": W.SIZE, "width": W.SIZE,
                "frames_per_block": T.FRAMES_PER_BLOCK, "prompt": FIRST_PROMPT}

    def codec_weights(self, codec: AECodec) -> Optional[dict[str, torch.Tensor]]:
        return {k: v.contiguous() for k, v in codec.state_dict().items()}


def parse_family_weights(text: str) -> dict[str, float]:
    """``"tunnel=3,waves=2.5"`` -> {family: weight}; ValueError names the bad part."""
    out: dict[str, float] = {}
    for part in filter(None, (x.strip() for x in text.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or name not in W.FAMILIES:
            raise ValueError(f"{part!r}: want family=weight with a family of {', '.join(W.FAMILIES)}")
        try:
            w = float(value)
        except ValueError:
            raise ValueError(f"{part!r}: the weight must be a number") from None
        if not 0.0 < w <= 100.0:
            raise ValueError(f"{part!r}: the weight must be in (0, 100]")
        out[name] = w
    return out


def main(argv: Optional[list[str]] = None) -> int:
    p = T.parser("python -m sfe_live.vj.train", __doc__ or "", DEFAULT_OUT, T.REPO / "out" / "vj-train")
    p.add_argument("--codec", default=str(DEFAULT_OUT / "codec.safetensors"),
                   help="the frozen learned codec (python -m sfe_live.vj.train_codec)")
    p.add_argument("--bank", type=int, default=256, help="encoded clips kept in the rolling bank")
    p.add_argument("--refresh", type=int, default=1, help="bank clips replaced by fresh ones every step")
    p.add_argument("--patch", type=int, choices=(1, 2, 3), default=2,
                   help="new runs: DiT patch side in latents (--resume keeps the folder's own)")
    p.add_argument("--layers", type=int, default=4,
                   help="new runs: DiT blocks; with --init-from a shallower model, the extra blocks start as "
                        "identity copies (--resume keeps the folder's own)")
    p.add_argument("--family-weights", default="", metavar="F=W,...",
                   help="draw these families W times as often as the others (e.g. tunnel=3,waves=2)")
    p.set_defaults(object_weight=0.0, captions_per_label=4, codec_rank=0)
    a = p.parse_args(argv)
    codec = Path(a.codec)
    if not codec.exists():
        p.error(f"{codec}: no learned codec; train it first with python -m sfe_live.vj.train_codec")
    if not 1 <= a.layers <= 32:
        p.error(f"--layers {a.layers}: expected 1 to 32")
    try:
        weights = parse_family_weights(a.family_weights)
    except ValueError as exc:
        p.error(f"--family-weights: {exc}")
    cfg = saved_dit_config(Path(a.out)) if a.resume else None
    return T.start(a, VJWorld(codec, a.bank, a.refresh, a.seed, cfg or dit_config(a.patch, a.layers), weights))


if __name__ == "__main__":
    raise SystemExit(main())
