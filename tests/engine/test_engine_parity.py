"""The engine, configured like the reference, reproduces scenarios A and B."""

import pytest
import torch

from sfe_live.config import StreamConfig
from sfe_live.engine.engine import Engine


def fixture_noise(t, scenario):
    def provider(seed, block, shape, draws):
        noise = t[f"{scenario}.input.noise"][:, 3 * block: 3 * block + 3]
        eps = [t[f"{scenario}.input.renoise.block{block}.step{s}"] for s in range(draws)]
        return noise, eps
    return provider


@pytest.mark.parametrize("scenario,window,sink,blocks,policy", [
    ("A", -1, 0, 3, "window"), ("A", -1, 0, 3, "absolute"), ("B", 9, 3, 5, "window"), ("B", 9, 3, 5, "absolute")])
def test_scenario_through_engine(fixture_tensors, fixture_bundle, scenario, window, sink, blocks, policy):
    t, _ = fixture_tensors
    stream = StreamConfig(height=64, width=64, kv_window=window, sink_frames=sink, position_policy=policy)
    engine = Engine(fixture_bundle, stream, prompt="fixture", noise=fixture_noise(t, scenario))
    outs = []
    for b in range(blocks):
        block = engine.next_block()
        torch.testing.assert_close(block.latents, t[f"{scenario}.output.block{b}"], atol=1e-4, rtol=1e-4)
        kv = engine.state.kv
        for layer in range(2):
            torch.testing.assert_close(kv.k[layer][:, : kv.valid_tokens], t[f"{scenario}.trace.block{b}.kv.layer{layer}.k"],
                                       atol=1e-4, rtol=1e-4)
            assert [kv.global_end, kv.valid_tokens] == t[f"{scenario}.trace.block{b}.kv.layer{layer}.index"].tolist()
        assert block.frames.shape == ((9 if b == 0 else 12), 64, 64, 3)
        outs.append(block.latents)
    torch.testing.assert_close(torch.cat(outs, 1), t[f"{scenario}.output.latents"], atol=1e-4, rtol=1e-4)
