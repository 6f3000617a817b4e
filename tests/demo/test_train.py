"""The training forward (masked full sequence) computes what the streaming engine computes."""

import torch

from sfe_live.config import DiTConfig
from sfe_live.demo.train import block_mask, seq_forward
from sfe_live.model.cache import KVCache
from sfe_live.model.checkpoints import random_dit


def _tiny(seed: int):
    """A tiny DiT, 2 clean context blocks + 1 noisy block of 3 frames (4 tokens each), batch 2."""
    cfg = DiTConfig(patch_size=(1, 4, 4), in_dim=48, out_dim=48, dim=40, ffn_dim=80, num_heads=2,
                    num_layers=2, freq_dim=32, text_dim=24, text_len=6)
    dit = random_dit(cfg, seed=seed)
    s, b = 4, 2
    z, xn = torch.randn(b, 6, 48, 8, 8), torch.randn(b, 3, 48, 8, 8)
    cache = KVCache.empty(cfg.num_layers, b, 9, s, cfg.num_heads, cfg.head_dim)
    return dit, s, b, z, xn, cache


def test_masked_sequence_matches_streaming_step():
    dit, s, b, z, xn, cache = _tiny(1)
    cross = dit.cross_kv(torch.randn(b, 6, 24))
    with torch.no_grad():
        for j in range(2):
            pos = cache.block_positions(3)
            dit.step(z[:, 3 * j:3 * j + 3], torch.zeros(b, 3), cross, cache, pos, kv_only=True)
            cache.commit(pos)
        t = torch.full((b, 3), 700.0)
        ref = dit.step(xn, t, cross, cache, cache.block_positions(3))
        mask = block_mask([0] * 6 + [1] * 3, [0, 0, 0, 1, 1, 1, 2, 2, 2], s)
        out = seq_forward(dit, torch.cat([z, xn], 1), torch.cat([torch.zeros(b, 6), t], 1), torch.arange(9),
                          mask, [(0, 9 * s, cross)])
    assert torch.allclose(out[:, 6:], ref, atol=1e-5)


def test_prompt_switch_spans_match_streaming_with_a_new_prompt():
    """Stage 2's colour switch: blocks written after the switch see caption B, the ones before A."""
    dit, s, b, z, xn, cache = _tiny(2)
    ca, cb = dit.cross_kv(torch.randn(b, 6, 24)), dit.cross_kv(torch.randn(b, 6, 24))
    with torch.no_grad():
        for j, cross in enumerate((ca, cb)):
            pos = cache.block_positions(3)
            dit.step(z[:, 3 * j:3 * j + 3], torch.zeros(b, 3), cross, cache, pos, kv_only=True)
            cache.commit(pos)
        t = torch.full((b, 3), 400.0)
        ref = dit.step(xn, t, cb, cache, cache.block_positions(3))
        mask = block_mask([0] * 6 + [1] * 3, [0, 0, 0, 1, 1, 1, 2, 2, 2], s)
        x, tt = torch.cat([z, xn], 1), torch.cat([torch.zeros(b, 6), t], 1)
        out = seq_forward(dit, x, tt, torch.arange(9), mask, [(0, 3 * s, ca), (3 * s, 9 * s, cb)])
        same = seq_forward(dit, x, tt, torch.arange(9), mask, [(0, 9 * s, cb)])
    assert torch.allclose(out[:, 6:], ref, atol=1e-5)
    assert not torch.allclose(same[:, 6:], ref, atol=1e-3)       # the first block's caption matters
