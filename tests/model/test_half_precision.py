"""bf16 and fp16 against fp32 on CPU at a small size: the DiT, the VAE, whole engine blocks.

Half precision on CPU runs the same kernels' dtype rules as CUDA (a mixed-dtype LayerNorm
fails the same way on both), so these tests catch what would crash or drift on a GPU.

Tolerances (relative L2 error ``||half - fp32|| / ||fp32||``, measured values in brackets
on the tiny-random model, CPU, torch 2.13):

* DiT one streaming call: bf16 <= 3 % [0.72 %], fp16 <= 0.5 % [0.09 %]
* VAE decode (pixels) / encode (latents): bf16 <= 5 % [2.1 % / 1.0 %], fp16 <= 0.75 % [0.25 % / 0.13 %]
* engine block latents through memory < 1, purge, re-cache, blend and v2v (7 blocks):
  bf16 <= 3 % [0.65-0.70 %], fp16 <= 0.5 % [0.08-0.09 %]; decoded uint8 frames mean |diff| <= 2
  [bf16 0.71, fp16 0.09].
"""

import numpy as np
import pytest
import torch

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.model.bundle import load_model
from sfe_live.model.cache import KVCache

HALF = {"bf16": torch.bfloat16, "fp16": torch.float16}
TOL_DIT = {"bf16": 0.03, "fp16": 0.005}
TOL_VAE = {"bf16": 0.05, "fp16": 0.0075}
TOL_BLOCK = {"bf16": 0.03, "fp16": 0.005}


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


@pytest.fixture(scope="module")
def bundles():
    return {name: load_model("tiny-random", device="cpu", dtype=dt)
            for name, dt in [("fp32", torch.float32), *HALF.items()]}


@pytest.mark.parametrize("half", list(HALF))
def test_dit_step_half_matches_fp32(bundles, half):
    ref, low = bundles["fp32"].dit, bundles[half].dit
    assert low.blocks[0].norm3.weight.dtype == HALF[half]          # affine norm stays half: the crash case
    cfg = ref.cfg
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, cfg.in_dim, 8, 8, generator=g)
    ctx = torch.zeros(1, cfg.text_len, cfg.text_dim)
    ctx[:, :5] = torch.randn(1, 5, cfg.text_dim, generator=g)
    t = torch.full((1, 3), 750.0)
    outs = {}
    for name, dit in (("fp32", ref), (half, low)):
        dt = next(dit.parameters()).dtype
        cache = KVCache.empty(cfg.num_layers, 1, 6, cfg.tokens_per_frame(8, 8), cfg.num_heads, cfg.head_dim,
                              0, torch.device("cpu"), dt)
        with torch.no_grad():
            outs[name] = dit.step(x.to(dt), t, dit.cross_kv(ctx.to(dt)), cache)
    assert outs[half].dtype == HALF[half]
    assert torch.isfinite(outs[half].float()).all()
    assert rel(outs[half], outs["fp32"]) <= TOL_DIT[half]


@pytest.mark.parametrize("half", list(HALF))
def test_vae_decode_and_encode_half_match_fp32(bundles, half):
    ref, low = bundles["fp32"].vae, bundles[half].vae
    g = torch.Generator().manual_seed(1)
    z = torch.randn(1, ref.config.z_dim, 3, 8, 8, generator=g)
    with torch.no_grad():
        a, _ = ref.decode_stream(z, ref.new_decode_state())
        b, _ = low.decode_stream(z.to(HALF[half]), low.new_decode_state())
    assert b.dtype == HALF[half] and torch.isfinite(b.float()).all()
    assert rel(b, a) <= TOL_VAE[half]
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (9, 64, 64, 3), dtype=np.uint8))
    with torch.no_grad():
        za, _ = ref.encode_frames(frames, ref.new_encode_state())
        zb, _ = low.encode_frames(frames, low.new_encode_state())
    assert rel(zb, za) <= TOL_VAE[half]


def gradient_frames(n, h=64, w=64):
    y, x = np.mgrid[0:h, 0:w]
    frame = np.stack([x * 4 % 256, y * 4 % 256, (x + y) * 2 % 256], -1).astype(np.uint8)
    return np.repeat(frame[None], n, axis=0)


TIMELINE = {1: [C.SetMemory(0.5)],
            2: [C.SetPrompt("a blue cube", transition="purge", strength=2)],
            3: [C.Recache()],
            4: [C.SetPrompt("a green field", transition="blend", blend_blocks=2)],
            5: [C.SetV2V(0.5)]}


def run_engine(bundle):
    e = Engine(bundle, StreamConfig(height=64, width=64), prompt="a red ball", seed=3,
               source=lambda n: gradient_frames(n))
    return list(e.run(7, TIMELINE))


@pytest.mark.parametrize("half", list(HALF))
def test_engine_blocks_half_match_fp32(bundles, half):
    ref = run_engine(bundles["fp32"])
    low = run_engine(bundles[half])
    assert [b.purge_step for b in low] == [b.purge_step for b in ref]
    assert any(b.purge_step is not None for b in low) and any(b.recached for b in low)
    assert low[5].v2v_step is not None and low[6].v2v_step is not None
    for a, b in zip(ref, low):
        assert b.latents.dtype == HALF[half]
        assert rel(b.latents, a.latents) <= TOL_BLOCK[half], (b.index, rel(b.latents, a.latents))
        diff = np.abs(a.frames.astype(np.int16) - b.frames.astype(np.int16)).mean()
        assert diff <= 2.0, (b.index, diff)
