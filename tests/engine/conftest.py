"""Engine test fixtures: a bundle built from the reference fixture's DiT, and tiny-random."""

import json
import zlib

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from sfe_live.config import DiTConfig, ModelConfig, TextConfig, tiny_vae
from sfe_live.model.bundle import ModelBundle, load_model
from sfe_live.model.dit import CausalWanDiT
from sfe_live.model.files import strip_prefix
from sfe_live.model.vae import random_vae


class FixedTextEncoder:
    """Returns the fixture's prompt embeddings for one prompt, zeros-with-a-row for others."""

    def __init__(self, embeds):
        self.embeds = embeds
        self.config = TextConfig(kind="random", dim=embeds.shape[-1], text_len=embeds.shape[1])

    def get(self, prompt):
        if prompt == "fixture":
            return self.embeds.clone()
        g = torch.Generator().manual_seed(zlib.crc32(prompt.encode()))   # hash() is salted per process
        out = torch.zeros_like(self.embeds)
        out[:, :4] = torch.randn(1, 4, self.embeds.shape[-1], generator=g)
        return out


@pytest.fixture(scope="session")
def fixture_tensors(fixtures_dir):
    path = fixtures_dir / "self_forcing_tiny.safetensors"
    return load_file(str(path)), safe_open(str(path), "pt").metadata()


@pytest.fixture(scope="session")
def fixture_bundle(fixture_tensors):
    t, meta = fixture_tensors
    cfg = DiTConfig.from_dict(json.loads(meta["config"]))
    dit = CausalWanDiT(cfg)
    dit.load_state_dict(strip_prefix(t, "model."), strict=True)
    dit.eval().requires_grad_(False)
    vae = random_vae(tiny_vae(), seed=1)
    text = FixedTextEncoder(t["input.prompt_embeds"])
    mc = ModelConfig("fixture", cfg, tiny_vae(), text.config, 64, 64)
    return ModelBundle("fixture", mc, dit, vae, text, torch.device("cpu"), torch.float32)


@pytest.fixture(scope="session")
def tiny_bundle():
    return load_model("tiny-random", device="cpu", dtype=torch.float32)
