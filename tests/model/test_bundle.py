"""Whole model folders (Wan original and diffusers layouts) load as one bundle and stream."""

import importlib.util
import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sfe_live.config import StreamConfig, tiny_dit, tiny_vae
from sfe_live.engine.engine import Engine
from sfe_live.model.bundle import check_model_folder, load_model
from sfe_live.model.checkpoints import random_dit, wan_to_diffusers_key
from sfe_live.model.files import ModelLoadError
from sfe_live.model.vae import random_vae
from sfe_live.model.vae_loading import save_vae_pth

_spec = importlib.util.spec_from_file_location("tiny_text", Path(__file__).with_name("tiny_text.py"))
tiny_text = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_text)

WAN_CONFIG = {"_class_name": "WanModel", "model_type": "t2v", "dim": 64, "ffn_dim": 128, "freq_dim": 16,
              "in_dim": 16, "num_heads": 4, "num_layers": 2, "out_dim": 16, "text_len": 16, "text_dim": 32}


@pytest.fixture(scope="module")
def parts():
    dit = random_dit(tiny_dit(), seed=4)
    vae = random_vae(tiny_vae(), seed=5)
    umt5, tok = tiny_text.build_tiny_umt5(seed=6, d_model=32)
    return dit, vae, umt5, tok


def write_wan(root: Path, parts) -> Path:
    dit, vae, umt5, tok = parts
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps(WAN_CONFIG))
    save_file(dit.state_dict(), str(root / "diffusion_pytorch_model.safetensors"))
    save_vae_pth(vae, root / "Wan2.1_VAE.pth")
    tiny_text.save_wan_layout(root, umt5, tok)
    return root


def write_diffusers(root: Path, parts) -> Path:
    dit, vae, umt5, tok = parts
    (root / "transformer").mkdir(parents=True)
    cfg = {"_class_name": "WanTransformer3DModel", "attention_head_dim": 16, "num_attention_heads": 4,
           "num_layers": 2, "ffn_dim": 128, "freq_dim": 16, "in_channels": 16, "out_channels": 16,
           "text_dim": 32, "patch_size": [1, 2, 2], "qk_norm": "rms_norm_across_heads", "cross_attn_norm": True,
           "eps": 1e-6}
    (root / "transformer" / "config.json").write_text(json.dumps(cfg))
    save_file({wan_to_diffusers_key(k): v.contiguous() for k, v in dit.state_dict().items()},
              str(root / "transformer" / "diffusion_pytorch_model.safetensors"))
    diffusers = pytest.importorskip("diffusers")
    ref = diffusers.AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                                     attn_scales=[], temperal_downsample=[False, True, True])
    ref.save_pretrained(root / "vae")
    tiny_text.save_diffusers_layout(root, umt5, tok)
    (root / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    return root


@pytest.mark.parametrize("layout", ["wan", "diffusers"])
def test_folder_loads_and_streams(tmp_path, parts, layout):
    root = (write_wan if layout == "wan" else write_diffusers)(tmp_path / f"Wan-tiny-{layout}", parts)
    lines = check_model_folder(root)
    assert f"({layout} layout) complete" in lines[0], lines
    bundle = load_model(root, device="cpu")
    assert bundle.dit.cfg.dim == 64 and bundle.config.text.dim == 32
    assert bundle.text.get("a red ball").shape == (1, bundle.dit.cfg.text_len, 32)
    for a, b in zip(bundle.dit.state_dict().values(), parts[0].state_dict().values()):
        assert torch.equal(a, b)
    engine = Engine(bundle, StreamConfig(height=64, width=64), prompt="a red ball", seed=1)
    b0, b1 = engine.next_block(), engine.next_block()
    assert b0.frames.shape == (9, 64, 64, 3) and b1.frames.shape == (12, 64, 64, 3)


def test_folder_with_self_forcing_checkpoint(tmp_path, parts, caplog):
    root = write_wan(tmp_path / "Wan-tiny", parts)
    other = random_dit(tiny_dit(), seed=99)
    ckpt = tmp_path / "self_forcing_dmd.pt"
    # an FSDP-wrapped training checkpoint: wrapper names inside the keys are stripped on load
    torch.save({"generator_ema": {"model._fsdp_wrapped_module." + k.replace("blocks.", "blocks._fsdp_wrapped_module.")
                                  : v for k, v in other.state_dict().items()}}, ckpt)
    with caplog.at_level(logging.WARNING):
        bundle = load_model(root, checkpoint=ckpt, device="cpu")
    assert torch.equal(bundle.dit.blocks[0].self_attn.q.weight, other.blocks[0].self_attn.q.weight)
    assert "self_forcing_dmd.pt" in bundle.source
    assert not [r for r in caplog.records if "no Self-Forcing checkpoint" in r.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_model(root, device="cpu")
    warned = [r.getMessage() for r in caplog.records if "no Self-Forcing checkpoint" in r.getMessage()]
    assert len(warned) == 1 and "\n" not in warned[0]


def test_incomplete_folder_errors(tmp_path, parts):
    root = write_wan(tmp_path / "Wan-tiny", parts)
    (root / "Wan2.1_VAE.pth").unlink()
    assert "MISSING Wan2.1_VAE.pth" in check_model_folder(root)[0]
    with pytest.raises(ModelLoadError) as e:
        load_model(root, device="cpu")
    assert "\n" not in str(e.value)
    with pytest.raises(ModelLoadError, match="not a Wan2.1 model folder"):
        load_model(tmp_path, device="cpu")


def test_folder_finds_taew2_1_by_itself(tmp_path, parts, fixtures_dir):
    from safetensors.torch import load_file

    from sfe_live.model.decoders.options import DecoderChoice
    from sfe_live.model.decoders.taehv import TAEHV
    from sfe_live.model.files import strip_prefix
    root = write_wan(tmp_path / "Wan-tiny", parts)
    with pytest.raises(ModelLoadError, match="no taew2_1.safetensors or taew2_1.pth in .*Wan-tiny"):
        load_model(root, device="cpu", decoder=DecoderChoice("taehv"))
    weights = strip_prefix(load_file(str(fixtures_dir / "taehv_tiny.safetensors")), "taehv.")
    torch.save(weights, root / "taew2_1.pth")
    bundle = load_model(root, device="cpu", decoder=DecoderChoice("taehv"))
    assert isinstance(bundle.vae, TAEHV) and bundle.vae.config.encoder_width == 16
    assert "TAEHV taew2_1.pth found" in check_model_folder(root)[-1]
    engine = Engine(bundle, StreamConfig(height=64, width=64), prompt="a red ball", seed=1)
    b0, b1 = engine.next_block(), engine.next_block()
    assert b0.frames.shape == (9, 64, 64, 3) and b1.frames.shape == (12, 64, 64, 3)


def test_public_api():
    import sfe_live.model as model
    from sfe_live.model.checkpoints import load_dit
    from sfe_live.model.vae_loading import load_vae
    assert model.load_dit is load_dit and model.load_vae is load_vae
    assert model.load_model is load_model and callable(model.load_text_encoder)
    assert set(model.__all__) >= {"load_dit", "load_vae", "load_text_encoder", "load_model"}
