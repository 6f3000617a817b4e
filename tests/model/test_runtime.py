"""Runtime options: text placement from the plan, refusals in one line, the compile fallback,
the attention backend, and a CUDA out-of-memory error during the show (a stand-in raising the
real torch.OutOfMemoryError: there is no GPU here)."""

import time

import pytest
import torch

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.runner import Runner
from sfe_live.model import attention
from sfe_live.model.files import ModelLoadError
from sfe_live.model.runtime import (RuntimeOptions, compile_dit, load_for_stream, plan_placement, warm_up)


def test_text_device_auto_follows_the_plan():
    stream, cuda = StreamConfig(), torch.device("cuda")       # a device object: no CUDA query
    dev, plan = plan_placement("", stream, cuda, RuntimeOptions(), vram_gib=80)
    assert dev.type == "cuda" and plan.fits
    dev, plan = plan_placement("", stream, cuda, RuntimeOptions(), vram_gib=16)
    assert dev.type == "cpu" and plan.fits and plan.total_gib < 14
    with pytest.raises(ModelLoadError, match=r"does not fit .* options: --text-device cpu --fp8"):
        plan_placement("", stream, cuda, RuntimeOptions(), vram_gib=8)
    with pytest.raises(ModelLoadError, match="options: --text-device cpu"):
        plan_placement("", stream, cuda, RuntimeOptions(text_device="cuda"), vram_gib=16)


def test_refusals_are_one_line():
    with pytest.raises(ModelLoadError, match="--fp8: needs an NVIDIA GPU"):
        load_for_stream("tiny-random", StreamConfig(height=64, width=64), RuntimeOptions(fp8=True), device="cpu")
    with pytest.raises(ModelLoadError, match="--text-device cuda"):
        load_for_stream("tiny-random", StreamConfig(height=64, width=64), RuntimeOptions(text_device="cuda"),
                        device="cpu")
    with pytest.raises(ValueError, match="--dtype"):
        RuntimeOptions(dtype="fp64")


def test_attention_backend_chosen_once():
    assert attention.select_backend("auto", torch.device("cpu"), torch.float32) == "sdpa"
    assert attention.backend_name() == "sdpa"
    if not attention.available_backends()["flash-attn"]:
        with pytest.raises(ValueError, match="flash-attn is not installed"):
            attention.select_backend("flash-attn", torch.device("cuda"), torch.bfloat16)


def test_compile_failure_falls_back_to_eager(tiny_bundle_fresh):
    bundle = tiny_bundle_fresh
    stream = StreamConfig(height=64, width=64)
    ref = Engine(bundle, stream, prompt="a red ball", seed=1).next_block().latents

    def broken_compiler(fn):
        def run(*a, **k):
            raise RuntimeError("backend exploded\nsecond line")
        return run
    compile_dit(bundle.dit, compiler=broken_compiler)
    engine = Engine(bundle, stream, prompt="a red ball", seed=1)
    reason = warm_up(engine, blocks=1)
    assert reason == "--compile failed (RuntimeError: backend exploded); running eager"
    assert all("forward" not in vars(b) for b in bundle.dit.blocks)
    assert engine.state.block_index == 0                                # warm-up never touched the show
    assert torch.equal(engine.next_block().latents, ref)


def _graphs_for_a_stream(num_layers: int, blocks: int) -> tuple[int, list[torch.Tensor], list[torch.Tensor]]:
    """Compile a random DiT of ``num_layers`` with a counting backend (no code generation) and run a
    stream past its full window; (graphs compiled, compiled latents, eager latents)."""
    import dataclasses

    import torch._dynamo

    from sfe_live.model.bundle import load_model
    from sfe_live.model.runtime import eager_dit
    torch._dynamo.reset()
    bundle = load_model("tiny-random", device="cpu", dtype=torch.float32)
    cfg = dataclasses.replace(bundle.dit.cfg, num_layers=num_layers)
    from sfe_live.model.dit import CausalWanDiT
    torch.manual_seed(0)
    bundle.dit = CausalWanDiT(cfg).eval()
    stream = StreamConfig(height=64, width=64, kv_window=9)
    graphs: list[int] = []

    def backend(gm, example_inputs):  # type: ignore[no-untyped-def]
        graphs.append(1)
        return gm.forward

    eager = Engine(bundle, stream, prompt="a red ball", seed=3)
    ref = [eager.next_block().latents for _ in range(blocks)]
    compile_dit(bundle.dit, compiler=lambda fn: torch.compile(fn, backend=backend))
    try:
        engine = Engine(bundle, stream, prompt="a red ball", seed=3)
        got = [engine.next_block().latents for _ in range(blocks)]
    finally:
        eager_dit(bundle.dit)
        torch._dynamo.reset()
    return len(graphs), got, ref


