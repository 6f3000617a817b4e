"""How often the drift guard purges a stream that is not drifting: one line of JSON per prompt.

    python scripts/drift_guard_rate.py [--model vj] [--blocks 320] [--threshold 0.35] [PROMPT ...]

Runs the engine with the guard on (its default strength and threshold unless told) for ``--blocks``
blocks per prompt (320 blocks of 3 frames = one minute at 16 fps) and prints the purges it fired and
at which blocks. A guard that fires on a pulsing or slowly evolving prompt cuts the show for nothing.
"""

from __future__ import annotations

import argparse
import json

import torch

from sfe_live import cli
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine

PROMPTS = ("pulsing neon tunnel rushing toward the camera, magenta and cyan",
           "slow magenta and cyan smoke drifting left")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prompts", nargs="*", default=list(PROMPTS))
    ap.add_argument("--model", default="vj")
    ap.add_argument("--blocks", type=int, default=320)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    args = cli.build_parser().parse_args(["bench", "--model", a.model, "--threads", str(a.threads)])
    bundle = cli.load_bundle(args)
    stream = cli.stream_options(args).resolve(bundle.config)
    for prompt in a.prompts:
        e = Engine(bundle, stream, prompt=prompt, seed=a.seed)
        guard = C.SetDriftGuard(enabled=True) if a.threshold is None else \
            C.SetDriftGuard(enabled=True, threshold=a.threshold)
        e.apply(guard)
        fired = [b.index for b in e.run(a.blocks) if b.drift_triggered]
        seconds = a.blocks * stream.frames_per_block / stream.fps
        print(json.dumps({"prompt": prompt, "blocks": a.blocks, "seconds": round(seconds, 1),
                          "purges": len(fired), "at_blocks": fired}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
