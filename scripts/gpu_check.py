"""GPU check: the real-size model on one NVIDIA GPU, every speed/memory option, in a few minutes.

    python scripts/gpu_check.py                      # full size (Wan2.1-T2V-1.3B shapes), 832x480
    python scripts/gpu_check.py --tiny --device cpu  # a smoke test of this script on any machine

Builds full-size random weights directly in GPU memory (no download, no files to carry), then
for each option (bf16 + SDPA, flash-attn / SageAttention if installed, torch.compile, fp8 if
torchao and the GPU allow it, umT5-XXL on the GPU vs on the CPU) runs the streaming engine at
832x480 and records per-block time, fps, time to first frame, peak VRAM
(``torch.cuda.max_memory_allocated``) next to the memory planner's figure, plus the error of
bf16-on-GPU against fp32-on-CPU on the golden fixtures. Writes JSON under docs/bench/.
Needs only torch, numpy, safetensors and transformers (no GUI, no media libraries).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from sfe_live.config import DiTConfig, ModelConfig, StreamConfig, TextConfig, VAEConfig, tiny_dit, tiny_vae  # noqa: E402
from sfe_live.engine.engine import Engine  # noqa: E402
from sfe_live.model import attention  # noqa: E402
from sfe_live.model.bundle import ModelBundle  # noqa: E402
from sfe_live.model.dit import CausalWanDiT  # noqa: E402
from sfe_live.model.runtime import apply_fp8, compile_dit, eager_dit, fp8_unavailable, warm_up  # noqa: E402
from sfe_live.model.vae import WanVAE  # noqa: E402
from sfe_live.plan import GIB, PlanRequest, plan_memory  # noqa: E402

PROMPT = "a red ball bouncing on a black background"


class FixedText:
    """A text stand-in: one fixed random context per prompt (20 valid rows), on the DiT's device."""

    def __init__(self, dim: int, text_len: int, device: torch.device, dtype: torch.dtype) -> None:
        self.config = TextConfig(kind="random", dim=dim, text_len=text_len)
        self.device, self.dtype = device, dtype

    def get(self, prompt: str) -> torch.Tensor:
        g = torch.Generator().manual_seed(len(prompt))
        out = torch.zeros(1, self.config.text_len, self.config.dim)
        n = min(20, self.config.text_len - 1)
        out[:, :n] = torch.randn(1, n, self.config.dim, generator=g)
        return out.to(self.device, self.dtype)


@torch.no_grad()
def randomize(module: torch.nn.Module, seed: int) -> None:
    """Fan-in scaled normal weights, small biases, norms near 1, generated on the module's device."""
    gen = torch.Generator(device=next(module.parameters()).device).manual_seed(seed)
    for name, p in module.named_parameters():
        if name.endswith("bias"):
            p.normal_(0, 0.02, generator=gen)
        elif "norm" in name or p.dim() == 1:
            p.normal_(1.0, 0.05, generator=gen)
        else:
            p.normal_(0, 1 / math.sqrt(max(1, p[0].numel())), generator=gen)


def build_bundle(dit_cfg: DiTConfig, vae_cfg: VAEConfig, device: torch.device, dtype: torch.dtype,
                 width: int, height: int) -> ModelBundle:
    with torch.device(device):
        dit = CausalWanDiT(dit_cfg).to(dtype)
        vae = WanVAE(vae_cfg).to(dtype)
    randomize(dit, 0)
    randomize(vae, 1)
    dit.eval().requires_grad_(False)
    vae.eval().requires_grad_(False)
    text = FixedText(dit_cfg.text_dim, dit_cfg.text_len, device, dtype)
    cfg = ModelConfig("random-wan2.1-1.3b", dit_cfg, vae_cfg, text.config, height, width)
    return ModelBundle(cfg.name, cfg, dit, vae, text, device, dtype, source="gpu_check random weights")  # type: ignore[arg-type]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(bundle: ModelBundle, stream: StreamConfig, blocks: int, label: str, plan_req: PlanRequest,
            extra_gib: float = 0.0) -> dict:
    dev = bundle.device
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    base = torch.cuda.memory_allocated(dev) if dev.type == "cuda" else 0
    t0 = time.perf_counter()
    engine = Engine(bundle, stream, prompt=PROMPT, seed=0)
    times, frames, ttff = [], 0, None
    for i in range(blocks):
        tb = time.perf_counter()
        b = engine.next_block()
        sync(dev)
        now = time.perf_counter()
        times.append(now - tb)
        frames += b.frames.shape[0]
        if ttff is None:
            ttff = now - t0
    steady = times[1:] or times
    peak = torch.cuda.max_memory_allocated(dev) / GIB if dev.type == "cuda" else None
    plan = plan_memory(plan_req)
    out = {"option": label, "attention": attention.backend_name(), "blocks": blocks,
           "block_s_median": round(statistics.median(steady), 4), "block_s_each": [round(t, 4) for t in times],
           "fps": round(sum(12 for _ in steady) / sum(steady), 2) if steady else None,
           "time_to_first_frame_s": round(ttff or 0.0, 3),
           "peak_vram_gib": None if peak is None else round(peak + extra_gib, 3),
           "allocated_before_gib": round(base / GIB, 3),
           "plan_total_gib": round(plan.total_gib, 3),
           "plan_without_cuda_context_gib": round(plan.total_gib - plan.term("CUDA context") / GIB
                                                  if plan_req.cuda_context else plan.total_gib, 3)}
    print(json.dumps({k: v for k, v in out.items() if k != "block_s_each"}), flush=True)
    del engine
    return out


