"""Absurd model configs are refused with one line naming the file before anything is allocated,
and a refused pickle is reported as refused, not as a truncated file (issue 11, items 8 and 10)."""

from __future__ import annotations

import collections
import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from sfe_live.config import DiTConfig, TextConfig, VAEConfig
from sfe_live.model.checkpoints import load_dit, read_dit_config
from sfe_live.model.files import ModelLoadError, read_state_dict, strip_prefix

WAN_CONFIG = {"_class_name": "WanModel", "model_type": "t2v", "dim": 64, "ffn_dim": 128, "freq_dim": 16,
              "in_dim": 16, "num_heads": 4, "num_layers": 2, "out_dim": 16, "text_len": 16, "text_dim": 32,
              "eps": 1e-6}

BAD = [("num_layers", 1e9), ("num_layers", 1_000_000_000), ("text_len", 1e9), ("text_len", 10**9),
       ("num_heads", 0), ("num_heads", -4), ("dim", -64), ("ffn_dim", 0), ("num_layers", 2.5),
       ("num_layers", "2"), ("num_layers", True), ("text_dim", 10**12), ("patch_size", [1, 0, 2]),
       ("patch_size", [1, 2]), ("freq_dim", None), ("rope_positions", 10**12), ("eps", "tiny")]


@pytest.mark.parametrize("key,value", BAD, ids=[f"{k}={v!r}" for k, v in BAD])
def test_absurd_dit_config_is_one_line(tmp_path, key, value):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({**WAN_CONFIG, key: value}))
    with pytest.raises(ModelLoadError) as e:
        read_dit_config(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg and key in msg, msg


def test_good_configs_still_load(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(WAN_CONFIG))
    assert read_dit_config(p).num_layers == 2
    assert DiTConfig().num_layers == 30 and VAEConfig().dim == 96 and TextConfig().text_len == 512


@pytest.mark.parametrize("cls,kw", [(VAEConfig, {"dim": 0}), (VAEConfig, {"dim": 10**9}),
                                    (VAEConfig, {"num_res_blocks": -1}), (VAEConfig, {"dim_mult": (1, 2, 10**9)}),
                                    (TextConfig, {"text_len": 10**9}), (TextConfig, {"dim": 0}),
                                    (TextConfig, {"cache_size": -1})])
def test_vae_and_text_configs_are_bounded(cls, kw):
    with pytest.raises(ValueError) as e:
        cls(**kw)
    assert next(iter(kw)) in str(e.value)


def test_num_heads_zero_through_the_loader(tmp_path, fixtures_dir):
    sd = strip_prefix(load_file(str(fixtures_dir / "self_forcing_tiny.safetensors")), "model.")
    save_file(sd, str(tmp_path / "diffusion_pytorch_model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({**WAN_CONFIG, "num_heads": 0}))
    with pytest.raises(ModelLoadError) as e:
        load_dit(tmp_path)
    assert "config.json" in str(e.value) and "num_heads" in str(e.value)


def test_huge_config_json_is_not_read(tmp_path):
    p = tmp_path / "config.json"
    with open(p, "wb") as f:
        f.truncate(2 << 30)
    with pytest.raises(ModelLoadError) as e:
        read_dit_config(p)
    assert "too large" in str(e.value) and str(p) in str(e.value)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_refused_pickle_is_reported_as_refused(tmp_path):
    p = tmp_path / "model.pt"
    torch.save(collections.OrderedDict(w=torch.zeros(2), evil=_Evil()), p)
    with pytest.raises(ModelLoadError) as e:
        read_state_dict(p)
    msg = str(e.value)
    assert "truncated" not in msg and "refused" in msg and str(p) in msg and "\n" not in msg, msg
