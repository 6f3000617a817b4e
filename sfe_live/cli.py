"""The ``sfe-live`` command: gui (default), render, bench, doctor, run --headless.

Every subcommand turns user mistakes into one line on stderr and exit status 2; nothing
prints a raw traceback for a wrong folder, a bad size or an unreadable file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from sfe_live.controls.options import add_control_arguments, control_overrides

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from sfe_live.controls.tempo import add_link_arguments  # noqa: E402
from sfe_live.outputs.options import add_output_arguments, output_options  # noqa: E402
from sfe_live.sources.options import add_source_arguments, source_settings  # noqa: E402

log = logging.getLogger("sfe_live")


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""


def parse_size(text: Optional[str]) -> Optional[tuple[int, int]]:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 832x480") from None
    return w, h


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="", help="tiny-random, demo, random-medium, or a model folder (default: demo)")
    p.add_argument("--checkpoint", help="a Self-Forcing .pt whose generator weights replace the DiT's")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when present)")
    p.add_argument("--size", help="WIDTHxHEIGHT in pixels (default: the model's native size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames-per-block", type=int, default=3)
    p.add_argument("--kv-window", type=int, default=-1, help="latent frames of self-attention memory (-1 = 21)")
    p.add_argument("--sink-frames", type=int, default=0)
    p.add_argument("--steps", default="1000,750,500,250", help="denoising steps, comma separated")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    from sfe_live.model.decoders.options import add_decoder_arguments
    add_decoder_arguments(p)
    from sfe_live.model.runtime import add_runtime_arguments
    add_runtime_arguments(p)


def _stream_from(args: argparse.Namespace, bundle: Any) -> Any:
    from sfe_live.config import StreamConfig
    size = parse_size(args.size)
    width, height = size if size else (bundle.config.default_width, bundle.config.default_height)
    try:
        steps = tuple(int(s) for s in args.steps.split(","))
    except ValueError:
        raise UserError(f"--steps {args.steps!r}: expected numbers like 1000,750,500,250") from None
    try:
        return StreamConfig(height=height, width=width, frames_per_block=args.frames_per_block,
                            kv_window=args.kv_window, sink_frames=args.sink_frames, denoising_steps=steps,
                            seed=args.seed)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _load(args: argparse.Namespace) -> Any:
    import torch
    from sfe_live.model.bundle import default_model_spec
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = args.model or default_model_spec()
    from sfe_live.model.runtime import load_for_stream, runtime_options
    from sfe_live.model.decoders.options import decoder_choice
    return load_for_stream(spec, _plan_stream(args), runtime_options(args), args.checkpoint, args.device,
                           decoder=decoder_choice(args))


def _plan_stream(args: argparse.Namespace) -> Any:
    """The stream the memory plan checks before loading (size: --size, else 832x480)."""
    from sfe_live.config import StreamConfig
    w, h = parse_size(args.size) or (832, 480)
    try:
        return StreamConfig(height=h, width=w, frames_per_block=args.frames_per_block, kv_window=args.kv_window,
                            sink_frames=args.sink_frames)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _engine(args: argparse.Namespace, bundle: Any, prompt: str, seed: int) -> Any:
    from sfe_live.engine.engine import Engine
    stream = _stream_from(args, bundle)
    try:
        engine = Engine(bundle, stream, prompt=prompt, seed=seed)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from sfe_live.model.runtime import warm_up
    warm_up(engine)
    return engine


class Progress:
    """Blocks, fps and ETA on a terminal (one rewritten line); silent when not a TTY."""

    def __init__(self, total: int, stream: Any = sys.stderr) -> None:
        self.total, self.stream, self.t0 = total, stream, time.perf_counter()
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def update(self, done: int, frames: int) -> None:
        if not self.tty:
            return
        dt = time.perf_counter() - self.t0
        fps = frames / dt if dt > 0 else 0.0
        eta = (self.total - done) * dt / done if done else 0.0
        self.stream.write(f"\r  block {done}/{self.total}  {fps:6.1f} fps  ETA {eta:6.1f} s ")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


# -- render -----------------------------------------------------------------------------------------
def cue_timeline(cue_list: Any, blocks: int) -> dict[int, list[Any]]:
    """Cue GOs at block edges: each cue holds for its advance_blocks, else an equal share."""
    n = len(cue_list.cues)
    share = max(1, blocks // max(1, n))
    timeline: dict[int, list[Any]] = {}
    at = 0
    for i, cue in enumerate(cue_list.cues):
        if at >= blocks:
            break
        timeline.setdefault(at, []).append(cue.command())
        at += cue.advance_blocks or share
    return timeline


def cmd_render(args: argparse.Namespace) -> int:
    from sfe_live.engine.engine import read_log
    timeline: dict[int, list[Any]] = {}
    prompt, seed = args.prompt or "", args.seed
    if args.replay:
        try:
            header, timeline = read_log(args.replay)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        prompt, seed = header.get("prompt", prompt), int(header.get("seed", seed))
        if not args.size and header.get("width"):
            args.size = f"{header['width']}x{header['height']}"
    bundle = _load(args)
    cues = None
    if args.cues:
        from sfe_live.show.cues import load_cue_list
        try:
            cues = load_cue_list(args.cues)
        except Exception as exc:
            raise UserError(str(exc).splitlines()[0]) from None
        prompt = cues.cues[0].prompt if cues.cues else prompt
    engine = _engine(args, bundle, prompt, seed)
    if args.v2v:
        engine.source = SequentialFrames(args.v2v, engine.stream.width, engine.stream.height)
        engine.apply(_v2v_command(args.v2v_strength))
    fps = engine.stream.fps
    tf = bundle.config.vae.temporal_factor
    per_block = engine.stream.frames_per_block * tf
    first = bundle.config.vae.pixel_frames(engine.stream.frames_per_block, True)
    if args.seconds is not None:
        want_frames = int(round(args.seconds * fps))
        blocks = 1 + max(0, -(-(want_frames - first) // per_block))
    else:
        blocks = args.blocks or 10
        want_frames = None
    if cues is not None:
        timeline = cue_timeline(cues, blocks)
        timeline.pop(0, None)
    writer = None
    if args.out:
        writer = _Mp4Writer(Path(args.out), fps)
    frames_dir = Path(args.frames_dir) if args.frames_dir else None
    if frames_dir:
        frames_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    times = []
    progress = Progress(blocks)
    t0 = time.perf_counter()
    for block in engine.run(blocks, timeline):
        frames = block.frames
        if want_frames is not None:
            frames = frames[: max(0, want_frames - written)]
        if writer:
            writer.write(frames)
        if frames_dir:
            _write_pngs(frames_dir, frames, written)
        written += len(frames)
        times.append(block.timings)
        progress.update(block.index + 1, written)
    progress.close()
    if writer:
        writer.close()
    wall = time.perf_counter() - t0
    if args.log:
        engine.write_log(args.log)
    stats = {"model": bundle.name, "blocks": blocks, "frames": written, "fps_video": fps,
             "width": engine.stream.width, "height": engine.stream.height, "seed": seed,
             "wall_s": round(wall, 3), "generated_fps": round(written / wall, 2) if wall else None,
             "block_s_median": round(statistics.median(t["block_s"] for t in times), 4),
             "commands": len(engine.log), "out": args.out}
    if args.stats:
        Path(args.stats).write_text(json.dumps(stats, indent=2))
    print(json.dumps(stats))
    return 0


def _v2v_command(strength: float) -> Any:
    from sfe_live.engine.commands import SetV2V
    if not 0.0 < strength <= 1.0:
        raise UserError(f"--v2v-strength {strength}: expected a number in (0, 1]")
    return SetV2V(strength)


class SequentialFrames:
    """Offline video-to-video input: a video file's frames in order (looping), fitted to the
    stream size; ``source(n)`` returns the next n frames, so a render is reproducible."""

    def __init__(self, path: str, width: int, height: int) -> None:
        import av
        from sfe_live.sources.base import fit_frame
        self.path, self.size, self._fit = Path(path), (width, height), fit_frame
        if not self.path.is_file():
            raise UserError(f"--v2v {path}: file not found")
        try:
            with av.open(str(self.path)) as c:
                if not c.streams.video:
                    raise UserError(f"--v2v {path}: no video stream in this file")
        except av.error.FFmpegError as exc:
            raise UserError(f"--v2v {path}: unreadable video ({exc})") from None
        self._iter = self._frames()

    def _frames(self) -> Any:
        import av
        while True:
            n = 0
            with av.open(str(self.path)) as c:
                for frame in c.decode(video=0):
                    n += 1
                    yield self._fit(frame, *self.size)
            if n == 0:
                return

    def __call__(self, n: int) -> Any:
        import numpy as np
        out = [f for _, f in zip(range(n), self._iter)]
        return np.stack(out) if len(out) == n else None


class _Mp4Writer:
    """Synchronous H.264 MP4 writer for offline renders (PyAV)."""

    def __init__(self, path: Path, fps: int) -> None:
        import av
        from fractions import Fraction
        if path.suffix.lower() != ".mp4":
            raise UserError(f"--out {path}: expected a .mp4 file name")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.tmp = path, path.with_name(path.name + ".part")
        self.container = av.open(str(self.tmp), "w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=Fraction(fps))
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "18", "preset": "veryfast"}
        self.opened = False

    def write(self, frames: Any) -> None:
        import av
        for f in frames:
            if not self.opened:
                self.stream.width, self.stream.height = f.shape[1] - f.shape[1] % 2, f.shape[0] - f.shape[0] % 2
                self.opened = True
            f = f[: self.stream.height, : self.stream.width]
            for pkt in self.stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                self.container.mux(pkt)

    def close(self) -> None:
        for pkt in self.stream.encode():
            self.container.mux(pkt)
        self.container.close()
        self.tmp.replace(self.path)


def _write_pngs(folder: Path, frames: Any, start: int) -> None:
    """PNG files frame-NNNNNN.png (PyAV's encoder; each written atomically)."""
    import av
    for i, frame in enumerate(frames):
        cc = av.CodecContext.create("png", "w")
        cc.width, cc.height, cc.pix_fmt = frame.shape[1], frame.shape[0], "rgb24"
        data = b"".join(bytes(p) for p in cc.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        path = folder / f"frame-{start + i:06d}.png"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)


# -- bench ------------------------------------------------------------------------------------------
def cmd_bench(args: argparse.Namespace) -> int:
    import psutil
    import torch
    bundle = _load(args)
    engine = _engine(args, bundle, args.prompt, args.seed)
    proc = psutil.Process()
    blocks = args.blocks
    from array import array
    # compact per-block records (a dict per block would itself grow RSS over a long run)
    keys = ("block_s", "dit_s", "decode_s", "block_cpu_s")
    cols = {k: array("d") for k in keys}
    rss = array("q")
    progress = Progress(blocks)
    t_start = time.perf_counter()
    first_frame_s = None
    frames = 0
    decode = not args.no_decode
    if not decode:
        engine.pipeline.vae = _NoDecode(bundle.vae)
    outputs, sink_dir = _bench_sinks(args.sinks, engine.stream.fps) if args.sinks else (None, None)
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
        import shutil
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
        "attention": __import__("sfe_live.model.attention", fromlist=["backend_name"]).backend_name(),
    }
    from sfe_live.model.decoders.options import decoder_stats
    out.update(decoder_stats(bundle.vae, engine.state.vae))
    if n <= 100:
        out["block_s_each"] = [round(r["block_s"], 4) for r in rows]
    if sinks_status is not None:
        out["block_s_median"] = round(statistics.median(r["block_s"] for r in rows[1:] or rows), 5)
        out["sinks"] = sinks_status
    if args.plot:
        _plot(args.plot, rows, rss)
        out["plot"] = args.plot
    print(json.dumps(out, indent=None if args.json else 2))
    return 0


