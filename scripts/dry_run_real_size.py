"""Real-size dry run without downloading anything (not part of CI; needs ~9 GiB RAM, ~30 GB disk).

    python scripts/dry_run_real_size.py [--dir /tmp/sfe-dry-run] [--keep]

Writes random full-size Wan2.1-T2V-1.3B files in the exact on-disk formats: the Wan layout
(``diffusion_pytorch_model.safetensors`` in fp32 with ``config.json``, ``Wan2.1_VAE.pth``,
``models_t5_umt5-xxl-enc-bf16.pth`` in bf16 with a tokenizer in ``google/umt5-xxl/``) plus a
Self-Forcing-style checkpoint (``generator_ema`` with ``model.`` keys, bf16), and the DiT in the
diffusers layout (``transformer/``, sharded safetensors with diffusers key names). Then, each in
a fresh process: loads the Wan folder + checkpoint through ``load_model`` in bf16, encodes one
prompt with umT5-XXL, runs one real-width block at 64x64, and prints load time and peak RSS;
loads the diffusers ``transformer/`` through ``load_dit`` and checks it equals the Wan weights.
The files are deleted at the end (unless ``--keep``). umT5-XXL is never built in fp32 (22 GB):
its tensors are filled in bf16 through memory-mapped scratch files, so writing stays small too.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from sfe_live.config import DiTConfig, VAEConfig  # noqa: E402

WAN_CONFIG = {"_class_name": "WanModel", "model_type": "t2v", "dim": 1536, "ffn_dim": 8960, "freq_dim": 256,
              "in_dim": 16, "num_heads": 12, "num_layers": 30, "out_dim": 16, "text_len": 512, "text_dim": 4096,
              "eps": 1e-6}
UMT5 = dict(vocab=256384, d_model=4096, d_ff=10240, layers=24, heads=64, buckets=32)
PATTERN = None


def fill(t: torch.Tensor, scale: float) -> torch.Tensor:
    """Random-looking values cheaply: a repeated block of 4M normal values, scaled."""
    global PATTERN
    if PATTERN is None:
        PATTERN = torch.randn(1 << 22, generator=torch.Generator().manual_seed(0))
    flat = t.view(-1)
    for i in range(0, flat.numel(), PATTERN.numel()):
        n = min(PATTERN.numel(), flat.numel() - i)
        flat[i:i + n].copy_(PATTERN[:n] * scale)
    return t


def dit_state(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    from sfe_live.model.dit import CausalWanDiT
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in CausalWanDiT(DiTConfig.from_dict(WAN_CONFIG)).state_dict().items()}
    out = {}
    for k, shape in shapes.items():
        t = torch.empty(shape, dtype=dtype)
        fan = math.prod(shape[1:]) if len(shape) > 1 else 1
        out[k] = fill(t, 0.02 if len(shape) == 1 else 1 / math.sqrt(fan)) if "norm" not in k else t.fill_(1.0)
    return out


def write_umt5_pth(path: Path, scratch: Path) -> None:
    """Wan-keyed umT5-XXL encoder in bf16; every tensor lives in a memory-mapped scratch file."""
    scratch.mkdir(parents=True, exist_ok=True)
    d, ff, heads = UMT5["d_model"], UMT5["d_ff"], UMT5["heads"]
    shapes = {"token_embedding.weight": (UMT5["vocab"], d), "norm.weight": (d,)}
    for i in range(UMT5["layers"]):
        p = f"blocks.{i}."
        shapes.update({p + "norm1.weight": (d,), p + "norm2.weight": (d,),
                       p + "pos_embedding.embedding.weight": (UMT5["buckets"], heads),
                       p + "ffn.gate.0.weight": (ff, d), p + "ffn.fc1.weight": (ff, d), p + "ffn.fc2.weight": (d, ff)})
        for n in "qkvo":
            shapes[p + f"attn.{n}.weight"] = (d, d)
    sd = {}
    for i, (k, shape) in enumerate(shapes.items()):
        n = math.prod(shape)
        t = torch.from_file(str(scratch / f"{i}.bin"), shared=True, size=n, dtype=torch.bfloat16).view(shape)
        sd[k] = t.fill_(1.0) if "norm" in k else fill(t, 0.05)
    torch.save(sd, path)


def write_folders(root: Path) -> dict[str, float]:
    from safetensors.torch import save_file
    from sfe_live.model.checkpoints import wan_to_diffusers_key
    from sfe_live.model.vae import WanVAE
    from sfe_live.model.vae_loading import save_vae_pth
    t: dict[str, float] = {}
    wan = root / "Wan2.1-T2V-1.3B"
    wan.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sd = dit_state(torch.float32)
    save_file(sd, str(wan / "diffusion_pytorch_model.safetensors"))
    (wan / "config.json").write_text(json.dumps(WAN_CONFIG))
    diff = root / "Wan2.1-T2V-1.3B-Diffusers" / "transformer"
    diff.mkdir(parents=True, exist_ok=True)
    keys = sorted(sd)
    shards = [keys[: len(keys) // 2], keys[len(keys) // 2:]]
    weight_map = {}
    for i, ks in enumerate(shards):
        name = f"diffusion_pytorch_model-0000{i + 1}-of-00002.safetensors"
        save_file({wan_to_diffusers_key(k): sd[k].to(torch.bfloat16) for k in ks}, str(diff / name))
        weight_map.update({wan_to_diffusers_key(k): name for k in ks})
    (diff / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (diff / "config.json").write_text(json.dumps({"_class_name": "WanTransformer3DModel"}))
    torch.save({"generator_ema": {"model." + k: v.to(torch.bfloat16) for k, v in sd.items()}},
               root / "self_forcing_dmd.pt")
    del sd
    t["dit_and_checkpoint_write_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.device("meta"):
        vae = WanVAE(VAEConfig())
    vae = vae.to_empty(device="cpu")
    with torch.no_grad():
        for k, p in vae.state_dict().items():
            fill(p, 0.02) if p.dim() > 1 else p.fill_(1.0 if "gamma" in k or "norm" in k else 0.0)
    save_vae_pth(vae, wan / "Wan2.1_VAE.pth")
    del vae
    t["vae_write_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_umt5_pth(wan / "models_t5_umt5-xxl-enc-bf16.pth", root / "scratch")
    shutil.rmtree(root / "scratch")
    spec = importlib.util.spec_from_file_location("tiny_text", REPO / "tests" / "model" / "tiny_text.py")
    tt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tt)  # type: ignore[union-attr]
    tt.train_tokenizer().save_pretrained(wan / "google" / "umt5-xxl")
    t["umt5_write_s"] = time.perf_counter() - t0
    return t


def child_load(root: Path) -> None:
    """In a fresh process: load through load_model, encode, one block; print JSON."""
    os.environ["SFE_LIVE_CACHE"] = str(root / "cache")
    import psutil
    from sfe_live.config import StreamConfig
    from sfe_live.engine.engine import Engine
    from sfe_live.model import load_dit, load_model
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    bundle = load_model(root / "Wan2.1-T2V-1.3B", checkpoint=root / "self_forcing_dmd.pt", device="cpu",
                        dtype=torch.bfloat16)
    load_s = time.perf_counter() - t0
    rss_loaded = proc.memory_info().rss
    t0 = time.perf_counter()
    bundle.text.encode_prompt("a red ball bouncing on a black background")
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine = Engine(bundle, StreamConfig(height=64, width=64), prompt="a red ball bouncing on a black background")
    block = engine.next_block()
    block_s = time.perf_counter() - t0
    out = {"load_s": round(load_s, 1), "rss_after_load_gib": round(rss_loaded / 2 ** 30, 2),
           "rss_before_gib": round(rss0 / 2 ** 30, 2), "encode_prompt_s": round(encode_s, 1),
           "block_64x64_s": round(block_s, 1), "frames": list(block.frames.shape),
           "dit_parameters": bundle.dit.num_parameters(), "text_dim": bundle.config.text.dim}
    del engine, bundle
    t0 = time.perf_counter()
    diff = load_dit(root / "Wan2.1-T2V-1.3B-Diffusers", dtype=torch.bfloat16)
    out["diffusers_dit_load_s"] = round(time.perf_counter() - t0, 1)
    ckpt = torch.load(root / "self_forcing_dmd.pt", mmap=True, weights_only=True)["generator_ema"]
    out["diffusers_dit_equals_wan"] = all(torch.equal(v, ckpt["model." + k]) for k, v in diff.state_dict().items())
    out["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)
    print("RESULT " + json.dumps(out), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/sfe-dry-run")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(args.dir)
    if args.child:
        child_load(root)
        return 0
    free = shutil.disk_usage(root.parent).free / 1e9
    if free < 40:
        print(f"dry run: needs ~40 GB free disk at {root.parent}, has {free:.0f} GB", file=sys.stderr)
        return 2
    try:
        t0 = time.perf_counter()
        times = write_folders(root)
        times["write_total_s"] = time.perf_counter() - t0
        sizes = {str(p.relative_to(root)): round(p.stat().st_size / 1e9, 2) for p in root.rglob("*")
                 if p.is_file() and p.stat().st_size > 1e8}
        print(json.dumps({"written": sizes, **{k: round(v, 1) for k, v in times.items()}}), flush=True)
        r = subprocess.run([sys.executable, __file__, "--child", "--dir", str(root), "--threads", str(args.threads)],
                           capture_output=True, text=True)
        result = [line for line in r.stdout.splitlines() if line.startswith("RESULT ")]
        if r.returncode or not result:
            print(r.stderr[-3000:], file=sys.stderr)
            return 1
        print(result[0][7:])
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
