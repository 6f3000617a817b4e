"""Training computes what the streaming engine computes: the masked full-sequence forward
equals the streaming step, and stage 2's rollout is the engine's own stream."""

import pytest
import torch

from sfe_live.config import DiTConfig, StreamConfig
from sfe_live.demo.train import block_mask, rollout
from sfe_live.engine.pipeline import StreamPipeline, seeded_noise
from sfe_live.engine.schedule import warp_steps
from sfe_live.engine.state import LiveParams
from sfe_live.model.bundle import load_model
from sfe_live.model.cache import KVCache
from sfe_live.model.checkpoints import random_dit
from sfe_live.model.dit import CrossSpan


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
        out = dit.masked(torch.cat([z, xn], 1), torch.cat([torch.zeros(b, 6), t], 1), torch.arange(9), mask,
                         [CrossSpan(0, 9 * s, cross)])
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
        out = dit.masked(x, tt, torch.arange(9), mask, [CrossSpan(0, 3 * s, ca), CrossSpan(3 * s, 9 * s, cb)])
        same = dit.masked(x, tt, torch.arange(9), mask, cb)
    assert torch.allclose(out[:, 6:], ref, atol=1e-5)
    assert not torch.allclose(same[:, 6:], ref, atol=1e-3)       # the first block's caption matters


def test_training_rollout_produces_the_engines_blocks():
    """Stage 2's rollout from the engine's first block, with the engine's noise, gives the engine's
    next blocks to the bit: both run the one denoising block of ``engine/denoise.py``."""
    bundle = load_model("tiny-random", device="cpu", dtype=torch.float32)
    stream = StreamConfig(height=64, width=64, frames_per_block=3)
    pipe = StreamPipeline(bundle, stream)
    state = pipe.new_state("a red ball", seed=7)
    engine = [pipe.step(state, LiveParams()).latents for _ in range(3)]

    cfg = bundle.dit.cfg
    cache = KVCache.empty(cfg.num_layers, 1, stream.window_frames, pipe.tokens_per_frame, cfg.num_heads,
                          cfg.head_dim)
    shape = tuple(engine[0].shape)
    ours = rollout(bundle.dit, pipe.condition("a red ball").cross, cache, engine[0], 3,
                   lambda j: seeded_noise(7, j, shape, 3), warp_steps(stream.denoising_steps), pipe.schedule)
    assert len(ours) == 3
    for a, b in zip(ours[1:], engine[1:]):
        assert torch.equal(a, b)
    assert not torch.equal(ours[1], ours[2])


def test_ode_stage_targets_are_the_teachers_flow_on_the_students_inputs():
    """--stage2 ode: the teacher's ODE is read at the engine's sigmas, and with 4 ODE steps (the
    engine's own grid) the target at the last step is exactly the flow the teacher gives there --
    through the same block-causal masked forward the student trains with. A student equal to the
    teacher has nothing to learn at that step, and something at the others."""
    from sfe_live.demo.train import STEPS, ode_trajectory
    from sfe_live.engine.schedule import make_schedule
    dit, s, b, z, xn, cache = _tiny(3)
    cross = dit.cross_kv(torch.randn(b, 6, 24))
    shift = 2.0
    points, x0 = ode_trajectory(dit, cross, cache, z, xn, 4, shift)
    assert points.shape == (4, *xn.shape) and x0.shape == xn.shape
    assert torch.equal(points[0], xn)                                   # sigma 1: the noise itself
    steps_t = warp_steps(STEPS, shift)
    sigmas = make_schedule(shift, 1000).sigma(steps_t)
    assert torch.allclose(sigmas, torch.tensor([1.0, 6 / 7, 2 / 3, 0.4]), atol=1e-6)
    mask = block_mask([0] * 6 + [1] * 3, [0, 0, 0, 1, 1, 1, 2, 2, 2], s)
    gaps = []
    with torch.no_grad():
        for i in range(4):
            t = torch.cat([torch.zeros(b, 6), steps_t[i].expand(b, 3)], 1)
            v = dit.masked(torch.cat([z, points[i]], 1), t, torch.arange(9), mask, [CrossSpan(0, 9 * s, cross)])
            target = (points[i] - x0) / sigmas[i]
            gaps.append(float((v[:, 6:] - target).abs().max()))
    assert gaps[3] < 1e-4
    assert min(gaps[:3]) > 1e-3

    # 16 teacher steps pass through the same 4 points only where the grids meet: sigma 1 is shared
    points16, x016 = ode_trajectory(dit, cross, KVCache.empty(2, b, 9, s, 2, 20), z, xn, 16, shift)
    assert torch.equal(points16[0], xn) and not torch.allclose(x016, x0, atol=1e-4)


