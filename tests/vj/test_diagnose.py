"""The ceilings' arithmetic: both samplers land on the clean latents of a flow that knows them,
a codec that loses nothing scores as the world does, and the sampler comparison runs end to end."""

import numpy as np
import torch

from sfe_live.model.aecodec import AECodec, AECodecConfig
from sfe_live.model.dit import CausalWanDiT
from sfe_live.vj import judge as J
from sfe_live.vj.diagnose import codec_ceiling, euler_ode, few_step, guidance_gain, sampler_gap, sigma_of
from sfe_live.vj.train import dit_config


def test_both_samplers_land_on_what_an_exact_flow_knows():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, 3, 4, 5, 5, generator=g)
    x_T = torch.randn(x0.shape, generator=g)

    def exact(x, sigma):                       # x = (1 - s) x0 + s eps  ->  v = eps - x0 = (x - x0) / s
        return (x - x0) / sigma
    sigmas = [sigma_of(u, 2.0) for u in (1.0, 0.75, 0.5, 0.25)]
    assert abs(sigmas[-1] - 0.4) < 1e-6
    assert torch.allclose(few_step(exact, x_T, sigmas, g), x0, atol=1e-5)
    for n in (1, 4, 16):
        assert torch.allclose(euler_ode(exact, x_T, n, 2.0), x0, atol=1e-4)

    def wrong(x, sigma):                        # a flow that is off by a constant is not forgiven
        return (x - x0) / sigma + 0.5
    assert not torch.allclose(euler_ode(wrong, x_T, 8, 2.0), x0, atol=1e-2)


class _Lossless:
    """A codec that gives back exactly what it was given."""

    def pixels_to_latents(self, px):
        return px

    def latents_to_pixels(self, z):
        return z


def test_a_lossless_codec_scores_as_the_world():
    torch.manual_seed(0)
    probe = J.Probe().eval()
    out = codec_ceiling(_Lossless(), probe, clips=6, frames=3)
    assert out["family_right_reconstructed"] == out["family_right_world"]
    assert out["hf_ratio_median"] == 1.0 and out["psnr_db"] > 60


def test_sampler_gap_runs_the_first_block_both_ways():
    torch.manual_seed(0)
    cfg = dit_config()
    dit = CausalWanDiT(cfg).eval()
    codec = AECodec(AECodecConfig(z_dim=16, width=8)).eval()
    probe = J.Probe().eval()
    encode = lambda caps: torch.randn(len(caps), cfg.text_len, cfg.text_dim)      # noqa: E731
    out = sampler_gap(dit, codec, encode, probe, shift=2.0, ode_steps=(2,), per_family=1)
    assert out["captions"] == 14 and out["sigmas"] == [1.0, 0.857, 0.667, 0.4]
    for name in ("engine_4_steps", "ode_2_steps"):
        assert 0.0 <= out[name]["family_right"] <= 1.0 and np.isfinite(out[name]["hf_ratio_median"])


def test_guidance_gain_is_the_plain_sampler_at_w_0_and_when_the_weak_model_is_the_model():
    torch.manual_seed(0)
    cfg = dit_config()
    dit, weak = CausalWanDiT(cfg).eval(), CausalWanDiT(cfg).eval()
    codec = AECodec(AECodecConfig(z_dim=16, width=8)).eval()
    probe = J.Probe().eval()
    emb = torch.randn(14, cfg.text_len, cfg.text_dim)
    encode = lambda caps: emb[:len(caps)]      # noqa: E731
    out = guidance_gain(dit, weak, codec, encode, probe, shift=2.0, weights=(0.0, 2.0), per_family=1)
    assert out["captions"] == 14 and set(out) >= {"w=0", "w=2"}
    for name in ("w=0", "w=2"):
        assert set(out[name]) == {"family_right", "palette_right", "hf_ratio_median"}
    assert out["w=2"]["hf_ratio_median"] != out["w=0"]["hf_ratio_median"]       # the weak model changes it
    same = guidance_gain(dit, dit, codec, encode, probe, shift=2.0, weights=(0.0, 2.0), per_family=1)
    assert same["w=0"] == same["w=2"] == out["w=0"]
