"""Video-to-video through the streaming VAE encoder, and the drift guard."""

import numpy as np
import torch

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine


def gradient_frames(n, h=64, w=64):
    y, x = np.mgrid[0:h, 0:w]
    frame = np.stack([x * 4 % 256, y * 4 % 256, (x + y) * 2 % 256], -1).astype(np.uint8)
    return np.repeat(frame[None], n, axis=0)


def test_v2v_enters_at_strength_step_and_follows_input(tiny_bundle):
    requested = []

    def source(n):
        requested.append(n)
        return gradient_frames(n)

    results = {}
    for strength in (0.0, 0.25, 1.0):
        e = Engine(tiny_bundle, StreamConfig(height=64, width=64), prompt="a red ball", seed=3, source=source)
        e.apply(C.SetV2V(amount=strength))
        blocks = list(e.run(2))
        results[strength] = blocks
    assert results[0.0][0].v2v_step is None
    assert results[0.25][0].v2v_step == 3 and results[1.0][0].v2v_step == 0
    assert requested[:2] == [9, 12]                       # 1 + 4 + 4 pixel frames, then 3 x 4
    # entering late (strength 0.25) keeps the latent closest to the encoded input
    enc = tiny_bundle.vae.encode_frames(torch.from_numpy(gradient_frames(9)), tiny_bundle.vae.new_encode_state())[0]
    d_low = (results[0.25][0].latents - enc).abs().mean()
    d_high = (results[1.0][0].latents - enc).abs().mean()
    assert d_low < d_high


def test_v2v_without_frames_falls_back_to_t2v(tiny_bundle):
    e = Engine(tiny_bundle, StreamConfig(height=64, width=64), source=lambda n: None)
    e.apply(C.SetV2V(amount=0.5))
    assert e.next_block().v2v_step is None


def test_drift_guard_triggers_purge(tiny_bundle):
    e = Engine(tiny_bundle, StreamConfig(height=64, width=64), prompt="a red ball", seed=1)
    e.apply(C.SetDriftGuard(enabled=True, strength=2, threshold=1e-6))
    blocks = list(e.run(6))
    assert any(b.drift_triggered for b in blocks)
    assert e.state.drift.triggers >= 1 and e.state.purges >= 1
    purged = [b for b in blocks if b.purge_step is not None]
    assert purged and purged[0].purge_step == 1            # strength 2 -> before step 1
    assert any(entry.command == "DriftPurge" for entry in e.log)
    off = Engine(tiny_bundle, StreamConfig(height=64, width=64), prompt="a red ball", seed=1)
    assert not any(b.drift_triggered for b in off.run(6))
    assert len(blocks[-1].drift) == 3
