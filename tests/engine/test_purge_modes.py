"""Purge rules in one place: the purge step for any number of steps, and what each purge mode
leaves in the KV cache (full: nothing; keep-sink: the sink; keep-last: the sink + the last frame)."""

import pytest
import torch

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.schedule import purge_step


def test_purge_step_any_number_of_steps():
    # four steps: the historical rule n - 1 - strength
    assert [purge_step(4, s, 3) for s in range(4)] == [3, 2, 1, 0]
    for n in range(1, 9):
        steps = [purge_step(n, s, C.MAX_STRENGTH) for s in range(C.MAX_STRENGTH + 1)]
        assert steps[-1] == 0 and steps[0] == n - 1            # strongest: before the first step
        assert steps == sorted(steps, reverse=True)
    assert purge_step(4, 3, 3, start_step=2) == 2              # v2v entering late: the step that runs
    with pytest.raises(ValueError):
        purge_step(4, 4, 3)


def engine(bundle, **kw):
    stream = StreamConfig(height=64, width=64, frames_per_block=2, kv_window=9, sink_frames=1,
                          denoising_steps=(1000, 600, 300))
    return Engine(bundle, stream, prompt="a red ball", seed=4, **kw)


@pytest.mark.parametrize("mode,kept", [("full", []), ("keep-sink", [0]), ("keep-last", [0, 5])])
def test_purge_mode_cache_contents(tiny_bundle, mode, kept):
    e = engine(tiny_bundle)
    list(e.run(3))                                             # frames 0..5 cached, 0 is the sink
    kv = e.state.kv
    assert kv.frame_ids == [0, 1, 2, 3, 4, 5]
    before = kv.clone()
    tpf = kv.tokens_per_frame
    kv.purge(mode)
    assert kv.frame_ids == kept and kv.frame_positions == [before.frame_positions[i] for i in kept]
    for slot, fid in enumerate(kept):
        for layer in range(len(kv.k)):
            assert torch.equal(kv.k[layer][:, slot * tpf:(slot + 1) * tpf], before.k[layer][:, fid * tpf:(fid + 1) * tpf])
            assert torch.equal(kv.v[layer][:, slot * tpf:(slot + 1) * tpf], before.v[layer][:, fid * tpf:(fid + 1) * tpf])


@pytest.mark.parametrize("mode", ["full", "keep-sink", "keep-last"])
def test_purge_mode_in_a_block_is_logged_with_its_step(tiny_bundle, mode):
    e = engine(tiny_bundle)
    list(e.run(3))
    e.apply(C.Purge(strength=2, mode=mode))
    block = e.next_block()
    assert block.purge_step == 1 and block.purge_mode == mode  # 3 steps, strength 2 -> before step 1
    kept = {"full": [], "keep-sink": [0], "keep-last": [0, 5]}[mode]
    assert e.state.kv.frame_ids == kept + [6, 7]
    assert sorted(e.state.frame_latents) == kept + [6, 7]
    entry = e.log[-1]
    assert entry.command == "Purge" and entry.step == 1 and entry.args == {"strength": 2, "mode": mode}


def test_purge_mode_default_and_prompt_purge(tiny_bundle):
    e = engine(tiny_bundle)
    list(e.run(2))
    e.apply(C.SetPurgeMode("keep-last"))
    e.apply(C.SetReactivity(1))
    e.apply(C.SetPrompt("a blue square", transition="purge"))
    block = e.next_block()
    assert block.purge_mode == "keep-last" and block.purge_step == 1   # strength 1 of 3 steps
    entry = e.log[-1]
    assert entry.args["strength"] == 1 and entry.args["purge_mode"] == "keep-last" and entry.step == 1


def test_v2v_purge_logs_the_step_that_ran(tiny_bundle):
    """v2v entering at step 2 of 3: a strength-3 purge runs before step 2, and the log says 2."""
    import numpy as np
    e = engine(tiny_bundle, source=lambda n: np.full((n, 64, 64, 3), 90, np.uint8))
    e.apply(C.SetV2V(amount=0.2))
    list(e.run(2))
    e.apply(C.Purge(strength=3))
    block = e.next_block()
    assert block.v2v_step == 2 and block.purge_step == 2
    assert e.log[-1].step == 2
