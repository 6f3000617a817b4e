"""Loading the Wan2.1 VAE from every layout (checked against real diffusers), and bad input."""

import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from sfe_live.config import VAEConfig, tiny_vae
from sfe_live.model.files import ModelLoadError, rename_keys, strip_prefix
from sfe_live.model.vae import WanVAE, random_vae
from sfe_live.model.vae_loading import (WAN_VAE_FILENAME, diffusers_to_wan_rules, infer_vae_config,
                                        load_vae, save_vae_pth)

ATOL = 1e-4


@pytest.fixture(scope="module")
def fx_path(fixtures_dir):
    return fixtures_dir / "wan_vae_tiny.safetensors"


@pytest.fixture(scope="module")
def fx(fx_path):
    return load_file(str(fx_path))


@pytest.fixture(scope="module")
def pth(fx, tmp_path_factory):
    """The fixture weights written as a Wan2.1_VAE.pth in an original-layout model folder."""
    folder = tmp_path_factory.mktemp("wan_model")
    with torch.device("meta"):
        v = WanVAE(tiny_vae())
    v.load_state_dict(strip_prefix(fx, "vae."), assign=True)
    return save_vae_pth(v, folder / WAN_VAE_FILENAME)


def assert_fixture_decode(vae, fx):
    # the decode is causal: the first 2 latents give the first 5 frames of the full decode
    assert (vae.decode(fx["input.z"][:, :, :2]) - fx["output.decode_full"][:, :, :5]).abs().max() < ATOL


def one_line_naming(exc: pytest.ExceptionInfo, path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


# ---- layouts ------------------------------------------------------------------------

def test_fixture_safetensors_with_prefix(fx_path, fx):
    vae = load_vae(fx_path)  # 'vae.'-prefixed keys, size inferred (dim 8), other tensors ignored
    assert vae.config == tiny_vae()
    assert not vae.training and not any(p.requires_grad for p in vae.parameters())
    assert_fixture_decode(vae, fx)


def test_pth_file_and_original_model_folder(pth, fx):
    assert not [p for p in pth.parent.iterdir() if p.name != WAN_VAE_FILENAME]  # no tmp left
    for source in (pth, pth.parent, str(pth)):
        vae = load_vae(source)
        assert vae.config.dim == 8
        assert_fixture_decode(vae, fx)


def test_wan_keys_safetensors_and_dtype(fx, tmp_path):
    path = tmp_path / "vae.safetensors"
    save_file(strip_prefix(fx, "vae."), str(path))
    vae = load_vae(path)
    assert_fixture_decode(vae, fx)
    half = load_vae(path, dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in half.parameters())
    px = half.decode(fx["input.z"][:, :, :2])
    assert px.dtype == torch.bfloat16 and (px.float() - fx["output.decode_full"][:, :, :5]).abs().max() < 0.3


def test_explicit_config_and_inference_for_real_size(fx_path):
    with torch.device("meta"):
        real = WanVAE(VAEConfig())
    assert infer_vae_config(real.state_dict()) == VAEConfig()
    assert load_vae(fx_path, config=tiny_vae()).config == tiny_vae()
    with pytest.raises(ModelLoadError) as e:
        load_vae(fx_path, config=VAEConfig(dim=16))  # wrong size for these weights
    assert "shape" in one_line_naming(e, fx_path)


def test_rename_table_covers_real_size_diffusers_keys():
    diffusers = pytest.importorskip("diffusers")
    with torch.device("meta"):
        d = diffusers.AutoencoderKLWan()
        w = WanVAE(VAEConfig())
    renamed = rename_keys(d.state_dict(), diffusers_to_wan_rules(VAEConfig()))
    ours = w.state_dict()
    assert set(renamed) == set(ours)
    assert all(renamed[k].shape == ours[k].shape for k in ours)


def test_diffusers_folder_matches_diffusers(tmp_path):
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    ref = diffusers.AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                                     attn_scales=[], temperal_downsample=[False, True, True]).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # random everything (diffusers zero-inits some projections)
        for name, p in ref.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / p[0].numel() ** 0.5)
        ref.decoder.conv_out.weight.mul_(0.5)  # keep most pixels inside diffusers' clamp
    model = tmp_path / "Wan2.1-tiny-Diffusers"
    ref.save_pretrained(model / "vae")
    (model / "model_index.json").write_text("{}")

    cfg = tiny_vae()
    mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1, 1)
    raw = torch.randn(1, 16, 3, 4, 4, generator=gen)              # diffusers' un-normalised latents
    pixels = torch.rand(1, 3, 5, 32, 32, generator=gen) * 2 - 1
    with torch.no_grad():
        ref_px = ref.decode(raw).sample                              # clamped to [-1, 1] by diffusers
        ref_mu = ref.encode(pixels).latent_dist.mean
    assert (ref_px.abs() < 1).float().mean() > 0.8                  # the clamp leaves most pixels alone

    for source in (model / "vae", model):
        vae = load_vae(source)
        assert vae.config == cfg
        ours_px = vae.decode((raw - mean) / std)
        assert (ours_px.clamp(-1, 1) - ref_px).abs().max() < ATOL
        ours_mu = vae.encode(pixels) * std + mean
        assert (ours_mu - ref_mu).abs().max() < ATOL


# ---- bad input ----------------------------------------------------------------------

def test_missing_file_and_empty_folder(tmp_path):
    missing = tmp_path / "nope" / WAN_VAE_FILENAME
    with pytest.raises(ModelLoadError) as e:
        load_vae(missing)
    one_line_naming(e, missing)
    with pytest.raises(ModelLoadError) as e:
        load_vae(tmp_path)
    one_line_naming(e, tmp_path)


def test_truncated_pth(pth, tmp_path):
    bad = tmp_path / WAN_VAE_FILENAME
    data = pth.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError) as e:
        load_vae(bad)
    one_line_naming(e, bad)


def test_dit_checkpoint_instead_of_vae(fixtures_dir, tmp_path):
    dit = fixtures_dir / "self_forcing_tiny.safetensors"
    with pytest.raises(ModelLoadError) as e:
        load_vae(dit)
    assert "DiT" in one_line_naming(e, dit)
    # a Self-Forcing style .pt: {"generator_ema": {"model.<wan key>": ...}}
    sf = tmp_path / "self_forcing_dmd.pt"
    torch.save({"generator_ema": {"model.patch_embedding.weight": torch.zeros(2, 2)}}, sf)
    with pytest.raises(ModelLoadError) as e:
        load_vae(sf)
    assert "DiT" in one_line_naming(e, sf)


def test_bad_diffusers_config(tmp_path):
    vae_dir = tmp_path / "vae"
    vae_dir.mkdir()
    (vae_dir / "config.json").write_text('{"_class_name": "WanTransformer3DModel"}')
    with pytest.raises(ModelLoadError) as e:
        load_vae(tmp_path)
    one_line_naming(e, vae_dir / "config.json")
    (vae_dir / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError) as e:
        load_vae(vae_dir)
    one_line_naming(e, vae_dir / "config.json")


def test_save_vae_pth_is_atomic_and_roundtrips(tmp_path):
    v = random_vae(tiny_vae(), seed=5)
    path = save_vae_pth(v, tmp_path / "sub" / "tiny.pth")
    assert os.listdir(path.parent) == ["tiny.pth"]
    back = load_vae(path)
    sd, sd2 = v.state_dict(), back.state_dict()
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)
