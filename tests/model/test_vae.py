"""Parity of the Wan2.1 VAE with the golden fixture, and the explicit stream state."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from sfe_live.config import VAEConfig, tiny_vae
from sfe_live.model.files import load_strict, strip_prefix
from sfe_live.model.vae import (VAEStreamState, WanVAE, from_vae_layout, pixels_to_uint8, random_vae,
                                to_vae_layout, uint8_to_pixels)

ATOL = 1e-4


def maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


@pytest.fixture(scope="module")
def fx(fixtures_dir):
    path = fixtures_dir / "wan_vae_tiny.safetensors"
    return load_file(str(path)), safe_open(str(path), "pt").metadata()


@pytest.fixture(scope="module")
def vae(fx):
    tensors, _ = fx
    with torch.device("meta"):
        v = WanVAE(tiny_vae())
    load_strict(v, strip_prefix(tensors, "vae."), "wan_vae_tiny.safetensors", "a Wan2.1 VAE state dict")
    return v.eval()


# ---- construction -------------------------------------------------------------------

def test_config_and_constants_match_fixture(fx):
    tensors, meta = fx
    assert VAEConfig.from_dict(json.loads(meta["config"])) == tiny_vae()
    cfg = tiny_vae()
    assert torch.equal(tensors["const.latents_mean"], torch.tensor(cfg.latents_mean))
    assert torch.equal(tensors["const.latents_std"], torch.tensor(cfg.latents_std))


def test_keys_are_wan_original_and_meta_buildable(fx):
    tensors, _ = fx
    with torch.device("meta"):
        v = WanVAE(tiny_vae())
        real = WanVAE(VAEConfig())
    keys = set(strip_prefix(tensors, "vae."))
    assert set(v.state_dict()) == keys
    assert set(real.state_dict()) == keys  # same structure, only widths differ
    assert all(p.is_meta for p in real.parameters())
    assert real.decoder.num_slots == 32 and real.encoder.num_slots == 24
    n = sum(p.numel() for p in real.parameters())
    assert 120e6 < n < 135e6, n  # Wan2.1_VAE.pth holds ~127M parameters
    assert real.state_dict()["decoder.upsamples.3.time_conv.weight"].shape == (768, 384, 3, 1, 1)


# ---- fixture parity -----------------------------------------------------------------

def test_encode_mu(vae, fx):
    t, _ = fx
    mu = vae.encode(t["input.pixels"])
    assert maxdiff(mu, t["output.encode_mu"]) < ATOL


def test_decode_full(vae, fx):
    t, _ = fx
    assert maxdiff(vae.decode(t["input.z"]), t["output.decode_full"]) < ATOL


def test_decode_stream_chunks(vae, fx):
    t, _ = fx
    z = t["input.z"]
    state = vae.new_decode_state()
    c0, state = vae.decode_stream(z[:, :, :3], state)
    assert maxdiff(c0, t["output.decode_stream.chunk0"]) < ATOL
    c1, state = vae.decode_stream(z[:, :, 3:], state)
    assert maxdiff(c1, t["output.decode_stream.chunk1"]) < ATOL
    assert state.latent_frames == 6 and state.pixel_frames == 21
    full = vae.decode(z)
    assert torch.equal(torch.cat([c0, c1], 2), full)  # 3+3 == full, bit-exact


def test_state_clone_restore(vae, fx):
    t, _ = fx
    z = t["input.z"]
    state = vae.new_decode_state()
    _, state = vae.decode_stream(z[:, :, :3], state)
    saved = state.clone()
    assert all(a is None or (a.data_ptr() != b.data_ptr() and torch.equal(a, b))
               for a, b in zip(state.cache, saved.cache))
    first, state = vae.decode_stream(z[:, :, 3:], state)
    # a different continuation, then restore and redo chunk 1
    _, _ = vae.decode_stream(torch.randn_like(z[:, :, 3:]), state)
    again, restored = vae.decode_stream(z[:, :, 3:], saved.clone())
    assert torch.equal(first, again)
    assert maxdiff(again, t["output.decode_stream.chunk1"]) < ATOL
    assert restored.latent_frames == 6 and saved.latent_frames == 3


def test_one_latent_chunks_and_multi_frame_calls_equal_full(vae, fx):
    t, _ = fx
    z = t["input.z"]
    state = vae.new_decode_state()
    parts = []
    for i in range(z.shape[2]):
        p, state = vae.decode_stream(z[:, :, i:i + 1], state)
        parts.append(p)
    assert [p.shape[2] for p in parts] == [1, 4, 4, 4, 4, 4]
    assert maxdiff(torch.cat(parts, 2), t["output.decode_full"]) < ATOL
    assert maxdiff(vae.decode(z, frames_per_call=3), t["output.decode_full"]) < ATOL


def test_encode_stream_chunks_equal_full(vae, fx):
    t, _ = fx
    x = t["input.pixels"]
    full = vae.encode(x)
    # the reference pattern: 1 frame, then groups of 4
    state = vae.new_encode_state()
    outs = []
    first, state = vae.encode_stream(x[:, :, :1], state)
    outs.append(first)
    for i in range(1, x.shape[2], 4):
        mu, state = vae.encode_stream(x[:, :, i:i + 4], state)
        outs.append(mu)
    assert [o.shape[2] for o in outs] == [1, 1, 1, 1, 1, 1]
    assert maxdiff(torch.cat(outs, 2), full) < ATOL
    assert state.pixel_frames == 21 and state.latent_frames == 6 and state.pending is None
    # arbitrary chunk sizes are buffered in the state
    state = vae.new_encode_state()
    outs, start = [], 0
    for n in (3, 2, 7, 1, 8):
        mu, state = vae.encode_stream(x[:, :, start:start + n], state)
        outs.append(mu)
        start += n
    assert [o.shape[2] for o in outs] == [1, 1, 1, 1, 2]  # 3->1, 5->2, 12->3 (+3 pending), 13->4, 21->6
    assert maxdiff(torch.cat(outs, 2), t["output.encode_mu"]) < ATOL


def test_state_to_and_errors(vae, fx):
    t, _ = fx
    state = vae.new_decode_state()
    _, state = vae.decode_stream(t["input.z"][:, :, :2], state)
    moved = state.to("cpu", torch.float64)
    assert isinstance(moved, VAEStreamState) and moved.latent_frames == 2
    assert all(c is None or c.dtype == torch.float64 for c in moved.cache)
    assert state.nbytes() > 0
    with pytest.raises(ValueError):
        vae.decode_stream(t["input.z"][:, :8], vae.new_decode_state())
    with pytest.raises(ValueError):
        vae.decode_stream(t["input.z"], vae.new_encode_state())
    with pytest.raises(ValueError):
        vae.encode(t["input.pixels"][:, :, :4])
    empty, _ = vae.decode_stream(t["input.z"][:, :, :0], vae.new_decode_state())
    assert empty.shape == (1, 3, 0, 32, 32)


def test_pixel_frames_match_config(vae, fx):
    t, _ = fx
    cfg = vae.config
    state = vae.new_decode_state()
    for n in (1, 2, 3):
        first = not state.started
        p, state = vae.decode_stream(t["input.z"][:, :, :n], state)
        assert p.shape[2] == cfg.pixel_frames(n, first)


# ---- engine-boundary helpers --------------------------------------------------------

def test_layout_and_uint8_helpers(vae, fx):
    t, _ = fx
    z_btchw = from_vae_layout(t["input.z"])
    assert z_btchw.shape == (1, 6, 16, 4, 4)
    assert torch.equal(to_vae_layout(z_btchw), t["input.z"])
    frames, state = vae.decode_to_frames(z_btchw, vae.new_decode_state())
    assert frames.dtype == torch.uint8 and frames.shape == (1, 21, 32, 32, 3) and frames.is_contiguous()
    ref = t["output.decode_full"].clamp(-1, 1) * 0.5 + 0.5
    assert (frames[0].float() / 255 - ref[0].permute(1, 2, 3, 0)).abs().max() <= 0.5 / 255 + 1e-6

    x = torch.tensor([-3.0, -1.0, 0.0, 0.5, 1.0, 7.0]).view(1, 1, 6, 1, 1).expand(1, 3, 6, 1, 1)
    u = pixels_to_uint8(x)
    assert u.shape == (1, 6, 1, 1, 3)
    assert u[0, :, 0, 0, 0].tolist() == [0, 0, 128, 191, 255, 255]
    assert pixels_to_uint8(x[0]).shape == (6, 1, 1, 3)
    back = uint8_to_pixels(u)
    assert back.shape == (1, 3, 6, 1, 1) and back.min() == -1 and back.max() == 1

    latents, estate = vae.encode_frames(frames[0, :5], vae.new_encode_state())
    assert latents.shape == (1, 2, 16, 4, 4) and estate.pixel_frames == 5


# ---- random init --------------------------------------------------------------------

def test_random_vae_seeded_and_not_degenerate():
    cfg = tiny_vae()
    a, b, c = random_vae(cfg, 0), random_vae(cfg, 0), random_vae(cfg, 1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["decoder.conv1.weight"], sc["decoder.conv1.weight"])
    z = torch.randn(1, 16, 2, 4, 4, generator=torch.Generator().manual_seed(3))
    px = a.decode(z)
    assert px.shape == (1, 3, 5, 32, 32) and torch.isfinite(px).all()
    assert 0.1 < px.std().item() < 0.6
    assert (px.abs() < 1).float().mean() > 0.9
    assert (px[:, :, 1:] - px[:, :, :-1]).abs().mean() > 0.02  # frames differ
    assert not any(p.requires_grad for p in a.parameters())