def test_compiled_blocks_are_one_set_of_graphs_for_every_layer():
    """`--compile` used to guard each block's graph on its layer index and the cache object, so a
    model recompiled for every layer until torch's limit of 8, and the rest of a 30-layer Wan ran
    eagerly. Now the graph count does not grow with the layers (a block is called with its
    layer's tensors), the stream past its full window adds none, and the output is the eager one."""
    few, got, ref = _graphs_for_a_stream(num_layers=2, blocks=5)
    many, got_many, ref_many = _graphs_for_a_stream(num_layers=10, blocks=5)
    assert few <= 6 and many == few          # 4 here: context pass or not, first block or not (was 8 and 8,
    #                                          torch's limit: the 10-layer model's other layers ran eagerly)
    for a, b in [*zip(got, ref), *zip(got_many, ref_many)]:
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_compiled_kernels_are_kept_in_sfe_lives_cache(monkeypatch, tmp_path):
    """A reboot empties the temporary folder torch uses by default: the first compile then takes
    about a minute on 2 cores again. Kernels go to sfe-live's cache folder unless told otherwise."""
    from sfe_live.model.runtime import compile_cache_dir
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("SFE_LIVE_CACHE", str(tmp_path))
    assert compile_cache_dir() == str(tmp_path / "torchinductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/elsewhere")
    assert compile_cache_dir() == "/elsewhere"
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", default_cache_dir())   # torch's own, set while loading
    assert compile_cache_dir() == str(tmp_path / "torchinductor")
    monkeypatch.delenv("SFE_LIVE_CACHE")
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    assert compile_cache_dir().endswith("torchinductor") and "sfe-live" in compile_cache_dir()


def test_a_per_frame_decoder_compiles_and_a_streaming_one_stays_eager(tiny_bundle_fresh):
    """`--compile` also compiles the learned codec's network (the VJ model's decode is 2x faster on
    this CPU): same frames; a decoder with stream state (here the tiny model's) is left alone."""
    from sfe_live.model.bundle import load_model
    from sfe_live.model.runtime import compile_decoder, eager_decoder
    vae = load_model("vj", device="cpu", dtype=torch.float32).vae
    z = torch.randn(1, 3, vae.config.z_dim, 12, 12, generator=torch.Generator().manual_seed(0))
    want = vae.decode_to_frames(z, vae.new_decode_state())[0]
    calls: list[int] = []

    def compiler(fn):  # type: ignore[no-untyped-def]
        def run(*a, **k):  # type: ignore[no-untyped-def]
            calls.append(1)
            return fn(*a, **k)
        return run
    assert compile_decoder(vae, compiler)
    assert torch.equal(vae.decode_to_frames(z, vae.new_decode_state())[0], want) and calls == [1]
    eager_decoder(vae)
    assert "forward" not in vars(vae.decoder)
    assert not compile_decoder(tiny_bundle_fresh.vae, compiler)


def test_doctor_says_whether_compile_can_work(monkeypatch):
    from sfe_live.model.runtime import doctor_lines
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CXX", raising=False)
    assert any(line.startswith("compile: no C++ compiler on PATH") for line in doctor_lines())
    monkeypatch.setenv("CXX", "/bin/sh")                        # any executable stands for a compiler here
    assert any(line.startswith("compile: C++ compiler /bin/sh found") for line in doctor_lines())


class OOMOnce(Engine):
    """The real engine; its first block raises the real CUDA out-of-memory exception type."""

    raised = False

    def next_block(self):
        if not self.raised:
            self.raised = True
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().next_block()


def test_oom_during_the_show_is_one_line_and_the_stream_continues(tiny_bundle_fresh, caplog):
    engine = OOMOnce(tiny_bundle_fresh, StreamConfig(height=64, width=64), prompt="a red ball")
    runner = Runner(engine, realtime=False)
    runner.start()
    deadline = time.time() + 60
    error = ""
    while time.time() < deadline and runner.blocks_done < 1:
        error = runner.status().error or error
        time.sleep(0.02)
    runner.submit(C.SetPaused(True))
    runner.stop()
    assert runner.blocks_done >= 1
    assert error.startswith("GPU out of memory during generation: try a smaller --size")
    records = [r for r in caplog.records if "out of memory" in r.getMessage()]
    assert records and all(r.exc_info is None for r in records)          # one line, no traceback


@pytest.fixture
def tiny_bundle_fresh():
    from sfe_live.model.bundle import load_model
    return load_model("tiny-random", device="cpu", dtype=torch.float32)
