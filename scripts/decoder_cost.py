"""Decoder cost, side by side: Wan VAE vs TAEHV (and the demo's pixel codec), real-size random weights.

Per 12-frame block (3 latent frames, steady state: the stream already holds earlier frames):
decode time (interleaved rounds), FLOPs and stream-state bytes. FLOPs and state bytes at the
target size are exact, from a pass on the meta device (no memory). Both decoders are timed,
interleaved, on a horizontal strip (``--strip-height``, default 64 rows: every layer is a conv or
per-frame attention, so cost scales with the FLOPs) and the full-frame time is the strip's CPU
time times the FLOP ratio: at 832x480 the Wan VAE's fp32 stream state alone is ~3.5 GiB and one
block ~40 TFLOP, too much beside other work on a shared 2-core box. ``--strip-height 0`` times
the full frame. CPU time (``process_time``, 1 thread) is reported beside wall time.

Also: exact streaming (one decode per output frame, memory kept) vs the Self-Forcing demo's
overlap re-decode (each block re-decodes the previous block's last 3 latents from a fresh state
and throws 12 frames away: two frames decoded per output frame), time and the pixel difference.

    python scripts/decoder_cost.py --threads 1 --rounds 3 --strip-height 64 --full-taehv
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from sfe_live.config import VAEConfig
from sfe_live.model.codec import PixelCodec, PixelCodecConfig
from sfe_live.model.decoders.taehv import TAEHV, TAEHVConfig, random_taehv
from sfe_live.model.vae import WanVAE, random_vae

NF = 3  # latent frames per block


def meta_cost(kind: str, height: int, width: int) -> tuple[int, int]:
    """(FLOPs of one steady-state 3-latent block, stream-state bytes in fp32) on the meta device."""
    h, w = height // 8, width // 8
    with torch.device("meta"):
        if kind == "wan":
            wan = WanVAE(VAEConfig())
            z = torch.zeros(1, 16, NF, h, w)
            st = wan.new_decode_state()
            wan.decode_stream(z[:, :, :1], st)           # the stream's first frame
            with FlopCounterMode(display=False) as fc:
                wan.decode_stream(z, st)
        else:
            tae = TAEHV(TAEHVConfig())
            z = torch.zeros(1, NF, 16, h, w)
            st2 = tae.new_decode_state()
            tae.decode_stream(z[:, :1], st2)
            with FlopCounterMode(display=False) as fc:
                tae.decode_stream(z, st2)
            return fc.get_total_flops(), st2.nbytes()
    return fc.get_total_flops(), st.nbytes()


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall s, process CPU s) of one call; with 1 torch thread the CPU time is the compute time,
    which other processes sharing the machine barely change (the wall time they stretch)."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def _med(xs: list[tuple[float, float]]) -> dict[str, float]:
    return {"wall_s": round(statistics.median(x[0] for x in xs), 3),
            "cpu_s": round(statistics.median(x[1] for x in xs), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--strip-height", type=int, default=64,
                    help="time both decoders on a WIDTH x this strip, interleaved (0 = the full frame)")
    ap.add_argument("--full-taehv", action="store_true", help="also time TAEHV once on the full frame")
    ap.add_argument("--skip-wan", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    W, H = args.width, args.height
    sh = args.strip_height or H
    out: dict[str, object] = {"threads": args.threads, "rounds": args.rounds, "size": f"{W}x{H}",
                              "timed_size": f"{W}x{sh}", "loadavg_start": open("/proc/loadavg").read().split()[:3]}

    # exact FLOPs and state bytes (meta device) at the target size and at the timed strip
    wan_flops, wan_state = meta_cost("wan", H, W)
    tae_flops, tae_state = meta_cost("taehv", H, W)
    wan_strip, tae_strip = meta_cost("wan", sh, W)[0], meta_cost("taehv", sh, W)[0]
    out.update(wan_tflop_per_block=round(wan_flops / 1e12, 3), taehv_tflop_per_block=round(tae_flops / 1e12, 4),
               flop_ratio=round(wan_flops / tae_flops, 1),
               wan_state_bytes=wan_state, taehv_state_bytes=tae_state,
               wan_state_gib_fp32=round(wan_state / 2 ** 30, 3), wan_state_gib_bf16=round(wan_state / 2 ** 31, 3),
               taehv_state_mib_fp32=round(tae_state / 2 ** 20, 1), state_ratio=round(wan_state / tae_state, 1))

    gen = torch.Generator().manual_seed(0)
    tae = random_taehv(TAEHVConfig(), seed=0)
    wan = None if args.skip_wan else random_vae(VAEConfig(), seed=1)
    z = torch.randn(1, 4 * NF, 16, sh // 8, W // 8, generator=gen)          # 4 blocks of latents [B, F, C, h, w]

    # warm streams: one block decoded, so every timed block is a steady-state one
    st_t = tae.new_decode_state()
    tae.decode_stream(z[:, :NF], st_t)
    if wan is not None:
        st_w = wan.new_decode_state()
        wan.decode_stream(z[:, :NF].transpose(1, 2), st_w)

    t_tae: list[tuple[float, float]] = []
    t_wan: list[tuple[float, float]] = []
    t_ovl: list[tuple[float, float]] = []
    for r in range(args.rounds):                         # interleaved: the same load hits all three
        prev, blk = z[:, NF * (r % 3): NF * (1 + r % 3)], z[:, NF * (1 + r % 3): NF * (2 + r % 3)]
        st = st_t.clone()
        t_tae.append(timed(lambda: tae.decode_stream(blk, st)))
        if wan is not None:
            sw = st_w.clone()
            t_wan.append(timed(lambda: wan.decode_stream(blk.transpose(1, 2), sw)))
        # the demo's overlap re-decode: previous 3 + new 3 latents from a fresh state, keep the last 12
        t_ovl.append(timed(lambda: tae.decode(torch.cat([prev, blk], 1), frames_per_call=1)[:, -4 * NF:]))
    tm, om = _med(t_tae), _med(t_ovl)
    out["taehv_block"] = {**tm, "gflop_per_cpu_s": round(tae_strip / 1e9 / tm["cpu_s"], 1)}
    out["overlap_redecode_block"] = om
    out["overlap_over_exact_cpu"] = round(om["cpu_s"] / tm["cpu_s"], 2)
    out["frames_decoded_per_output_frame"] = {"exact_stream": 1, "overlap_redecode": 2}
    if wan is not None:
        wm = _med(t_wan)
        out["wan_block"] = {**wm, "gflop_per_cpu_s": round(wan_strip / 1e9 / wm["cpu_s"], 1)}
        out["time_ratio_cpu"] = round(wm["cpu_s"] / tm["cpu_s"], 1)
        scale = wan_flops / wan_strip
        out["wan_block_cpu_s_at_size_by_flops"] = round(wm["cpu_s"] * scale, 1)
        out["taehv_block_cpu_s_at_size_by_flops"] = round(tm["cpu_s"] * tae_flops / tae_strip, 2)
    if args.full_taehv and sh != H:
        zf = torch.randn(1, 2 * NF, 16, H // 8, W // 8, generator=gen)
        sf = tae.new_decode_state()
        tae.decode_stream(zf[:, :NF], sf)
        out["taehv_block_full_frame"] = _med([timed(lambda: tae.decode_stream(zf[:, NF:], sf))])

    # what overlap re-decode loses: memory older than 3 latents (exact stream vs overlap, one block)
    full = tae.decode(z[:, :3 * NF], frames_per_call=1)                 # exact: 1 + 4 * 8 = 33 frames
    ovl = tae.decode(z[:, NF:3 * NF], frames_per_call=1)[:, -4 * NF:]
    diff = (full[:, -4 * NF:] - ovl).abs() * 255
    out["overlap_vs_exact_0_255"] = {"max": round(float(diff.max()), 2), "mean": round(float(diff.mean()), 3)}

    # the demo's 64x64: Wan VAE and TAEHV where Wan latents apply, and the demo's own pixel codec
    small: dict[str, object] = {}
    z64 = torch.randn(1, 2 * NF, 16, 8, 8, generator=gen)
    s = tae.new_decode_state()
    tae.decode_stream(z64[:, :NF], s)
    small["taehv_block"] = _med([timed(lambda: tae.decode_stream(z64[:, NF:], s.clone())) for _ in range(5)])
    small["taehv_state_bytes"] = s.nbytes()
    if wan is not None:
        sw64 = wan.new_decode_state()
        wan.decode_stream(z64[:, :NF].transpose(1, 2), sw64)
        small["wan_block"] = _med([timed(lambda: wan.decode_stream(z64[:, NF:].transpose(1, 2), sw64.clone()))
                                   for _ in range(3)])
        small["wan_state_bytes"] = sw64.nbytes()
    codec = PixelCodec(PixelCodecConfig())
    zc = torch.randn(1, 4 * NF, 48, 16, 16, generator=gen)              # 12 frames: temporal factor 1
    sc = codec.new_decode_state()
    small["pixel_codec_block_12_frames"] = _med([timed(lambda: codec.decode_to_frames(zc, sc)) for _ in range(5)])
    small["pixel_codec_state_bytes"] = sc.nbytes()
    out["demo_64x64"] = small
    out["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
