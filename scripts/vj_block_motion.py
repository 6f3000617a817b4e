"""Where the VJ model's motion happens: mean frame change inside a block and across block
boundaries, for six un-pulsed captions (or every family, pulsed or not), beside the world's own
for the same labels.

    python scripts/vj_block_motion.py [--model assets/vj] [--blocks 30] [--families all] [--pulse]

Prints one line per caption (with its flicker ratio, boundary / within) and the means (0..255 per
pixel and channel), and the median of the per-caption ratios. The flicker ratio of
the evaluation is boundary / within; this says whether a high ratio means too much change at the
boundary or too little inside the block.
"""

from __future__ import annotations

import argparse
import random

import numpy as np
import torch

from sfe_live.config import StreamConfig
from sfe_live.demo.evaluate import flicker
from sfe_live.engine.engine import Engine
from sfe_live.model.bundle import load_model
from sfe_live.vj import world as W

FAMILIES = ("waves", "stripes", "plasma", "tunnel", "checkerboard", "smoke")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="assets/vj")
    p.add_argument("--blocks", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--families", default="six", choices=("six", "all"),
                   help="six un-pulsed families (the default) or all of the world's")
    p.add_argument("--steps", type=int, default=4,
                   help="engine denoising steps, evenly spaced from 1000 (4 is the engine's own)")
    p.add_argument("--pulse", action="store_true", help="pulsed captions (the evaluation's stream prompt is)")
    a = p.parse_args()
    families = FAMILIES if a.families == "six" else tuple(W.FAMILIES)
    torch.set_num_threads(a.threads)
    bundle = load_model(a.model, device="cpu", dtype=torch.float32)
    rng = random.Random(3)
    rows, ratios = [], []
    for i, fam in enumerate(families):
        lab = W.random_label(rng, family=fam, pulse=a.pulse)
        prompt = W.caption(lab, rng)
        eng = Engine(bundle, StreamConfig(height=W.SIZE, width=W.SIZE, frames_per_block=3, seed=i,
                                          denoising_steps=tuple(round(1000 * (1 - j / a.steps))
                                                                for j in range(a.steps)),
                                          shift=bundle.config.shift), prompt=prompt, seed=i)
        frames = np.concatenate([eng.next_block().frames for _ in range(a.blocks)])[9:]   # past the first blocks
        real = W.render(W.Scene(lab, i), len(frames), 50)
        f, w = flicker(frames, 3), flicker(real, 3)
        rows.append((f["within"], f["boundary"], w["within"], w["boundary"]))
        ratios.append(f["ratio"])
        print(f"{prompt}: model within {f['within']:.1f} boundary {f['boundary']:.1f} (ratio {f['ratio']:.2f}) | "
              f"world within {w['within']:.1f} boundary {w['boundary']:.1f}")
    m = np.mean(rows, 0)
    print(f"mean: model within {m[0]:.1f} boundary {m[1]:.1f} (ratio {m[1] / max(m[0], 1e-6):.2f}; "
          f"median per caption {float(np.median(ratios)):.2f}) | "
          f"world within {m[2]:.1f} boundary {m[3]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