def test_ode_steps_must_put_the_engines_steps_on_the_teachers_grid(tmp_path):
    import pytest

    from sfe_live.demo.train import DEFAULT_OUT, parser, start
    p = parser("t", "", DEFAULT_OUT, DEFAULT_OUT)
    for bad in ("6", "2", "0"):
        with pytest.raises(SystemExit, match="multiple of 4"):
            start(p.parse_args(["--ode-steps", bad, "--stage2", "ode", "--work", str(tmp_path)]))


def test_mixed_stage2_draws_ode_and_predicted_half_and_half_after_teacher_forcing():
    """--stage2 mixed: stage 1 is all teacher forcing; stage 2 keeps --tf-mix teacher forcing and
    splits the rest evenly between the ODE distillation and the model's own context."""
    import random
    from collections import Counter

    from sfe_live.demo.train import LOSS_KEY, choose_objective
    rng = random.Random(3)
    assert {choose_objective("1", "mixed", 0.3, rng) for _ in range(200)} == {"tf"}
    drawn = Counter(choose_objective("2", "mixed", 0.3, rng) for _ in range(4000))
    assert set(drawn) == {"tf", "ode", "predicted"}
    assert abs(drawn["tf"] / 4000 - 0.3) < 0.03
    assert abs(drawn["ode"] / 4000 - 0.35) < 0.03 and abs(drawn["predicted"] / 4000 - 0.35) < 0.03
    assert Counter(choose_objective("2", "ode", 0.0, rng) for _ in range(50)) == {"ode": 50}
    assert {LOSS_KEY[o] for o in drawn} == {"tf", "ode", "sf"}      # each objective logs its own loss


def test_weighted_stage2_mix_draws_each_objective_by_its_share_and_bad_mixes_get_one_line(tmp_path):
    """--stage2 guided=1,predicted=3: after --tf-mix teacher forcing, a quarter of the steps are
    guided and three quarters predicted; a name that is no objective, a repeated one, a negative
    or non-numeric weight or weights summing to 0 get one line that says what is allowed, and a
    mix with guided needs --guide-from like guided alone."""
    import argparse
    import random
    from collections import Counter

    from sfe_live.demo.train import DEFAULT_OUT, choose_objective, parser, stage2_mix, start
    assert stage2_mix("guided=1,predicted=3") == {"guided": 0.25, "predicted": 0.75}
    assert stage2_mix("mixed") == {"ode": 0.5, "predicted": 0.5}
    assert stage2_mix("rollout") == {"rollout": 1.0}
    assert stage2_mix("ode=0,guided=2") == {"guided": 1.0}
    rng = random.Random(5)
    drawn = Counter(choose_objective("2", "guided=1,predicted=3", 0.2, rng) for _ in range(8000))
    assert set(drawn) == {"tf", "guided", "predicted"}
    assert abs(drawn["tf"] / 8000 - 0.2) < 0.02
    assert abs(drawn["guided"] / 8000 - 0.2) < 0.02 and abs(drawn["predicted"] / 8000 - 0.6) < 0.02
    for bad in ("guided=1,sideways=1", "guided=1,guided=2", "guided=-1,predicted=1", "guided=x",
                "guided=nan", "guided=0,predicted=0", "tf", "mixed=1"):
        with pytest.raises(argparse.ArgumentTypeError):
            stage2_mix(bad)
    p = parser("t", "", DEFAULT_OUT, DEFAULT_OUT)
    with pytest.raises(SystemExit, match="--stage2 .*sideways.*guided=1,predicted=1"):
        start(p.parse_args(["--stage2", "guided=1,sideways=1", "--work", str(tmp_path)]))
    with pytest.raises(SystemExit, match="guide-from"):
        start(p.parse_args(["--stage2", "guided=1,predicted=1", "--work", str(tmp_path)]))


def test_flow_loss_temporal_term_weighs_frame_to_frame_error_inside_blocks_only():
    """The temporal term is zero for an error that is the same in every frame of a block (also when
    it changes at a block boundary) and positive for one that changes inside a block; 0 = plain."""
    from sfe_live.demo.train import flow_loss, weighted_mse
    g = torch.Generator().manual_seed(0)
    target = torch.randn(2, 6, 4, 3, 3, generator=g)
    w = torch.ones_like(target)
    c = torch.full((1, 1, 4, 3, 3), 0.5)
    per_block = torch.cat([c.expand(1, 3, -1, -1, -1), -c.expand(1, 3, -1, -1, -1)], 1)   # jumps at the boundary
    flipping = c * torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])[None, :, None, None, None]
    for err in (per_block, flipping):
        assert flow_loss(target + err, target, w, 0.0).item() == pytest.approx(
            weighted_mse(target + err, target, w).item())
    plain = weighted_mse(target + per_block, target, w).item()
    assert plain == pytest.approx(0.25)
    assert flow_loss(target + per_block, target, w, 1.0).item() == pytest.approx(plain)
    # inside each block the error steps by 1.0 at each of its 2 pairs: mean squared step 1.0
    assert flow_loss(target + flipping, target, w, 1.0).item() == pytest.approx(0.25 + 1.0)
    assert flow_loss(target + flipping, target, w, 0.5).item() == pytest.approx(0.25 + 0.5)


