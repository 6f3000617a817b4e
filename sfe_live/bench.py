"""``sfe-live bench``: block time, fps, memory and FLOPs of the live engine, as JSON.

Drives the same :class:`Engine` the live app runs (``decode=False`` times the DiT alone) and,
with ``sinks``, feeds the same :class:`OutputManager` and sinks (recorder, PNG, NDI, virtual
camera) while measuring. Statistics: medians of the first and last decile of blocks (wall and
engine-thread CPU time, the latter immune to other processes), RSS growth after block 100,
time to first frame, FLOPs per block; ``plot`` draws block time and RSS over the run.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any, Optional

from sfe_live.config import StreamConfig
from sfe_live.engine.engine import Engine
from sfe_live.errors import UserError
from sfe_live.outputs import OutputManager
from sfe_live.outputs.recorder import Recorder
from sfe_live.progress import Progress


def bench(bundle: Any, stream: StreamConfig, *, prompt: str, blocks: int, decode: bool = True,
          sinks: Optional[str] = None, plot: Optional[str] = None) -> dict[str, Any]:
    """Generate ``blocks`` blocks and return the figures (see the module docstring)."""
    import psutil
    import torch
    try:
        engine = Engine(bundle, stream, prompt=prompt, seed=stream.seed, decode=decode)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from sfe_live.model.runtime import warm_up
    warm_up(engine)                               # a compiled DiT is timed warm (no-op otherwise)
    proc = psutil.Process()
    # compact per-block records (a dict per block would itself grow RSS over a long run)
    keys = ("block_s", "dit_s", "decode_s", "block_cpu_s")
    cols = {k: array("d") for k in keys}
    rss = array("q")
    progress = Progress(blocks)
    t_start = time.perf_counter()
    first_frame_s = None
    frames = 0
    outputs, sink_dir = _bench_sinks(sinks, engine.stream.fps) if sinks else (None, None)
    for i in range(blocks):
        b = engine.next_block()
        if outputs is not None:
            outputs.on_block(b.index, b.frames)
        if first_frame_s is None:
            first_frame_s = time.perf_counter() - t_start
        frames += b.frames.shape[0]
        for k in keys:
            cols[k].append(b.timings.get(k, 0.0))
        rss.append(proc.memory_info().rss)
        progress.update(i + 1, frames)
    progress.close()
    wall = time.perf_counter() - t_start
    sinks_status = None
    if outputs is not None:
        st = outputs.status()
        sinks_status = {x.name: {"state": x.state.value, "sent": x.sent, "dropped": x.dropped,
                                 "send_ms": round(x.send_ms, 2), "error": x.error} for x in st.sinks}
        outputs.stop()
        shutil.rmtree(sink_dir, ignore_errors=True)
    rows = [dict(zip(keys, vals)) for vals in zip(*cols.values())]
    n = len(rows)
    dec = max(1, n // 10)

    def med(key: str, part: slice) -> float:
        return statistics.median(r[key] for r in rows[part])

    s = engine.stream
    cfg = bundle.dit.cfg
    lh, lw = engine.pipeline.latent_h, engine.pipeline.latent_w
    nf, win = s.frames_per_block, s.window_frames
    cached = min(win - nf, win)  # steady state
    flops = (len(s.denoising_steps) + 1) * bundle.dit.flops_per_call(nf, lh, lw, cached)
    first_dec, last_dec = slice(1, 1 + dec) if n > dec + 1 else slice(0, dec), slice(n - dec, n)
    after = min(100, n - 1)
    out = {
        "model": bundle.name, "dit_parameters": bundle.dit.num_parameters(), "device": str(bundle.device),
        "dtype": str(bundle.dtype).replace("torch.", ""), "threads": torch.get_num_threads(),
        "width": s.width, "height": s.height, "latent": [cfg.in_dim, nf, lh, lw],
        "frames_per_block": nf, "kv_window_frames": win, "sink_frames": s.sink_frames,
        "steps": list(s.denoising_steps), "blocks": n, "decode": decode,
        "block_s_first_decile_median": round(med("block_s", first_dec), 5),
        "block_s_last_decile_median": round(med("block_s", last_dec), 5),
        "block_s_last_over_first": round(med("block_s", last_dec) / med("block_s", first_dec), 4),
        # CPU time of the engine thread: immune to other processes sharing the machine
        "block_cpu_s_first_decile_median": round(med("block_cpu_s", first_dec), 5),
        "block_cpu_s_last_decile_median": round(med("block_cpu_s", last_dec), 5),
        "block_cpu_s_last_over_first": round(med("block_cpu_s", last_dec) / med("block_cpu_s", first_dec), 4),
        "dit_s_median": round(statistics.median(r["dit_s"] for r in rows[1:] or rows), 5),
        "decode_s_median": round(statistics.median(r["decode_s"] for r in rows[1:] or rows), 5),
        "fps": round(frames / wall, 2), "frames": frames, "wall_s": round(wall, 2),
        "time_to_first_frame_s": round(first_frame_s or 0.0, 4),
        "peak_rss_mb": round(max(rss) / 2 ** 20, 1),
        "rss_growth_after_block_100_pct": round(100 * (rss[-1] - rss[after]) / rss[after], 3),
        "flops_per_block": flops, "gflops_per_block": round(flops / 1e9, 3),
    }
    if n <= 100:
        out["block_s_each"] = [round(r["block_s"], 4) for r in rows]
    if sinks_status is not None:
        out["block_s_median"] = round(statistics.median(r["block_s"] for r in rows[1:] or rows), 5)
        out["sinks"] = sinks_status
    if plot:
        _plot(plot, rows, rss)
        out["plot"] = plot
    from sfe_live.model.attention import backend_name
    from sfe_live.model.decoders.options import decoder_stats
    out["attention"] = backend_name()
    out.update(decoder_stats(bundle.vae, engine.state.vae))
    return out


def _bench_sinks(names: str, fps: int) -> tuple[Any, Any]:
    """An OutputManager with the named sinks (record, png, ndi, vcam) fed by the bench loop."""
    folder = Path(tempfile.mkdtemp(prefix="sfe-bench-sinks-"))
    om = OutputManager(fps=fps)
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        if name == "record":
            sink: Any = Recorder(folder, stem="bench")
        elif name == "png":
            sink = Recorder(folder, stem="bench-png", fmt="png", name="png")
        elif name == "ndi":
            from sfe_live.outputs.ndi import NDISink
            sink = NDISink("sfe-live-bench")
        elif name == "vcam":
            from sfe_live.outputs.virtualcam import VirtualCamSink
            sink = VirtualCamSink()
        else:
            raise UserError(f"--sinks: unknown sink {name!r} (record, png, ndi, vcam)")
        om.add_sink(sink, name=name, enabled=True)
    return om.start(), folder


def _plot(path: str, rows: list[dict[str, float]], rss: Any) -> None:
    """Block time (wall and engine-thread CPU, rolling median of 50) and RSS over the run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    def rolling_median(values: list[float], k: int = 50) -> np.ndarray:
        a = np.asarray(values, dtype=float)
        if len(a) <= k:
            return a
        win = np.lib.stride_tricks.sliding_window_view(a, k)
        return np.concatenate([np.full(k - 1, np.nan), np.median(win, axis=1)])

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(rolling_median([1000 * r["block_s"] for r in rows]), lw=0.8, label="block wall ms (median of 50)")
    ax.plot(rolling_median([1000 * r.get("block_cpu_s", 0.0) for r in rows]), lw=0.8,
            label="block CPU ms (engine thread)")
    ax.set_xlabel("block")
    ax.set_ylabel("ms per block")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.plot([x / 2 ** 20 for x in rss], color="tab:red", lw=0.8, label="RSS MB")
    ax2.set_ylabel("RSS (MB)")
    lo, hi = min(rss) / 2 ** 20, max(rss) / 2 ** 20
    ax2.set_ylim(lo * 0.9, hi * 1.1)
    fig.legend(loc="upper center", ncol=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
