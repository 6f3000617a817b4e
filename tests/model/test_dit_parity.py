"""Parity of the causal DiT with the reference fixture (scenarios A, B and the single forward S)."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from sfe_live.config import DiTConfig, tiny_dit
from sfe_live.engine.schedule import flow_to_x0, make_schedule, renoise, warp_steps
from sfe_live.model.cache import KVCache
from sfe_live.model.dit import CausalWanDiT
from sfe_live.model.files import strip_prefix

TOL = dict(atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module")
def fx(fixtures_dir):
    path = fixtures_dir / "self_forcing_tiny.safetensors"
    tensors = load_file(str(path))
    meta = safe_open(str(path), "pt").metadata()
    return tensors, meta


@pytest.fixture(scope="module")
def model(fx):
    tensors, meta = fx
    cfg = DiTConfig.from_dict(json.loads(meta["config"]))
    assert cfg == tiny_dit()
    m = CausalWanDiT(cfg)
    m.load_state_dict(strip_prefix(tensors, "model."), strict=True)
    return m.eval()


def test_config_matches_fixture_metadata(fx):
    _, meta = fx
    cfg = DiTConfig.from_dict(json.loads(meta["config"]))
    pipe = json.loads(meta["pipeline"])
    assert cfg.tokens_per_frame(*pipe["latent_shape_per_frame"][1:]) == pipe["frame_seq_length"]


def test_warped_steps(fx):
    tensors, _ = fx
    torch.testing.assert_close(warp_steps((1000, 750, 500, 250)), tensors["input.denoising_timesteps"], **TOL)


@torch.no_grad()
def test_single_forward_S(fx, model):
    t, _ = fx
    sched = make_schedule()
    x, ts = t["S.input.x"], t["S.input.timestep"]
    cache = KVCache.empty(2, 1, 21, 16, 4, 16)
    v = model.step(x, ts, model.cross_kv(t["input.prompt_embeds"]), cache)
    torch.testing.assert_close(v, t["S.output.flow_pred"], **TOL)
    torch.testing.assert_close(flow_to_x0(x, v, ts[0, 0], sched), t["S.output.x0_pred"], **TOL)
    # the cache-free whole-clip forward computes the same thing for a single block
    torch.testing.assert_close(model(x, ts, t["input.prompt_embeds"]), t["S.output.flow_pred"], **TOL)
    torch.testing.assert_close(model(x, ts[:, 0], t["input.prompt_embeds"]), t["S.output.flow_pred"], **TOL)


@torch.no_grad()
@pytest.mark.parametrize("scenario,window,sink,blocks", [("A", 21, 0, 3), ("B", 9, 3, 5)])
def test_block_loop_traces(fx, model, scenario, window, sink, blocks):
    """Every traced tensor of the reference's block loop, driven step by step."""
    t, _ = fx
    sched = make_schedule()
    steps = warp_steps((1000, 750, 500, 250))
    cross = model.cross_kv(t["input.prompt_embeds"])
    cache = KVCache.empty(2, 1, window, 16, 4, 16, sink_frames=sink)
    worst = 0.0
    for b in range(blocks):
        pre = f"{scenario}.trace.block{b}"
        x = t[f"{scenario}.input.noise"][:, 3 * b: 3 * b + 3]
        cache.make_room(3)
        pos = cache.block_positions(3)
        assert pos.tolist() == [3 * b, 3 * b + 1, 3 * b + 2]
        for s in range(4):
            torch.testing.assert_close(x, t[f"{pre}.step{s}.x_t"], **TOL)
            v = model.step(x, steps[s].expand(1, 3), cross, cache, pos)
            torch.testing.assert_close(v, t[f"{pre}.step{s}.flow_pred"], **TOL)
            x0 = flow_to_x0(x, v, steps[s], sched)
            torch.testing.assert_close(x0, t[f"{pre}.step{s}.x0_pred"], **TOL)
            worst = max(worst, (x0 - t[f"{pre}.step{s}.x0_pred"]).abs().max().item())
            if s < 3:
                x = renoise(x0, t[f"{scenario}.input.renoise.block{b}.step{s}"], steps[s + 1], sched)
        torch.testing.assert_close(x0, t[f"{scenario}.output.block{b}"], **TOL)
        v = model.step(x0, torch.zeros(1, 3), cross, cache, pos)
        torch.testing.assert_close(v, t[f"{pre}.context.flow_pred"], **TOL)
        cache.commit(pos)
        for layer in range(2):
            n = cache.valid_tokens
            torch.testing.assert_close(cache.k[layer][:, :n], t[f"{pre}.kv.layer{layer}.k"], **TOL)
            torch.testing.assert_close(cache.v[layer][:, :n], t[f"{pre}.kv.layer{layer}.v"], **TOL)
            assert [cache.global_end, n] == t[f"{pre}.kv.layer{layer}.index"].tolist()
    assert worst < 1e-4


@torch.no_grad()
def test_kv_only_context_pass_writes_same_cache(fx, model):
    t, _ = fx
    cross = model.cross_kv(t["input.prompt_embeds"])
    x = t["S.input.x"]
    full = KVCache.empty(2, 1, 9, 16, 4, 16)
    fast = KVCache.empty(2, 1, 9, 16, 4, 16)
    model.step(x, torch.zeros(1, 3), cross, full)
    assert model.step(x, torch.zeros(1, 3), cross, fast, kv_only=True) is None
    for a, b in zip(full.k + full.v, fast.k + fast.v):
        assert torch.equal(a[:, :48], b[:, :48])


def test_real_config_parameter_count():
    with torch.device("meta"):
        m = CausalWanDiT(DiTConfig())
    assert m.num_parameters() == 1_418_996_800
    assert DiTConfig().tokens_per_frame(60, 104) == 1560
    assert DiTConfig().rope_split == (22, 21, 21)


@torch.no_grad()
def test_compact_padding_rows_is_exact(fx, model):
    """Zero padding rows collapse into one row with a log-count bias: same output."""
    t, _ = fx
    pe = t["input.prompt_embeds"]
    compact, full = model.cross_kv(pe), model.cross_kv(pe, compact=False)
    assert compact.bias is not None and compact.k[0].shape[1] == 11 and full.k[0].shape[1] == 16
    x, ts = t["S.input.x"], t["S.input.timestep"]
    outs = []
    for cross in (compact, full):
        cache = KVCache.empty(2, 1, 21, 16, 4, 16)
        outs.append(model.step(x, ts, cross, cache))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)
