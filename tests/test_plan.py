"""The memory planner: the issue's 832x480 table, fitting options, and exact agreement with the
bytes the engine really allocates (weights, KV cache, VAE stream state) at a small size."""

import dataclasses
import json

import pytest
import torch

from sfe_live.cli import main
from sfe_live.config import StreamConfig
from sfe_live.engine.engine import Engine
from sfe_live.model.bundle import load_model
from sfe_live.plan import GIB, plan_memory, request_for


@pytest.fixture(scope="module")
def wan_request():
    return request_for(None, StreamConfig(height=480, width=832), "bf16", text_on_gpu=True)


def test_wan_832x480_matches_the_issue_table(wan_request):
    plan = plan_memory(wan_request, vram_gib=24)
    gib = {k: v / GIB for k, v in plan.terms}
    # the issue's table: DiT 2.64, umT5-XXL 10.58, VAE 0.24, KV 5.62, decode state 1.76; peak 23.1-23.6
    for name, want in [("DiT weights", 2.64), ("text encoder weights", 10.58), ("VAE weights", 0.24),
                       ("KV cache", 5.62), ("VAE decode stream state", 1.76)]:
        assert gib[name] == pytest.approx(want, abs=0.01), name
    assert abs(plan.total_gib - 23.35) / 23.35 < 0.10
    cpu = plan_memory(dataclasses.replace(wan_request, text_on_gpu=False), vram_gib=16)
    assert cpu.total_gib < 14 and cpu.fits


def test_does_not_fit_names_options(wan_request):
    plan = plan_memory(wan_request, vram_gib=16)
    assert plan.fits is False
    assert plan.options[0].startswith("--text-device cpu (")
    line = plan.verdict()
    assert "does not fit" in line and "options: --text-device cpu" in line and "\n" not in line
    small = plan_memory(wan_request, vram_gib=8)
    assert small.options and all("--text-device cpu --fp8" in o for o in small.options)
    fp8 = plan_memory(dataclasses.replace(wan_request, fp8=True))
    assert fp8.term("DiT weights (fp8 linears)") < 0.6 * plan.term("DiT weights")


@pytest.mark.parametrize("dtype,name", [(torch.float32, "fp32"), (torch.bfloat16, "bf16")])
def test_plan_terms_equal_real_allocations(dtype, name):
    bundle = load_model("tiny-random", device="cpu", dtype=dtype)
    stream = StreamConfig(height=64, width=96, kv_window=6)
    e = Engine(bundle, stream, prompt="a red ball")
    for _ in range(3):
        e.next_block()
    plan = plan_memory(request_for("tiny-random", stream, name, cuda_context=False))
    kv = e.state.kv
    assert plan.term("KV cache") == sum(t.numel() * t.element_size() for t in kv.k + kv.v)
    assert plan.term("VAE decode stream state") == e.state.vae.nbytes()
    assert plan.term("DiT weights") == sum(p.numel() * p.element_size() for p in bundle.dit.parameters())
    assert plan.term("VAE weights") == sum(p.numel() * p.element_size() for p in bundle.vae.parameters())


def test_doctor_plan_json(capsys):
    assert main(["doctor", "--plan", "--vram", "16", "--json", "--kv-window", "12"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["window_frames"] == 12 and out["vram_gib"] == 16.0
    assert out["text_on_gpu"] is False and out["fits"] is True        # auto moved the text encoder
    assert main(["doctor", "--plan", "--vram", "16", "--text-device", "cuda"]) == 0
    text = capsys.readouterr().out
    assert "does not fit" in text and "options: --text-device cpu" in text