def _bench_sinks(names: str, fps: int) -> tuple[Any, Any]:
    """An OutputManager with the named sinks (record, png, ndi, vcam) fed by the bench loop."""
    import tempfile
    from sfe_live.outputs import OutputManager
    from sfe_live.outputs.recorder import Recorder
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


class _NoDecode:
    """Stands in for the VAE when --no-decode measures the DiT alone (frames are black)."""

    def __init__(self, vae: Any) -> None:
        self.vae = vae

    def __getattr__(self, name: str) -> Any:
        return getattr(self.vae, name)

    def decode_to_frames(self, latents: Any, state: Any) -> Any:
        import torch
        f = self.vae.config.spatial_factor
        b, t, _, h, w = latents.shape
        return torch.zeros(b, t * self.vae.config.temporal_factor, h * f, w * f, 3, dtype=torch.uint8), state


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


# -- doctor -----------------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    if args.plan:
        from sfe_live.plan import plan_report
        print(plan_report(args))
        return 0
    import platform
    import torch
    lines = [f"sfe-live {__import__('sfe_live').__version__} on Python {platform.python_version()} "
             f"({platform.system()} {platform.machine()})",
             f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            lines.append(f"GPU {i}: {p.name}, {p.total_memory / 2 ** 30:.1f} GiB VRAM")
    else:
        lines.append("GPU: none, CPU only: the real model needs an NVIDIA GPU (the demo and tiny-random models run here)")
    if args.model and args.model not in ("demo", "tiny-random", "random-medium"):
        from sfe_live.model.bundle import check_model_folder
        lines += check_model_folder(args.model)
        if args.load:
            try:
                _load(args)
                lines.append("model: loads OK")
            except Exception as exc:
                lines.append(f"model: does not load: {str(exc).splitlines()[0]}")
    else:
        from sfe_live.model.bundle import default_model_spec
        lines.append(f"model: built-in default is '{default_model_spec()}'")
    for mod in ("sfe_live.model.runtime", "sfe_live.outputs", "sfe_live.sources", "sfe_live.controls"):
        try:
            lines += __import__(mod, fromlist=["doctor_lines"]).doctor_lines()
        except Exception as exc:  # a doctor never crashes on one part
            lines.append(f"{mod.split('.')[-1]}: check failed ({exc})")
    print("\n".join(lines))
    return 0


# -- run (headless) and gui -----------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> Any:
    from sfe_live.app import AppSettings
    from sfe_live.model.decoders.options import decoder_choice
    from sfe_live.model.runtime import runtime_options
    size = parse_size(args.size)
    return AppSettings(model=args.model, checkpoint=args.checkpoint, device=args.device,
                       width=size[0] if size else None, height=size[1] if size else None,
                       prompt=args.prompt, seed=args.seed, frames_per_block=args.frames_per_block,
                       kv_window=args.kv_window, sink_frames=args.sink_frames,
                       steps=tuple(int(s) for s in args.steps.split(",")),
                       cues=getattr(args, "cues", None), outputs=output_options(args), **_sources(args),
                       link=bool(getattr(args, "link", False)), threads=args.threads, decoder=decoder_choice(args),
                       controls=control_overrides(args), low_latency=bool(getattr(args, "low_latency", False)),
                       runtime=runtime_options(args))


def _sources(args: argparse.Namespace) -> dict[str, Any]:
    try:
        return source_settings(args)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def cmd_run(args: argparse.Namespace) -> int:
    if not args.headless:
        return cmd_gui(args)
    if getattr(args, "remote", None):  # remote engine (sfe_live.remote)
        from sfe_live.remote.cli import apply_remote, run_headless
        return run_headless(apply_remote(args, _settings(args)), args.duration)
    from sfe_live.app import App
    app = App(_settings(args)).load(lambda f, m: log.info("%3.0f%% %s", 100 * f, m))
    if args.v2v:
        from sfe_live.sources import FileSource
        try:
            app.set_v2v_source(FileSource(args.v2v), _v2v_command(args.v2v_strength).strength)
        except Exception as exc:
            raise UserError(f"--v2v {args.v2v}: {str(exc).splitlines()[0]}") from None
    stop = {"flag": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["flag"] = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    app.start()
    if app.startup_problems():  # a part asked for by name did not start: one line, exit 2
        app.stop()
        raise UserError(app.startup_problems()[0])
    log.info("running headless; Ctrl-C stops")
    t_end = time.monotonic() + args.duration if args.duration else None
    last = 0.0
    try:
        while not stop["flag"] and (t_end is None or time.monotonic() < t_end):
            time.sleep(0.1)
            if time.monotonic() - last > 5:
                last = time.monotonic()
                st = app.status()["engine"]
                log.info("block %d  %.1f fps  %s  prompt=%r", st["block"], st["fps"],
                         st["error"] or "ok", st["prompt"][:60])
    finally:
        app.stop()
        log.info("stopped cleanly: %s", app.summary())
    return 0


_GUI: dict[str, Any] = {}


def cmd_gui(args: argparse.Namespace) -> int:
    launcher = _GUI.get("run")
    if launcher is None:
        raise UserError("no GUI in this installation (PySide6 missing?); try 'sfe-live run --headless'")
    from sfe_live.remote.cli import apply_remote
    return int(launcher(apply_remote(args, _settings(args)), sys.argv[:1]))


def _live_args(p: argparse.ArgumentParser) -> None:
    """What the window and ``run`` share: live controls, Link, outputs, v2v sources, latency mode."""
    add_control_arguments(p)
    add_link_arguments(p)
    add_output_arguments(p)
    add_source_arguments(p)
    p.add_argument("--low-latency", action="store_true",
                   help="1 latent frame per block and a minimal playout buffer (faster response, less slack)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sfe-live", description="Live, endless Self-Forcing video for performers.")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command")

    g = sub.add_parser("gui", help="open the performer's window (the default)")
    _model_args(g)
    g.add_argument("--prompt", default="a red ball bouncing on a black background")
    g.add_argument("--cues")
    _live_args(g)
    g.set_defaults(func=cmd_gui)
    from sfe_live.remote.cli import add_remote_arguments, add_serve_parser
    add_remote_arguments(g)

    r = sub.add_parser("render", help="render offline to MP4 / PNG frames")
    _model_args(r)
    r.add_argument("--prompt")
    r.add_argument("--cues", help="a cue list (presets/*.toml)")
    r.add_argument("--seconds", type=float)
    r.add_argument("--blocks", type=int)
    r.add_argument("--out", help="FILE.mp4")
    r.add_argument("--frames-dir")
    r.add_argument("--replay", help="re-render a command log written by --log")
    r.add_argument("--log", help="write the command timeline (JSON lines)")
    r.add_argument("--stats", help="write render statistics (JSON)")
    r.add_argument("--v2v", help="video-to-video: a video file whose frames steer the render")
    r.add_argument("--v2v-strength", type=float, default=0.5, help="0..1: how much is re-generated (1 = all)")
    r.set_defaults(func=cmd_render)

    b = sub.add_parser("bench", help="measure block time, fps, memory (prints JSON)")
    _model_args(b)
    b.add_argument("--prompt", default="a red ball bouncing")
    b.add_argument("--blocks", type=int, default=50)
    b.add_argument("--json", action="store_true", help="one-line JSON")
    b.add_argument("--plot", help="PNG of block time and RSS over the run")
    b.add_argument("--no-decode", action="store_true", help="time the DiT alone")
    b.add_argument("--sinks", help="feed outputs while measuring: comma list of record, png, ndi, vcam")
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("doctor", help="what works on this machine")
    _model_args(d)
    d.add_argument("--load", action="store_true", help="also load the model folder")
    from sfe_live.plan import add_plan_arguments
    add_plan_arguments(d)
    d.set_defaults(func=cmd_doctor)

    h = sub.add_parser("run", help="run live (add --headless for no window)")
    _model_args(h)
    h.add_argument("--headless", action="store_true")
    h.add_argument("--prompt", default="a red ball bouncing on a black background")
    h.add_argument("--cues")
    _live_args(h)
    h.add_argument("--duration", type=float, help="stop after S seconds")
    h.add_argument("--v2v", help="video-to-video from a video file (loops)")
    h.add_argument("--v2v-strength", type=float, default=0.5)
    h.set_defaults(func=cmd_run)
    add_remote_arguments(h)
    add_serve_parser(sub, _model_args, _settings)
    return p


def main(argv: Optional[Sequence[str]] = None, gui: Optional[Any] = None) -> int:
    """Run the CLI. ``gui(settings, argv) -> int`` opens the window (given by ``ui.entry``;
    the core never imports the GUI)."""
    if gui is not None:
        _GUI["run"] = gui
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "-v", "--verbose"):
        argv = ["gui", *argv]
    elif argv and argv[0] in ("-v", "--verbose") and (len(argv) == 1 or argv[1].startswith("-")):
        argv = [argv[0], "gui", *argv[1:]]
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*argv, "gui"])
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    from sfe_live.model.files import ModelLoadError
    try:
        return int(args.func(args) or 0)
    except (UserError, ModelLoadError) as exc:
        print(f"sfe-live: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
