"""The demo's pixel codec: lossless round trip and the engine's VAE interface."""

import torch

from sfe_live.model.codec import PixelCodec, PixelCodecConfig


def test_round_trip_is_lossless():
    codec = PixelCodec(PixelCodecConfig(factor=4, mean=-0.7, std=0.4))
    frames = torch.randint(0, 256, (1, 3, 32, 48, 3), dtype=torch.uint8)
    z, st = codec.encode_frames(frames, codec.new_encode_state())
    assert z.shape == (1, 3, 48, 8, 12)
    back, dst = codec.decode_to_frames(z, codec.new_decode_state())
    assert back.shape == frames.shape and back.dtype == torch.uint8
    assert torch.equal(back, frames)
    assert st.pixel_frames == 3 and dst.latent_frames == 3


def test_config_matches_engine_expectations():
    cfg = PixelCodecConfig(factor=4)
    assert cfg.spatial_factor == 4 and cfg.temporal_factor == 1 and cfg.z_dim == 48
    assert cfg.pixel_frames(3, True) == 3 and cfg.pixel_frames(3, False) == 3
    assert PixelCodecConfig.from_dict(cfg.to_dict()) == cfg
    assert list(PixelCodec(cfg).parameters()) == []


def test_projection_keeps_world_frames_and_removes_noise():
    import random

    import numpy as np

    from sfe_live.demo import world as W
    cfg = PixelCodecConfig(factor=4, mean=-0.7, std=0.4, project_rank=8)
    codec = PixelCodec(cfg)
    rng = random.Random(0)
    frames = torch.from_numpy(np.concatenate([W.sample_clip(rng, 2)[1] for _ in range(40)]))[None]
    z, _ = codec.encode_frames(frames, codec.new_encode_state())
    codec.fit_basis(z[0])
    back, _ = codec.decode_to_frames(z, codec.new_decode_state())
    assert (back.float() - frames.float()).abs().mean() < 8
    noisy = z + 0.25 * torch.randn_like(z)
    plain = PixelCodec(PixelCodecConfig(factor=4, mean=-0.7, std=0.4))
    err_plain = (plain.decode_to_frames(noisy, plain.new_decode_state())[0].float() - frames.float()).abs().mean()
    err_proj = (codec.decode_to_frames(noisy, codec.new_decode_state())[0].float() - frames.float()).abs().mean()
    assert err_proj < 0.7 * err_plain
