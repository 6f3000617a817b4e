"""The decoder protocol: Wan VAE, TAEHV and the pixel codec behind one seam; TAEHV in the engine."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from sfe_live.config import LatentGeometry, StreamConfig, tiny_vae
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.model.bundle import load_model
from sfe_live.model.codec import PixelCodec
from sfe_live.model.decoders.options import DecoderChoice
from sfe_live.model.decoders.protocol import StreamState, VideoDecoder
from sfe_live.model.decoders.taehv import TAEHV, TAEHVStreamState
from sfe_live.model.files import ModelLoadError, strip_prefix
from sfe_live.model.vae import random_vae


@pytest.fixture(scope="module")
def taehv_file(fixtures_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("taehv") / "taew2_1.safetensors"
    save_file(strip_prefix(load_file(str(fixtures_dir / "taehv_tiny.safetensors")), "taehv."), str(path))
    return path


@pytest.fixture(scope="module")
def taehv_bundle(taehv_file):
    return load_model("tiny-random", device="cpu", dtype=torch.float32,
                      decoder=DecoderChoice("taehv", str(taehv_file)))


def test_three_decoders_implement_the_protocol(taehv_bundle):
    for dec in (random_vae(tiny_vae(), seed=1), taehv_bundle.vae, PixelCodec()):
        assert isinstance(dec, VideoDecoder), type(dec)
        assert isinstance(dec.config, LatentGeometry)
        for st in (dec.new_decode_state(), dec.new_encode_state()):
            assert isinstance(st, StreamState) and st.nbytes() == 0 and st.clone().kind == st.kind
    assert isinstance(taehv_bundle.vae, TAEHV) and taehv_bundle.config.vae == taehv_bundle.vae.config
    assert taehv_bundle.describe()["decoder"] == "taehv"


def test_taehv_stream_survives_purge_prompt_reanchor_recache(taehv_bundle):
    """Streamed TAEHV frames equal a one-shot decode of the same latents (no flicker at any event)."""
    e = Engine(taehv_bundle, StreamConfig(height=64, width=64, kv_window=6, position_horizon=9),
               prompt="a red ball", seed=7)
    timeline = {2: [C.Purge(3)], 3: [C.SetPrompt("a blue square", transition="cut")],
                4: [C.SetPrompt("green", transition="recache")], 5: [C.Purge(0)]}
    blocks = list(e.run(7, timeline))
    assert e.state.kv.reanchors >= 1 and e.state.purges == 2 and e.state.recaches == 1
    assert isinstance(e.state.vae, TAEHVStreamState) and e.state.vae.latent_frames == 21
    streamed = np.concatenate([b.frames for b in blocks])
    latents = torch.cat([b.latents for b in blocks], dim=1)               # [1, 21, 16, 8, 8]
    full = taehv_bundle.vae.decode(latents)                               # [1, 81, 3, 64, 64] in [0, 1]
    full_u8 = (full * 255).round().to(torch.uint8)[0].permute(0, 2, 3, 1).numpy()
    assert streamed.shape == full_u8.shape == (9 + 12 * 6, 64, 64, 3)
    assert np.abs(streamed.astype(int) - full_u8.astype(int)).max() <= 1
    assert streamed.std() > 5                                             # frames carry structure


def test_v2v_encodes_through_taehv(taehv_bundle):
    requested = []

    def source(n):
        requested.append(n)
        return np.full((n, 64, 64, 3), 128, np.uint8)

    e = Engine(taehv_bundle, StreamConfig(height=64, width=64), prompt="a red ball", seed=3, source=source)
    e.apply(C.SetV2V(0.5))
    blocks = list(e.run(2))
    assert requested[:2] == [9, 12]
    assert all(b.v2v_step == 2 for b in blocks)
    assert isinstance(e.state.enc, TAEHVStreamState) and e.state.enc.latent_frames == 6


def test_decoder_choice_errors(taehv_file):
    with pytest.raises(ModelLoadError, match="--taehv PATH"):
        load_model("tiny-random", device="cpu", decoder=DecoderChoice("taehv"))
    with pytest.raises(ValueError, match="expected one of wan, taehv"):
        DecoderChoice("vqgan")
    assert DecoderChoice(taehv=str(taehv_file)).kind == "taehv"      # a path alone picks TAEHV
    real = load_model("tiny-random", device="cpu", decoder=DecoderChoice("taehv", "random"))
    assert real.vae.config.decoder_widths == (256, 128, 64, 64)      # real-size random weights (benchmarks)
    assert 11.0e6 < sum(p.numel() for p in real.vae.parameters()) < 11.6e6