def fixture_error(device: torch.device, dtype: torch.dtype) -> dict:
    """bf16-on-device vs fp32-on-CPU (and vs the reference output) on the golden fixtures."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    from sfe_live.model.files import strip_prefix
    out: dict = {}
    path = REPO / "tests" / "fixtures" / "self_forcing_tiny.safetensors"
    t = load_file(str(path))
    cfg = DiTConfig.from_dict(json.loads(safe_open(str(path), "pt").metadata()["config"]))
    x, ts, pe, ref = t["S.input.x"], t["S.input.timestep"], t["input.prompt_embeds"], t["S.output.flow_pred"]
    res = {}
    for name, dev, dt in (("fp32_cpu", torch.device("cpu"), torch.float32), ("half_device", device, dtype)):
        m = CausalWanDiT(cfg)
        m.load_state_dict(strip_prefix(t, "model."), strict=True)
        m = m.to(device=dev, dtype=dt).eval()
        with torch.no_grad():
            res[name] = m(x.to(dev, dt), ts.to(dev), pe.to(dev, dt)).float().cpu()

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return round(float((a.double() - b.double()).norm() / b.double().norm()), 6)
    out["dit_rel_error_vs_fp32_cpu"] = rel(res["half_device"], res["fp32_cpu"])
    out["dit_rel_error_vs_reference"] = rel(res["half_device"], ref)
    out["dit_fp32_cpu_rel_error_vs_reference"] = rel(res["fp32_cpu"], ref)
    vpath = REPO / "tests" / "fixtures" / "wan_vae_tiny.safetensors"
    vt = load_file(str(vpath))
    vres = {}
    for name, dev, dt in (("fp32_cpu", torch.device("cpu"), torch.float32), ("half_device", device, dtype)):
        with torch.device("meta"):
            v = WanVAE(tiny_vae())
        v.load_state_dict(strip_prefix(vt, "vae."), strict=True, assign=True)
        v = v.to(device=dev, dtype=dt).eval()
        vres[name] = v.decode(vt["input.z"].to(dev, dt)).float().cpu()
    out["vae_rel_error_vs_fp32_cpu"] = rel(vres["half_device"], vres["fp32_cpu"])
    out["vae_rel_error_vs_reference"] = rel(vres["half_device"], vt["output.decode_full"])
    return out


def text_encoder_check(device: torch.device, dtype: torch.dtype, tiny: bool) -> dict:
    """umT5-XXL (random weights, built on the GPU): its VRAM, one prompt on the GPU and on the CPU."""
    from transformers import UMT5Config, UMT5EncoderModel
    kw = dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64) if not tiny else \
        dict(vocab_size=1000, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4)
    cfg = UMT5Config(relative_attention_num_buckets=32, relative_attention_max_distance=128,
                     feed_forward_proj="gated-gelu", dropout_rate=0.0, is_encoder_decoder=False, use_cache=False, **kw)
    before = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    t0 = time.perf_counter()
    with torch.device(device):
        model = UMT5EncoderModel(cfg).to(dtype)   # transformers' own init, on the device
    model.eval().requires_grad_(False)
    sync(device)
    build_s = time.perf_counter() - t0
    weights_gib = ((torch.cuda.memory_allocated(device) - before) / GIB) if device.type == "cuda" else None
    ids = torch.randint(2, kw["vocab_size"], (1, 30))
    out = {"params": sum(p.numel() for p in model.parameters()), "build_s": round(build_s, 2),
           "weights_vram_gib": None if weights_gib is None else round(weights_gib, 3)}
    for where, dev in (("device", device), ("cpu", torch.device("cpu"))):
        if where == "cpu" and device.type != "cpu":
            model = model.to("cpu")
            if device.type == "cuda":
                torch.cuda.empty_cache()
        with torch.no_grad():
            model(input_ids=ids.to(dev))                       # warm
            sync(dev)
            t0 = time.perf_counter()
            model(input_ids=ids.to(dev))
            sync(dev)
        out[f"encode_one_prompt_s_{where}"] = round(time.perf_counter() - t0, 3)
    out["cpu_threads"] = torch.get_num_threads()
    del model
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--blocks", type=int, default=8, help="blocks per option (first one counts as warm-up)")
    ap.add_argument("--size", default="832x480")
    ap.add_argument("--tiny", action="store_true", help="tiny model shapes: a smoke test of this script")
    ap.add_argument("--skip", default="", help="comma list of steps to skip: flash,sage,compile,fp8,text,fixtures")
    ap.add_argument("--out", help="JSON path (default: docs/bench/gpu_check-<gpu>-<date>.json)")
    args = ap.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (use --tiny --device cpu for a smoke test)", file=sys.stderr)
        return 2
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    dname = "bf16" if dtype == torch.bfloat16 else "fp32"
    w, h = (int(v) for v in args.size.lower().split("x"))
    if args.tiny:
        w, h = min(w, 128), min(h, 64)
    dit_cfg, vae_cfg = (tiny_dit(), tiny_vae()) if args.tiny else (DiTConfig(), VAEConfig())
    stream = StreamConfig(height=h, width=w)
    report: dict = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "device": str(device), "dtype": dname, "width": w, "height": h, "tiny": args.tiny,
                    "window_frames": stream.window_frames, "frames_per_block": stream.frames_per_block,
                    "attention_available": attention.available_backends(), "results": [], "errors": {}}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        report["gpu"] = {"name": p.name, "total_gib": round(p.total_memory / GIB, 2),
                         "capability": list(torch.cuda.get_device_capability(device))}
    print(json.dumps({k: v for k, v in report.items() if k not in ("results", "errors")}), flush=True)

    t0 = time.perf_counter()
    bundle = build_bundle(dit_cfg, vae_cfg, device, dtype, w, h)
    sync(device)
    report["build_s"] = round(time.perf_counter() - t0, 2)
    req = PlanRequest("random", dit_cfg, vae_cfg, 0, w, h, stream.window_frames, stream.frames_per_block,
                      dname if dname in ("bf16", "fp32") else "bf16", text_on_gpu=False,
                      cuda_context=device.type == "cuda")

    def step(name: str, fn) -> None:
        if name in skip:
            return
        try:
            fn()
        except Exception as exc:  # one option failing never loses the others' figures
            report["errors"][name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            traceback.print_exc()
            eager_dit(bundle.dit)
            attention.select_backend("sdpa", device, dtype)

    def run_backend(name: str) -> None:
        attention.select_backend(name, device, dtype)
        report["results"].append(measure(bundle, stream, args.blocks, f"{dname} {name} (text on CPU)", req))
    step("sdpa", lambda: run_backend("sdpa"))
    if report["attention_available"]["flash-attn"]:
        step("flash", lambda: run_backend("flash-attn"))
    if report["attention_available"]["sage"]:
        step("sage", lambda: run_backend("sage"))
    attention.select_backend("auto", device, dtype)

    def run_compile() -> None:
        compile_dit(bundle.dit)
        engine = Engine(bundle, stream, prompt=PROMPT, seed=0)
        tc = time.perf_counter()
        reason = warm_up(engine)
        warm_s = time.perf_counter() - tc
        r = measure(bundle, stream, args.blocks, f"{dname} compile {attention.backend_name()}", req)
        r["compile_warm_up_s"], r["compile_fallback"] = round(warm_s, 1), reason or None
        report["results"].append(r)
        eager_dit(bundle.dit)
    step("compile", run_compile)

    def run_text() -> None:
        text = text_encoder_check(device, dtype, args.tiny)
        report["text_encoder"] = text
        if device.type == "cuda" and text.get("weights_vram_gib") is not None and report["results"]:
            # text on the GPU: the same stream with umT5-XXL's weights resident
            r = dict(report["results"][0])
            r["option"] = f"{dname} sdpa (text on GPU)"
            r["peak_vram_gib"] = round(r["peak_vram_gib"] + text["weights_vram_gib"], 3) if r["peak_vram_gib"] else None
            r["plan_total_gib"] = round(plan_memory(PlanRequest(**{**req.__dict__, "text_on_gpu": True,
                                                                 "text_params": text["params"]})).total_gib, 3)
            report["results"].append(r)
    step("text", run_text)
    step("fixtures", lambda: report.__setitem__("fixture_error", fixture_error(device, dtype)))

    def run_fp8() -> None:
        why = fp8_unavailable(device)
        if why:
            report["fp8"] = why
            return
        apply_fp8(bundle.dit)
        import dataclasses
        report["results"].append(measure(bundle, stream, args.blocks, f"{dname} fp8 {attention.backend_name()}",
                                         dataclasses.replace(req, fp8=True)))
    step("fp8", run_fp8)            # last: it changes the DiT's weights in place
    report["decoders"] = {"wan_vae": "measured above", "taehv": "pending (TAEHV decoder not in this build)"}
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    gpu = report.get("gpu", {}).get("name", str(device)).replace(" ", "-")
    out = Path(args.out) if args.out else REPO / "docs" / "bench" / (
        f"gpu_check-{gpu}{'-tiny' if args.tiny else ''}-{datetime.date.today().isoformat()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(out)
    print(f"gpu_check: wrote {out}", flush=True)
    return 0 if not report["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
