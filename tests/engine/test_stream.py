"""Endless streaming, VAE continuity, purge semantics, memory, transitions, determinism, replay."""

import numpy as np
import pytest
import torch

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.replaylog import read_log
from sfe_live.model.cache import KVCache
from sfe_live.model.vae import pixels_to_uint8

S64 = dict(height=64, width=64)


def make(bundle, **kw):
    stream = StreamConfig(**{**S64, **{k: v for k, v in kw.items() if k in StreamConfig.__dataclass_fields__}})
    return Engine(bundle, stream, prompt=kw.get("prompt", "a red ball"), seed=kw.get("seed", 7))


def test_endless_past_100k_frames_positions_stay_in_horizon(tiny_bundle):
    e = make(tiny_bundle, kv_window=9, sink_frames=3)
    first = e.next_block()
    e.state.latent_frame = 100_000            # jump the absolute counter
    e.state.block_index = 100_000 // 3
    seen = set()
    cache_bytes = e.state.kv.nbytes()
    for _ in range(12):
        b = e.next_block()
        seen.update(b.positions)
        assert max(e.state.kv.frame_positions) < e.stream.position_horizon
        assert e.state.kv.cached_frames <= 9
        assert np.isfinite(b.frames).all() and b.frames.std() > 0
    assert e.state.latent_frame > 100_000 + 30
    assert max(seen) < 21 and e.state.kv.reanchors >= 1
    assert e.state.kv.nbytes() == cache_bytes          # bounded: buffers never grow
    assert e.state.kv.frame_positions[:3] == [0, 1, 2]  # the sink keeps its positions
    assert first.frames.shape[0] == 9


def test_absolute_policy_fails_clearly_at_the_rope_table(tiny_bundle):
    e = make(tiny_bundle, kv_window=9, sink_frames=3, position_policy="absolute")
    e.state.latent_frame = 1022
    with pytest.raises(ValueError, match="outside the RoPE table"):
        e.next_block()