def test_flow_loss_with_one_frame_blocks_is_the_plain_loss():
    """With one frame per block there is no pair inside a block: the term adds nothing (not NaN)."""
    from sfe_live.demo.train import flow_loss, weighted_mse
    pred, target = torch.randn(2, 4, 3, 2, 2), torch.randn(2, 4, 3, 2, 2)
    w = torch.ones_like(pred)
    assert flow_loss(pred, target, w, 1.0, fpb=1).item() == pytest.approx(weighted_mse(pred, target, w).item())


def test_guided_target_is_the_teachers_flow_pushed_away_from_the_weak_models():
    """--stage2 guided: each model reads the context through its own KV cache; the target is
    v + w (v - v_weak), equal to the same combination of their block-causal masked forwards
    (what the student trains through). A weak model equal to the teacher, or w = 0, leaves the
    teacher's flow unchanged."""
    from sfe_live.demo.train import guided_flow
    teacher, s, b, z, xn, _ = _tiny(4)
    weak = _tiny(5)[0]
    cfg = teacher.cfg
    emb = torch.randn(b, 6, 24)
    t = torch.full((b, 3), 500.0)

    def caches(*models):
        out = []
        for m in models:
            kv = KVCache.empty(cfg.num_layers, b, 9, s, cfg.num_heads, cfg.head_dim)
            with torch.no_grad():
                for j in range(2):
                    pos = kv.block_positions(3)
                    m.step(z[:, 3 * j:3 * j + 3], torch.zeros(b, 3), m.cross_kv(emb), kv, pos, kv_only=True)
                    kv.commit(pos)
            out.append(kv)
        return tuple(out)

    def masked(m):
        mask = block_mask([0] * 6 + [1] * 3, [0, 0, 0, 1, 1, 1, 2, 2, 2], s)
        with torch.no_grad():
            return m.masked(torch.cat([z, xn], 1), torch.cat([torch.zeros(b, 6), t], 1), torch.arange(9), mask,
                            [CrossSpan(0, 9 * s, m.cross_kv(emb))])[:, 6:]

    crosses = (teacher.cross_kv(emb), weak.cross_kv(emb))
    kv = caches(teacher, weak)
    got = guided_flow(teacher, weak, 1.5, xn, t, crosses, kv, kv[0].block_positions(3))
    v, v_weak = masked(teacher), masked(weak)
    assert torch.allclose(got, v + 1.5 * (v - v_weak), atol=1e-4)
    assert float((v - v_weak).abs().mean()) > 1e-2                      # the weak model differs
    same = caches(teacher, teacher)
    assert torch.allclose(guided_flow(teacher, teacher, 3.0, xn, t, (crosses[0], crosses[0]), same,
                                      same[0].block_positions(3)), v, atol=1e-4)
    assert torch.allclose(guided_flow(teacher, weak, 0.0, xn, t, crosses, kv, kv[0].block_positions(3)), v,
                          atol=1e-4)


def test_guided_stage2_keeps_teacher_forcing_and_needs_a_weak_model(tmp_path):
    import random
    from collections import Counter

    from sfe_live.demo.train import DEFAULT_OUT, LOSS_KEY, choose_objective, parser, start
    rng = random.Random(0)
    drawn = Counter(choose_objective("2", "guided", 0.2, rng) for _ in range(2000))
    assert set(drawn) == {"tf", "guided"} and abs(drawn["tf"] / 2000 - 0.2) < 0.03
    assert LOSS_KEY["guided"] == "guided"
    p = parser("t", "", DEFAULT_OUT, DEFAULT_OUT)
    with pytest.raises(SystemExit, match="guide-from"):
        start(p.parse_args(["--stage2", "guided", "--work", str(tmp_path)]))
    with pytest.raises(SystemExit, match="guide-from"):
        start(p.parse_args(["--stage2", "guided", "--guide-from", str(tmp_path), "--work", str(tmp_path)]))


