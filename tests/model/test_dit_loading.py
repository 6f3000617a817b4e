"""Loading the DiT from every real on-disk layout, and the loader's bad-input errors."""

import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from sfe_live.config import tiny_dit
from sfe_live.model.checkpoints import load_dit, random_dit, wan_to_diffusers_key
from sfe_live.model.files import ModelLoadError, strip_prefix

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WAN_CONFIG = {"_class_name": "WanModel", "model_type": "t2v", "dim": 64, "ffn_dim": 128, "freq_dim": 16,
              "in_dim": 16, "num_heads": 4, "num_layers": 2, "out_dim": 16, "text_len": 16, "text_dim": 32,
              "eps": 1e-6}


@pytest.fixture(scope="module")
def ref_sd(fixtures_dir):
    return strip_prefix(load_file(str(fixtures_dir / "self_forcing_tiny.safetensors")), "model.")


@pytest.fixture(scope="module")
def inputs(fixtures_dir):
    t = load_file(str(fixtures_dir / "self_forcing_tiny.safetensors"))
    return t["S.input.x"], t["S.input.timestep"], t["input.prompt_embeds"], t["S.output.flow_pred"]


def _check(model, inputs):
    x, ts, pe, ref = inputs
    with torch.no_grad():
        torch.testing.assert_close(model(x, ts, pe), ref, atol=1e-4, rtol=1e-4)


def test_wan_safetensors_folder(tmp_path, ref_sd, inputs):
    save_file(ref_sd, str(tmp_path / "diffusion_pytorch_model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(WAN_CONFIG))
    _check(load_dit(tmp_path), inputs)
    _check(load_dit(tmp_path / "diffusion_pytorch_model.safetensors"), inputs)


def test_sharded_safetensors(tmp_path, ref_sd, inputs):
    keys = sorted(ref_sd)
    half = len(keys) // 2
    shards = {"diffusion_pytorch_model-00001-of-00002.safetensors": keys[:half],
              "diffusion_pytorch_model-00002-of-00002.safetensors": keys[half:]}
    weight_map = {}
    for name, ks in shards.items():
        save_file({k: ref_sd[k] for k in ks}, str(tmp_path / name))
        weight_map.update({k: name for k in ks})
    (tmp_path / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (tmp_path / "config.json").write_text(json.dumps(WAN_CONFIG))
    _check(load_dit(tmp_path), inputs)


def test_self_forcing_checkpoint_replaces_base(tmp_path, ref_sd, inputs):
    base = random_dit(tiny_dit(), seed=3).state_dict()
    save_file(base, str(tmp_path / "diffusion_pytorch_model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(WAN_CONFIG))
    ckpt = tmp_path / "self_forcing_dmd.pt"
    torch.save({"generator": {"model." + k: v * 0 for k, v in ref_sd.items()},
                "generator_ema": {"model." + k: v for k, v in ref_sd.items()},
                "critic": {"x": torch.zeros(1)}}, ckpt)
    _check(load_dit(tmp_path, checkpoint=ckpt), inputs)
    with pytest.raises(AssertionError):
        _check(load_dit(tmp_path), inputs)


def test_diffusers_transformer_folder_matches_diffusers(tmp_path, ref_sd, inputs):
    diffusers = pytest.importorskip("diffusers")
    dm = diffusers.WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=4, attention_head_dim=16, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=16, ffn_dim=128, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6)
    dsd = {wan_to_diffusers_key(k): v for k, v in ref_sd.items()}
    assert set(dsd) == set(dm.state_dict())
    dm.load_state_dict(dsd, strict=True)
    model_dir = tmp_path / "Wan2.1-T2V-tiny-Diffusers"
    dm.save_pretrained(str(model_dir / "transformer"))
    (model_dir / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    ours = load_dit(model_dir)
    assert ours.cfg.text_len == 512  # diffusers configs carry no text_len: Wan's default
    x, ts, pe, ref = inputs
    with torch.no_grad():
        theirs = dm(x.permute(0, 2, 1, 3, 4), ts[:, 0], pe, return_dict=False)[0].permute(0, 2, 1, 3, 4)
        padded = torch.cat([pe, pe.new_zeros(1, 512 - pe.shape[1], pe.shape[2])], dim=1)
        theirs512 = dm(x.permute(0, 2, 1, 3, 4), ts[:, 0], padded, return_dict=False)[0].permute(0, 2, 1, 3, 4)
        mine = ours(x, ts, pe)   # pads to text_len 512 itself, as the reference does
    torch.testing.assert_close(theirs, ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(mine, theirs512, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(theirs512, ref, atol=1e-3)  # padding rows do take part in attention


def test_bad_inputs(tmp_path, ref_sd):
    with pytest.raises(ModelLoadError, match="not found"):
        load_dit(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="no DiT weights"):
        load_dit(tmp_path)
    # truncated file
    good = tmp_path / "good" / "diffusion_pytorch_model.safetensors"
    good.parent.mkdir()
    save_file(ref_sd, str(good))
    (good.parent / "config.json").write_text(json.dumps(WAN_CONFIG))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps(WAN_CONFIG))
    data = good.read_bytes()
    (bad / "diffusion_pytorch_model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="truncated") as e:
        load_dit(bad)
    assert "\n" not in str(e.value) and "diffusion_pytorch_model.safetensors" in str(e.value)
    # weights of another size
    other = tmp_path / "other"
    other.mkdir()
    save_file(ref_sd, str(other / "diffusion_pytorch_model.safetensors"))
    (other / "config.json").write_text(json.dumps({**WAN_CONFIG, "ffn_dim": 256}))
    with pytest.raises(ModelLoadError, match="ffn.0.weight has shape"):
        load_dit(other)
    # not a DiT at all
    vae_like = tmp_path / "vae.safetensors"
    save_file({"encoder.conv1.weight": torch.zeros(2, 3, 3, 3, 3)}, str(vae_like))
    with pytest.raises(ModelLoadError, match="not a Wan DiT"):
        load_dit(vae_like)
    # a pickle that is not a dict
    junk = tmp_path / "junk.pt"
    torch.save([torch.zeros(1)], junk)
    with pytest.raises(ModelLoadError, match="expected a dict"):
        load_dit(junk, config=tiny_dit())


def test_bf16_load(tmp_path, ref_sd):
    save_file(ref_sd, str(tmp_path / "diffusion_pytorch_model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(WAN_CONFIG))
    m = load_dit(tmp_path, dtype=torch.bfloat16)
    assert m.patch_embedding.weight.dtype == torch.bfloat16