@torch.no_grad()
def test_reanchor_equals_recomputing_at_new_positions(tiny_bundle):
    dit = tiny_bundle.dit
    cfg = dit.cfg
    x = torch.randn(1, 3, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    cross = dit.cross_kv(tiny_bundle.text.get("abc"))
    a = KVCache.empty(cfg.num_layers, 1, 9, 16, cfg.num_heads, cfg.head_dim)
    b = KVCache.empty(cfg.num_layers, 1, 9, 16, cfg.num_heads, cfg.head_dim)
    dit.step(x, torch.zeros(1, 3), cross, a, torch.tensor([15, 16, 17]), kv_only=True)
    a.commit(torch.tensor([15, 16, 17]))
    dit.step(x, torch.zeros(1, 3), cross, b, torch.tensor([0, 1, 2]), kv_only=True)
    b.commit(torch.tensor([0, 1, 2]))
    assert a.reanchor(dit.rope_tables(torch.device("cpu")), 18, 3, cfg.rope_split[0])
    assert a.frame_positions == [0, 1, 2]
    for ka, kb in zip(a.k, b.k):
        torch.testing.assert_close(ka[:, :48], kb[:, :48], atol=1e-5, rtol=1e-5)


def test_vae_continuity_across_purge_prompt_reanchor_recache(tiny_bundle):
    """The decoded stream equals decoding all latents at once (no periodic flicker)."""
    e = make(tiny_bundle, kv_window=6, sink_frames=0, position_horizon=9)
    timeline = {2: [C.Purge(3)], 3: [C.SetPrompt("a blue square", transition="cut")],
                4: [C.SetPrompt("green", transition="recache")], 5: [C.Purge(0)],
                6: [C.SetPrompt("night", transition="blend", blend_blocks=2)]}
    blocks = list(e.run(9, timeline))
    assert e.state.kv.reanchors >= 1 and e.state.purges == 2 and e.state.recaches == 1
    streamed = np.concatenate([b.frames for b in blocks])
    latents = torch.cat([b.latents for b in blocks], dim=1)             # [1, F, C, h, w]
    full = pixels_to_uint8(tiny_bundle.vae.decode(latents.transpose(1, 2)))[0].numpy()
    assert streamed.shape == full.shape == (9 + 12 * 8, 64, 64, 3)
    assert np.abs(streamed.astype(int) - full.astype(int)).max() <= 1


@pytest.mark.parametrize("strength", [0, 1, 2, 3])
def test_purge_semantics_at_step_level(tiny_bundle, strength):
    """A purge at strength s leaves steps before 3 - s of that block identical to the unpurged run."""
    traces = {}
    for name, purge in (("plain", None), ("purged", strength)):
        e = make(tiny_bundle, kv_window=-1)
        rec = traces.setdefault(name, {})
        e.pipeline.on_step = lambda b, s, x, x0, rec=rec: rec.__setitem__((b, s), x0.clone())
        list(e.run(3))
        if purge is not None:
            e.apply(C.Purge(purge))
            assert e.log[-1].step is None                       # not run yet
        e.next_block()
        if purge is not None:
            assert e.last_block.purge_step == 3 - purge
            assert e.log[-1].step == 3 - purge                  # the log holds the step that ran
            assert e.state.kv.frame_positions == [0, 1, 2]       # only the purged block is left
    cut = 3 - strength
    for s in range(4):
        same = torch.equal(traces["plain"][(3, s)], traces["purged"][(3, s)])
        assert same == (s < cut), (strength, s)


def test_purge_keeps_vae_state(tiny_bundle):
    e = make(tiny_bundle)
    e.next_block()
    vae_frames = e.state.vae.latent_frames
    e.apply(C.Purge(3))
    b = e.next_block()
    assert e.state.vae.latent_frames == vae_frames + 3 and b.frames.shape[0] == 12


@torch.no_grad()
def test_memory_zero_ignores_the_past(tiny_bundle):
    """memory 0 masks every cached key: the block equals one generated after a hard purge (RoPE is relative)."""
    outs = []
    for cmd in (C.SetMemory(0.0), C.Purge(3)):
        e = make(tiny_bundle)
        list(e.run(2))
        e.apply(cmd)
        outs.append(e.next_block().latents)
    torch.testing.assert_close(outs[0], outs[1], atol=1e-4, rtol=1e-4)
    e = make(tiny_bundle)
    list(e.run(2))
    e.apply(C.SetMemory(0.5))
    assert not torch.allclose(e.next_block().latents, outs[1], atol=1e-3)


def test_blend_interpolates_conditioning(tiny_bundle):
    e = make(tiny_bundle)
    e.next_block()
    src = e.state.cond.embeds.clone()
    dst = e.pipeline.condition("a blue square").embeds
    e.apply(C.SetPrompt("a blue square", transition="blend", blend_blocks=4))
    seen = []
    orig = e.pipeline.dit.cross_kv
    e.pipeline.dit.cross_kv = lambda emb: (seen.append(emb.clone()), orig(emb))[1]
    for _ in range(4):
        e.next_block()
    e.pipeline.dit.cross_kv = orig
    assert len(seen) == 3                                   # blocks 1..3 blended, block 4 is the target
    for j, emb in enumerate(seen, 1):
        torch.testing.assert_close(emb, torch.lerp(src, dst, j / 4))
    assert e.state.cond.prompt == "a blue square" and e.state.blend is None


def test_recache_rewrites_window_under_new_prompt(tiny_bundle):
    e = make(tiny_bundle, kv_window=9, sink_frames=3)
    list(e.run(3))
    before = [k.clone() for k in e.state.kv.k]
    positions = list(e.state.kv.frame_positions)
    e.apply(C.SetPrompt("a blue square", transition="recache"))
    e.state.pending_recache = True
    kv = e.state.kv
    e.pipeline._recache(e.state, e.state.cond, e.params)
    assert kv.frame_positions == positions and e.state.recaches == 1
    assert torch.equal(kv.k[0][:, :48], before[0][:, :48])          # the sink is protected
    assert not torch.allclose(kv.k[1][:, 48:144], before[1][:, 48:144])


def test_determinism_and_replay(tiny_bundle, tmp_path):
    timeline = {1: [C.SetPrompt("a blue square", transition="purge", strength=2)], 2: [C.SetMemory(0.7)],
                3: [C.NewSeed(), C.Purge(1)], 4: [C.SetPrompt("stars", transition="blend", blend_blocks=2)]}
    a = make(tiny_bundle, seed=11)
    frames_a = [b.frames for b in a.run(6, timeline)]
    b = make(tiny_bundle, seed=11)
    frames_b = [b.frames for b in b.run(6, timeline)]
    assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b))
    log_path = tmp_path / "show.jsonl"
    a.write_log(log_path)
    rl = read_log(log_path)
    header, replay = rl.header, rl.timeline
    assert header.seed == 11 and sorted(replay) == [1, 2, 3, 4] and header.blocks == 6
    assert any(isinstance(c, C.SetSeed) for c in replay[3])            # NewSeed is logged as its value
    c = make(tiny_bundle, seed=header.seed, prompt=header.prompt)
    frames_c = [blk.frames for blk in c.run(6, replay)]
    assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_c))
    d = make(tiny_bundle, seed=12)
    assert not np.array_equal(frames_a[0], next(iter(d.run(1))).frames)


def test_noise_independent_of_commands(tiny_bundle):
    a, b = make(tiny_bundle), make(tiny_bundle)
    na, nb = {}, {}
    for eng, store in ((a, na), (b, nb)):
        orig = eng.pipeline.noise
        eng.pipeline.noise = lambda seed, blk, shape, d, orig=orig, store=store: store.setdefault(blk, orig(seed, blk, shape, d))
    list(a.run(4, {1: [C.SetPrompt("x", transition="purge")], 2: [C.SetMemory(0.2)]}))
    list(b.run(4))
    for blk in range(4):
        assert torch.equal(na[blk][0], nb[blk][0])


def test_bad_input(tiny_bundle, tmp_path, caplog):
    with pytest.raises(ValueError, match=r"nearest valid sizes are width 96 or 112"):
        Engine(tiny_bundle, StreamConfig(height=64, width=100))
    e = make(tiny_bundle)
    with pytest.raises(ValueError, match=r"SetMemory.value must be 0..1"):
        C.SetMemory(3.0)                          # commands validate themselves when built
    with pytest.raises(ValueError, match=r"Purge.strength must be 0..3"):
        C.Purge(7)
    with pytest.raises(ValueError, match="transition"):
        C.SetPrompt("x", transition="wipe")
    with pytest.raises(ValueError, match="integer"):
        C.SetSeed("7")
    e.apply(C.SetPrompt(""))                      # empty prompt: unconditional, allowed
    assert e.next_block().frames.shape[0] == 9
    bad = tmp_path / "bad.jsonl"
    e.write_log(bad)
    bad.write_text(bad.read_text() + '{"block": 1, "command": "Nope", "args": {}}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:\d+: .*unknown command"):
        read_log(bad)
