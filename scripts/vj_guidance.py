"""What autoguidance would give the VJ model before any training: the first block by the engine's
4-step sampler with the flow ``v + w (v - v_weak)``, per guidance weight ``w``.

``python scripts/vj_guidance.py --model MODEL --weak FOLDER [--weights 0 0.5 1 1.5] [--json OUT]``
prints :func:`sfe_live.vj.diagnose.guidance_gain` as JSON: the probe's family and palette
accuracy and the high-frequency energy over the world's, for ``--per-family`` captions of every
family from the same noise. ``w = 0`` is the model as the engine runs it; a gain at some ``w`` is
what ``python -m sfe_live.vj.train --stage2 guided --guide-from FOLDER --guide-weight w`` can
distil into it. About 1 minute on 2 cores with 8 captions per family.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/vj_guidance.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="vj", help="model spec (default: the built-in vj model)")
    p.add_argument("--weak", required=True, help="folder with the weaker checkpoint's dit.safetensors")
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.5, 1.0, 1.5])
    p.add_argument("--per-family", type=int, default=8)
    p.add_argument("--probe", default="docs/vj/probe.safetensors")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None, help="also write the figures here")
    a = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING)
    import torch

    from sfe_live.model.aecodec import AECodec
    from sfe_live.model.bundle import load_model
    from sfe_live.model.checkpoints import load_dit
    from sfe_live.model.files import ModelLoadError
    from sfe_live.vj.diagnose import guidance_gain
    from sfe_live.vj.evaluate import load_or_train_probe
    torch.set_num_threads(a.threads)
    bundle = load_model(a.model, device="cpu", dtype=torch.float32)
    if not isinstance(bundle.vae, AECodec):
        raise SystemExit(f"--model {a.model}: not a VJ model (its codec is not the learned autoencoder)")
    try:
        weak = load_dit(Path(a.weak) / "dit.safetensors", config=bundle.dit.cfg)
    except ModelLoadError as exc:
        raise SystemExit(f"--weak: {exc}") from None
    probe, _ = load_or_train_probe(Path(a.probe), 300.0)
    out = {"model": a.model, "weak": a.weak,
           **guidance_gain(bundle.dit, weak, bundle.vae, bundle.text.encoder.encode, probe, bundle.config.shift,
                           weights=a.weights, per_family=a.per_family, seed=a.seed)}
    text = json.dumps(out, indent=1)
    if a.json:
        Path(a.json).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
