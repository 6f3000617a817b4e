"""The learned codec keeps the decoder protocol; the shipped VJ model loads by name, streams
through the real engine at 96 x 96, and a damaged codec file is one clear line."""

import json
import shutil

import numpy as np
import pytest
import torch

from sfe_live.model.aecodec import AECodec, AECodecConfig
from sfe_live.model.bundle import VJ_DIR, load_model
from sfe_live.model.decoders.protocol import VideoDecoder
from sfe_live.model.files import ModelLoadError

SHIPPED = (VJ_DIR / "model.json").exists()


def test_codec_is_a_video_decoder_with_derived_geometry():
    codec = AECodec(AECodecConfig(z_dim=8, width=16))
    assert isinstance(codec, VideoDecoder)
    frames = torch.randint(0, 256, (1, 2, 32, 48, 3), dtype=torch.uint8)
    z, st = codec.encode_frames(frames, codec.new_encode_state())
    assert z.shape == (1, 2, 8, 4, 6) and st.latent_frames == 2
    out, ds = codec.decode_to_frames(z, codec.new_decode_state())
    assert out.shape == (1, 2, 32, 48, 3) and out.dtype == torch.uint8 and ds.pixel_frames == 2
    assert codec.config.pixel_frames(3, True) == 3 and codec.config.spatial_factor == 8


def test_codec_refuses_sizes_that_are_not_multiples_of_eight():
    codec = AECodec(AECodecConfig(z_dim=8, width=16))
    with pytest.raises(ValueError, match="multiple of the codec factor 8"):
        codec.encode_frames(torch.zeros(1, 1, 30, 32, 3, dtype=torch.uint8), codec.new_encode_state())


def test_codec_normalisation_round_trips():
    codec = AECodec(AECodecConfig(z_dim=8, width=16))
    with torch.no_grad():
        codec.z_mean.normal_()
        codec.z_std.uniform_(0.5, 2.0)
    px = torch.rand(1, 1, 3, 16, 16) * 2 - 1
    raw = codec.raw_encode(px[:, 0])
    z = codec.pixels_to_latents(px)
    assert torch.allclose(z[:, 0] * codec.z_std[:, None, None] + codec.z_mean[:, None, None], raw, atol=1e-5)


@pytest.mark.skipif(not SHIPPED, reason="vj model not shipped")
def test_vj_model_streams_through_the_engine():
    from sfe_live.config import StreamConfig
    from sfe_live.engine import commands as C
    from sfe_live.engine.engine import Engine
    bundle = load_model("vj", device="cpu", dtype=torch.float32)
    assert bundle.name == "vj" and bundle.vae.name == "ae"
    assert (bundle.config.default_height, bundle.config.default_width) == (96, 96)
    eng = Engine(bundle, StreamConfig(height=96, width=96, frames_per_block=3),
                 prompt="pulsing neon tunnel rushing toward the camera, magenta and cyan", seed=1)
    b0 = eng.next_block()
    assert b0.frames.shape == (3, 96, 96, 3) and b0.frames.dtype == np.uint8
    eng.apply(C.SetPrompt("fast red and gold strobe, flashing", transition="purge", strength=3, purge_mode="keep-last"))
    b1 = eng.next_block()
    assert b1.frames.shape == (3, 96, 96, 3) and b1.purge_step == 0


@pytest.mark.skipif(not SHIPPED, reason="vj model not shipped")
def test_shipped_files_stay_small():
    total = sum(p.stat().st_size for p in VJ_DIR.rglob("*.safetensors"))      # the guide model too
    assert total <= 25 * 2 ** 20


@pytest.mark.skipif(not SHIPPED, reason="vj model not shipped")
def test_a_truncated_codec_is_one_line(tmp_path):
    from sfe_live.model.bundle import _load_demo
    folder = tmp_path / "vj"
    shutil.copytree(VJ_DIR, folder, ignore=shutil.ignore_patterns("*.log", "*.png", "*.mp4"))
    data = (folder / "codec.safetensors").read_bytes()
    (folder / "codec.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelLoadError, match="codec.safetensors: unusable codec weights") as e:
        _load_demo(torch.device("cpu"), torch.float32, folder, name="vj")
    assert "\n" not in str(e.value)
    meta = json.loads((folder / "model.json").read_text())
    meta["vae"]["factor"] = 4
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="unsupported learned codec geometry"):
        _load_demo(torch.device("cpu"), torch.float32, folder, name="vj")


@pytest.mark.skipif(not SHIPPED, reason="vj model not shipped")
def test_a_show_without_a_prompt_starts_on_the_models_own(tmp_path):
    """``--model vj`` with no prompt used to start on the demo's "a red ball…", which the VJ world
    has no words for; model.json names the model's first prompt, and a bad one is one line."""
    from sfe_live.app import App, AppSettings
    from sfe_live.config import DEFAULT_PROMPT
    from sfe_live.model.bundle import _load_demo
    from sfe_live.vj.train import FIRST_PROMPT
    app = App(AppSettings(model="vj", realtime=False, osc=False, threads=2)).load()
    try:
        assert app.engine.initial_prompt == FIRST_PROMPT
    finally:
        app.stop()
    app = App(AppSettings(model="vj", prompt="fast fire stripes", realtime=False, osc=False, threads=2)).load()
    try:
        assert app.engine.initial_prompt == "fast fire stripes"
    finally:
        app.stop()
    assert load_model("demo", device="cpu", dtype=torch.float32).config.prompt == DEFAULT_PROMPT
    folder = tmp_path / "vj"
    shutil.copytree(VJ_DIR, folder, ignore=shutil.ignore_patterns("*.log", "*.png", "*.mp4"))
    meta = json.loads((folder / "model.json").read_text())
    meta["prompt"] = ["not", "text"]
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="prompt must be a text") as e:
        _load_demo(torch.device("cpu"), torch.float32, folder, name="vj")
    assert "\n" not in str(e.value)