class _TinyWorld:
    """A world of random latents for a tiny DiT: the trainer's objectives run end to end in seconds."""

    size = 16

    def dit_config(self):
        return DiTConfig(patch_size=(1, 2, 2), in_dim=48, out_dim=48, dim=32, ffn_dim=64, num_heads=2,
                         num_layers=2, freq_dim=32, text_dim=24, text_len=6)

    def make_codec(self, args):
        from sfe_live.model.codec import PixelCodec, PixelCodecConfig
        return PixelCodec(PixelCodecConfig(factor=4))

    def label_captions(self):
        return [(0, ["zero"]), (1, ["one"])]

    def clip_batch(self, rng, codec, batch, frames, switch_at=None, object_weight=0.0):
        g = torch.Generator().manual_seed(rng.randrange(2 ** 31))
        z = torch.randn(batch, frames, 48, 4, 4, generator=g)
        labs = [rng.randrange(2) for _ in range(batch)]
        return z, labs, [1 - lab for lab in labs] if switch_at else labs, torch.ones_like(z)

    def model_meta(self, dit_cfg, codec):
        return {}

    def codec_weights(self, codec):
        return None


class _Bank:
    def __init__(self, per_label, seed, cache, world, text_len):
        self.emb = torch.randn(2, text_len, 24, generator=torch.Generator().manual_seed(seed))

    def sample(self, labels, rng):
        return self.emb[labels]


def test_every_objective_gives_a_finite_loss_with_gradient(tmp_path, monkeypatch):
    """Each stage-2 objective (and teacher forcing) runs through the trainer on a tiny world: a
    finite loss whose gradient reaches the DiT; the guided one reads its weak model from disk
    (stored in half precision) into a frozen float32 copy."""
    from safetensors.torch import save_file

    import sfe_live.demo.train as T
    monkeypatch.setattr(T, "CaptionBank", _Bank)
    weak = tmp_path / "weak"
    weak.mkdir()
    save_file({k: v.half().contiguous() for k, v in random_dit(_TinyWorld().dit_config(), seed=9).state_dict().items()},
              str(weak / "dit.safetensors"))                # half precision, as assets/vj/guide ships it
    args = T.parser("t", "", T.DEFAULT_OUT, T.DEFAULT_OUT).parse_args(
        ["--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--batch", "2", "--codec-rank", "0",
         "--guide-from", str(weak), "--guide-weight", "1.5", "--ode-steps", "4", "--temporal-weight", "1.0"])
    trainer = T.Trainer(args, _TinyWorld())
    losses = {"tf": lambda: trainer.tf_loss(2), "predicted": lambda: trainer.tf_loss(2, predicted_context=True),
              "rollout": lambda: trainer.sf_loss(2), "ode": lambda: trainer.ode_loss(2),
              "guided": lambda: trainer.guided_loss(2)}
    for name, loss_fn in losses.items():
        for _ in range(3):                             # different context lengths
            trainer.dit.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            grad = sum(float(p.grad.abs().sum()) for p in trainer.dit.parameters() if p.grad is not None)
            assert torch.isfinite(loss) and float(loss.detach()) > 0 and grad > 0, name
    assert trainer.weak is not None and trainer.teacher is not None
    assert not any(p.requires_grad for p in trainer.weak.parameters())
    assert all(p.dtype == torch.float32 for p in trainer.weak.parameters())


def test_learning_rate_warms_up_whenever_the_optimiser_starts_fresh(tmp_path, monkeypatch):
    """A new run warms up over --warmup steps; so does --resume from weights without the work
    folder's optimiser state (the shipped weights in a fresh clone: Adam's first steps would
    otherwise be a full learning rate in every weight); a resume with the saved moments does not."""
    import sfe_live.demo.train as T
    monkeypatch.setattr(T, "CaptionBank", _Bank)
    base = ["--out", str(tmp_path / "out"), "--batch", "2", "--codec-rank", "0", "--warmup", "10"]
    p = T.parser("t", "", T.DEFAULT_OUT, T.DEFAULT_OUT)
    new = T.Trainer(p.parse_args(base + ["--work", str(tmp_path / "w1")]), _TinyWorld())
    assert [new.warmup_factor(i) for i in (0, 4, 9, 50)] == [0.1, 0.5, 1.0, 1.0]
    new.save()                                             # weights in --out, moments in w1
    moments = T.Trainer(p.parse_args(base + ["--work", str(tmp_path / "w1"), "--resume"]), _TinyWorld())
    assert moments.opt_resumed and moments.warmup_factor(0) == 1.0
    shipped = T.Trainer(p.parse_args(base + ["--work", str(tmp_path / "w2"), "--resume"]), _TinyWorld())
    assert not shipped.opt_resumed and shipped.warmup_factor(0) == 0.1
    assert torch.equal(shipped.dit.head.head.weight, moments.dit.head.head.weight)   # both resumed the weights
