"""The shipped demo bundle loads and streams through the real engine."""

import numpy as np
import pytest
import torch

from sfe_live.model.bundle import DEMO_DIR, _load_demo

META = "model.json" if (DEMO_DIR / "model.json").exists() else "train_meta.json"


@pytest.mark.skipif(not (DEMO_DIR / META).exists(), reason="demo weights not shipped")
def test_demo_generates_blocks_through_the_engine():
    from sfe_live.config import StreamConfig
    from sfe_live.engine import commands as C
    from sfe_live.engine.engine import Engine
    bundle = _load_demo(torch.device("cpu"), torch.float32, meta_name=META)
    assert bundle.config.vae.spatial_factor == 4 and bundle.config.vae.temporal_factor == 1
    eng = Engine(bundle, StreamConfig(height=64, width=64, frames_per_block=3), prompt="a red ball bouncing", seed=1)
    b0 = eng.next_block()
    assert b0.frames.shape == (3, 64, 64, 3) and b0.frames.dtype == np.uint8
    eng.apply(C.SetPrompt("a blue square moving left on a grid", transition="purge", strength=3))
    b1 = eng.next_block()
    assert b1.frames.shape == (3, 64, 64, 3) and b1.purge_step == 0


@pytest.mark.skipif(not (DEMO_DIR / "model.json").exists(), reason="demo model not published")
def test_demo_is_the_default_model():
    from sfe_live.model.bundle import default_model_spec
    assert default_model_spec() == "demo"
