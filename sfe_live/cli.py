"""The ``sfe-live`` command: argument parsing and dispatch, nothing else.

Subcommands: gui (default), render, bench, doctor, run [--headless], serve. Options every command
shares (model, device, stream, decoder, runtime) are added by :func:`add_common_arguments`; the live
options the window and ``run`` share (controls, Link, outputs, v2v sources, latency) by
:func:`add_live_arguments`; each command's own options by
one ``add_<command>_arguments`` function. The stream is built once, by :func:`stream_options`, for
every command: a bad ``--kv-window`` or ``--steps`` is one line and exit status 2 everywhere.
The work lives elsewhere: :mod:`sfe_live.render`, :mod:`sfe_live.bench`, :class:`sfe_live.app.App`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any, Callable, Optional, Sequence

from sfe_live.errors import UserError

log = logging.getLogger("sfe_live")

__all__ = ["UserError", "build_parser", "main"]

GuiLauncher = Callable[[Any, Sequence[str]], int]


# -- shared options ---------------------------------------------------------------------------------
def parse_size(text: Optional[str]) -> Optional[tuple[int, int]]:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 832x480") from None
    return w, h


def parse_steps(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise UserError(f"--steps {text!r}: expected numbers like 1000,750,500,250") from None


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default="", help="tiny-random, demo, random-medium, or a model folder (default: demo)")
    g.add_argument("--checkpoint", help="a Self-Forcing .pt whose generator weights replace the DiT's")
    g.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when present)")
    g.add_argument("--threads", type=int, help="torch CPU threads")


def add_stream_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("stream")
    g.add_argument("--size", help="WIDTHxHEIGHT in pixels (default: the model's native size)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--frames-per-block", type=int, default=3)
    g.add_argument("--kv-window", type=int, default=-1, help="latent frames of self-attention memory (-1 = 21)")
    g.add_argument("--sink-frames", type=int, default=0)
    g.add_argument("--steps", default="1000,750,500,250", help="denoising steps, comma separated")


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """The options every command takes; the one place to add another."""
    from sfe_live.model.decoders.options import add_decoder_arguments
    from sfe_live.model.runtime import add_runtime_arguments
    add_model_arguments(p)
    add_stream_arguments(p)
    add_decoder_arguments(p)
    add_runtime_arguments(p)


def stream_options(args: argparse.Namespace) -> Any:
    """The stream every command runs, from the shared options; a bad value is a UserError."""
    from sfe_live.config import StreamOptions
    try:
        return StreamOptions(size=parse_size(args.size), frames_per_block=args.frames_per_block,
                             kv_window=args.kv_window, sink_frames=args.sink_frames,
                             steps=parse_steps(args.steps), seed=args.seed)
    except ValueError as exc:
        raise UserError(str(exc)) from None


LOG_DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}     # a replay log's names


def load_bundle(args: argparse.Namespace, spec: Optional[str] = None, checkpoint: Optional[str] = None,
                dtype: Optional[str] = None) -> Any:
    """The model, planned (memory) and loaded with the runtime and decoder options; ``dtype`` (a replay
    log's) overrides --dtype."""
    import dataclasses

    import torch
    from sfe_live.config import StreamConfig
    from sfe_live.model.bundle import default_model_spec
    from sfe_live.model.decoders.options import decoder_choice
    from sfe_live.model.runtime import load_for_stream, runtime_options
    if args.threads:
        torch.set_num_threads(args.threads)
    options = runtime_options(args)
    if dtype:
        options = dataclasses.replace(options, dtype=LOG_DTYPES.get(dtype, dtype))
    w, h = parse_size(args.size) or (832, 480)        # the size the memory plan checks before loading
    try:
        plan = StreamConfig(height=h, width=w, frames_per_block=args.frames_per_block, kv_window=args.kv_window,
                            sink_frames=args.sink_frames)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return load_for_stream(spec or args.model or default_model_spec(), plan, options,
                           checkpoint or args.checkpoint, args.device, decoder=decoder_choice(args))


def _v2v_amount(value: float) -> float:
    if not 0.0 < value <= 1.0:
        raise UserError(f"--v2v-amount {value}: expected a number in (0, 1]")
    return value


def _load_cues(path: Optional[str]) -> Any:
    if not path:
        return None
    from sfe_live.show.cues import load_cue_list
    try:
        return load_cue_list(path)
    except Exception as exc:
        raise UserError(str(exc).splitlines()[0]) from None


# -- render -----------------------------------------------------------------------------------------
def add_render_arguments(r: argparse.ArgumentParser) -> None:
    r.add_argument("--prompt", default="", help="default: the cue list's first, else the model's own")
    r.add_argument("--cues", help="a cue list (presets/*.toml), played as live (advance_blocks/beats)")
    r.add_argument("--bpm", type=float, default=120.0, help="tempo for cues that advance by beats")
    r.add_argument("--seconds", type=float)
    r.add_argument("--blocks", type=int)
    r.add_argument("--out", help="FILE.mp4")
    r.add_argument("--frames-dir", help="a folder for a PNG sequence")
    r.add_argument("--replay", help="re-render a command log written by --log (stream, model and length from the log)")
    r.add_argument("--log", help="write the command log (JSON lines) for --replay")
    r.add_argument("--stats", help="write render statistics (JSON)")
    r.add_argument("--v2v", help="video-to-video: a video file whose frames steer the render")
    r.add_argument("--v2v-amount", type=float, default=0.5, help="0..1: how much is re-generated (1 = all)")


def cmd_render(args: argparse.Namespace) -> int:
    from pathlib import Path
    from sfe_live.engine.replaylog import read_log
    from sfe_live.render import RenderJob, render
    opts = stream_options(args)
    cues, amount = _load_cues(args.cues), _v2v_amount(args.v2v_amount)     # checked before the slow load
    replay = None
    if args.replay:
        if args.cues or args.v2v:
            raise UserError("--replay plays the logged cues and video input: drop --cues / --v2v")
        try:
            replay = read_log(args.replay)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        h = replay.header
        bundle = load_bundle(args, spec=args.model or h.model_spec, checkpoint=args.checkpoint or h.checkpoint or None,
                             dtype=h.dtype)
        if bundle.content_hash() != h.model_hash:
            raise UserError(f"{args.replay}: recorded with model {h.model_spec} (weights {h.model_hash}); "
                            f"{bundle.spec} has weights {bundle.content_hash()}: give --model the same model")
        stream = h.stream
    else:
        bundle = load_bundle(args)
        try:
            stream = opts.resolve(bundle.config)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    job = RenderJob(stream=stream, prompt=args.prompt, seconds=args.seconds, blocks=args.blocks,
                    cues=cues, bpm=args.bpm, replay=replay, v2v=args.v2v, v2v_amount=amount, out=args.out, frames_dir=args.frames_dir, log=args.log)
    stats = render(bundle, job)
    if args.stats:
        Path(args.stats).write_text(json.dumps(stats, indent=2))
    print(json.dumps(stats))
    return 0


# -- bench ------------------------------------------------------------------------------------------
def add_bench_arguments(b: argparse.ArgumentParser) -> None:
    b.add_argument("--prompt", help="default: the model's own first prompt")
    b.add_argument("--blocks", type=int, default=50)
    b.add_argument("--json", action="store_true", help="one-line JSON")
    b.add_argument("--plot", help="PNG of block time and RSS over the run")
    b.add_argument("--no-decode", action="store_true", help="time the DiT alone")
    b.add_argument("--sinks", help="feed outputs while measuring: comma list of record, png, ndi, vcam")


def cmd_bench(args: argparse.Namespace) -> int:
    from sfe_live.bench import bench
    opts = stream_options(args)
    bundle = load_bundle(args)
    try:
        stream = opts.resolve(bundle.config)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    out = bench(bundle, stream, prompt=bundle.config.first_prompt(args.prompt), blocks=args.blocks,
                decode=not args.no_decode, sinks=args.sinks, plot=args.plot)
    print(json.dumps(out, indent=None if args.json else 2))
    return 0


# -- doctor -----------------------------------------------------------------------------------------
def add_doctor_arguments(d: argparse.ArgumentParser) -> None:
    from sfe_live.plan import add_plan_arguments
    d.add_argument("--load", action="store_true", help="also load the model folder")
    add_plan_arguments(d)


def cmd_doctor(args: argparse.Namespace) -> int:
    from sfe_live.doctor import doctor_lines
    if args.plan:
        from sfe_live.plan import plan_report
        print(plan_report(args))
        return 0
    print("\n".join(doctor_lines(args.model, (lambda: load_bundle(args)) if args.load else None)))
    return 0


# -- run (headless) and gui -----------------------------------------------------------------------
def add_live_arguments(h: argparse.ArgumentParser) -> None:
    """What the window and ``run`` share: controls, Link, outputs, v2v sources, latency, the log, remote."""
    from sfe_live.controls.options import add_control_arguments
    from sfe_live.controls.tempo import add_link_arguments
    from sfe_live.outputs.options import add_output_arguments
    from sfe_live.remote.cli import add_remote_arguments
    from sfe_live.sources.options import add_source_arguments
    h.add_argument("--prompt", help="the first prompt (default: the model's own, e.g. the demo's red ball)")
    h.add_argument("--cues")
    add_control_arguments(h)
    add_link_arguments(h)
    add_output_arguments(h)
    add_source_arguments(h)
    h.add_argument("--low-latency", action="store_true",
                   help="1 latent frame per block and a minimal playout buffer (faster response, less slack)")
    h.add_argument("--no-pace", dest="pace", action="store_false",
                   help="play every frame at the model's fps even when the engine is slower (the buffer then runs "
                        "dry and freezes); by default a slower engine's frames are spread evenly")
    h.add_argument("--log", help="write the command log (JSON lines, for render --replay) when the show stops")
    add_remote_arguments(h)


def settings_from(args: argparse.Namespace) -> Any:
    """AppSettings for run, gui and serve, from the same stream builder as render and bench (serve
    lacks some live options: those take their defaults)."""
    from sfe_live.app import AppSettings
    from sfe_live.controls.options import control_overrides
    from sfe_live.model.decoders.options import decoder_choice
    from sfe_live.model.runtime import runtime_options
    from sfe_live.outputs.options import output_options
    from sfe_live.sources.options import source_settings
    opts = stream_options(args)
    width, height = opts.size or (None, None)
    try:
        sources = source_settings(args)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return AppSettings(model=args.model, checkpoint=args.checkpoint, device=args.device, width=width, height=height,
                       prompt=args.prompt, seed=opts.seed, frames_per_block=opts.frames_per_block,
                       kv_window=opts.kv_window, sink_frames=opts.sink_frames, steps=opts.steps,
                       cues=getattr(args, "cues", None), outputs=output_options(args), **sources,
                       link=bool(getattr(args, "link", False)),
                       threads=args.threads, decoder=decoder_choice(args), controls=control_overrides(args),
                       low_latency=bool(getattr(args, "low_latency", False)), pace=bool(getattr(args, "pace", True)),
                       runtime=runtime_options(args),
                       log=getattr(args, "log", None))


def cmd_run(args: argparse.Namespace) -> int:
    if not args.headless:
        return cmd_gui(args)
    if args.remote:                                       # the engine is a `sfe-live serve` (sfe_live.remote)
        from sfe_live.remote.cli import apply_remote, run_headless
        return run_headless(apply_remote(args, settings_from(args)), args.duration)
    from sfe_live.app import App
    settings = settings_from(args)
    amount = _v2v_amount(args.v2v_amount) if args.v2v else None
    try:
        app = App(settings).load(lambda f, m: log.info("%3.0f%% %s", 100 * f, m))
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    if args.v2v:
        from sfe_live.sources import FileSource
        assert app.engine is not None
        try:
            app.set_v2v_source(FileSource(args.v2v, stepped_fps=app.engine.stream.fps), amount)
        except Exception as exc:
            raise UserError(f"--v2v {args.v2v}: {str(exc).splitlines()[0]}") from None
    from sfe_live.app import run_until_stopped
    app.start()
    if app.startup_problems():  # a part asked for by name did not start: one line, exit 2
        app.stop()
        raise UserError(app.startup_problems()[0])
    log.info("running headless; Ctrl-C stops")

    def enough_blocks() -> Optional[str]:
        done = args.blocks is not None and app.runner.blocks_done >= args.blocks
        return f"{args.blocks} blocks done" if done else None

    def status_line(st: dict[str, Any]) -> str:
        e = st["engine"]
        return f"block {e['block']}  {e['fps']:.1f} fps  {e['error'] or 'ok'}  prompt={e['prompt'][:60]!r}"

    run_until_stopped(app, args.duration, status_line, enough_blocks)
    log.info("stopped cleanly: %s", app.summary())
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    launcher: Optional[GuiLauncher] = args.gui_launcher
    if launcher is None:
        raise UserError("no GUI in this installation (PySide6 missing?); try 'sfe-live run --headless'")
    from sfe_live.remote.cli import apply_remote
    return int(launcher(apply_remote(args, settings_from(args)), sys.argv[:1]))


def build_parser(gui: Optional[GuiLauncher] = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sfe-live", description="Live, endless Self-Forcing video for performers.")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(gui_launcher=gui)
    sub = p.add_subparsers(dest="command")
    commands: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = [
        ("gui", "open the performer's window (the default)", add_live_arguments, cmd_gui),
        ("render", "render offline to MP4 / PNG frames", add_render_arguments, cmd_render),
        ("bench", "measure block time, fps, memory (prints JSON)", add_bench_arguments, cmd_bench),
        ("doctor", "what works on this machine", add_doctor_arguments, cmd_doctor),
        ("run", "run live (add --headless for no window)", add_run_arguments, cmd_run),
    ]
    for name, help_text, add_own, func in commands:
        c = sub.add_parser(name, help=help_text)
        add_common_arguments(c)
        add_own(c)
        c.set_defaults(func=func)
    from sfe_live.remote.cli import add_serve_parser
    add_serve_parser(sub, add_common_arguments, settings_from)
    return p


def add_run_arguments(h: argparse.ArgumentParser) -> None:
    add_live_arguments(h)
    h.add_argument("--headless", action="store_true")
    h.add_argument("--duration", type=float, help="stop after S seconds")
    h.add_argument("--blocks", type=int, help="stop after N blocks")
    h.add_argument("--v2v", help="video-to-video from a video file (loops; follows the video's clock)")


def main(argv: Optional[Sequence[str]] = None, gui: Optional[GuiLauncher] = None) -> int:
    """Run the CLI. ``gui(settings, argv) -> int`` opens the window (given by ``ui.entry``;
    the core never imports the GUI)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")          # nothing downloads weights at run time
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(gui)
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
