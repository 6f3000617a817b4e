"""Purge modes side by side on the demo model: full, keep-sink, keep-last and no purge (a cut).

For pairs of prompts that differ in colour (same object, motion, black background) the stream runs
``--before`` blocks on the first prompt, switches to the second (``SetPrompt`` with transition
``purge`` at strength 3 and the mode, or ``cut``), and runs ``--after`` blocks. Per switch:

* blocks until the new colour is on screen (most frames of a block show it; None = never);
* continuity: mean |difference| (0..255) between the last frame before and the first after;
* object position jump: distance in pixels (the world wraps) between the object's centroid in
  those two frames.

Usage: python scripts/purge_modes.py [--pairs 8] [--threads 1] [--out purge_modes.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from typing import Any, Optional

import numpy as np
import torch

from sfe_live.config import StreamConfig
from sfe_live.demo import evaluate as E
from sfe_live.demo import world as W
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.model.bundle import load_model

VARIANTS = ("none", "full", "keep-sink", "keep-last")


def object_centroid(frame: np.ndarray, threshold: int = 60) -> Optional[tuple[float, float]]:
    """Circular centroid (x, y) of the non-black pixels of one frame (None: no object)."""
    mask = frame.max(-1) > threshold
    if mask.sum() < E.MIN_PX:
        return None
    ys, xs = np.nonzero(mask)
    ang = 2 * np.pi * (np.arange(W.SIZE) + 0.5) / W.SIZE
    cx = np.angle(np.exp(1j * ang[xs]).mean()) % (2 * np.pi) * W.SIZE / (2 * np.pi)
    cy = np.angle(np.exp(1j * ang[ys]).mean()) % (2 * np.pi) * W.SIZE / (2 * np.pi)
    return float(cx), float(cy)


def switch(bundle: Any, a: str, b: str, colour_b: str, variant: str, seed: int, before: int, after: int,
           sink: int) -> dict[str, Any]:
    stream = StreamConfig(height=64, width=64, frames_per_block=3, sink_frames=sink, seed=seed)
    eng = Engine(bundle, stream, prompt=a, seed=seed)
    last = None
    for _ in range(before):
        last = eng.next_block().frames[-1]
    if variant == "none":
        eng.apply(C.SetPrompt(b, transition="cut"))
    else:
        eng.apply(C.SetPrompt(b, transition="purge", strength=C.MAX_STRENGTH, purge_mode=variant))
    adopt, first = None, None
    for k in range(after):
        fr = eng.next_block().frames
        if first is None:
            first = fr[0]
        cols = E.frame_colours(fr, "black")
        if adopt is None and sum(c == colour_b for c in cols) * 2 > len(cols):
            adopt = k + 1
    assert last is not None and first is not None
    ca, cb = object_centroid(last), object_centroid(first)
    jump = None if ca is None or cb is None else float(np.hypot(E._wrap(cb[0] - ca[0]), E._wrap(cb[1] - ca[1])))
    return {"blocks_to_adopt": adopt, "mad": float(np.abs(first.astype(np.float32) - last.astype(np.float32)).mean()),
            "jump_px": jump}


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--before", type=int, default=6)
    ap.add_argument("--after", type=int, default=6)
    ap.add_argument("--sink", type=int, default=1, help="sink frames (keep-sink and keep-last keep them)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    bundle = load_model("demo", device="cpu", dtype=torch.float32)
    rng = random.Random(args.seed + 7)
    cases = []
    for _ in range(args.pairs):
        s1 = W.random_scene(rng, background="black")
        s2 = W.random_scene(rng, colour=rng.choice([c for c in W.COLOURS if c != s1.colour]), obj=s1.obj,
                            motion=s1.motion, background="black")
        cases.append((W.caption(s1, rng), W.caption(s2, rng), s2.colour))
    out: dict[str, Any] = {"pairs": args.pairs, "sink_frames": args.sink, "strength": C.MAX_STRENGTH}
    for variant in VARIANTS:
        res = [switch(bundle, a, b, cb, variant, args.seed + i, args.before, args.after, args.sink)
               for i, (a, b, cb) in enumerate(cases)]
        adopted = [r["blocks_to_adopt"] for r in res if r["blocks_to_adopt"] is not None]
        jumps = [r["jump_px"] for r in res if r["jump_px"] is not None]
        out[variant] = {"adopted": f"{len(adopted)}/{len(res)}",
                        "blocks_to_adopt_mean": round(float(np.mean(adopted)), 2) if adopted else None,
                        "blocks_to_adopt": [r["blocks_to_adopt"] for r in res],
                        "mad_mean": round(float(np.mean([r["mad"] for r in res])), 2),
                        "jump_px_mean": round(float(np.mean(jumps)), 2) if jumps else None,
                        "jump_px_median": round(float(np.median(jumps)), 2) if jumps else None}
    text = json.dumps(out, indent=1)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
