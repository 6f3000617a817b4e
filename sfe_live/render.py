"""Offline render: the live app's engine, cue player and recorder, driven by video time.

``render(bundle, job)`` builds one :class:`Engine` and generates blocks as fast as it can. Cue
lists play through the same :class:`CuePlayer` the live show uses, driven by blocks
(:meth:`CuePlayer.block_edge` before every block) with a clock that reads the *video* time (frames
so far / fps) and a :class:`TempoClock` on that clock. Live, the runner drives the player the same
way on the time each block reaches the screen, so ``advance_blocks``, ``advance_beats`` and
quantised GOs switch on the same block as on stage. Frames go to
the same :class:`Recorder` sink the app records with (MP4 or a PNG sequence); video-to-video
input is a :class:`FileSource` stepped at the stream's rate. A replay (``job.replay``) rebuilds
the logged stream and re-applies the logged timeline, length included.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from sfe_live.config import StreamConfig
from sfe_live.controls.tempo import TempoClock
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.replaylog import ReplayLog, SourceSpec
from sfe_live.errors import UserError
from sfe_live.outputs.recorder import Recorder
from sfe_live.progress import Progress
from sfe_live.show.cues import BlockEdgeTimer, CueList, CuePlayer
from sfe_live.sources.file import FileSource

log = logging.getLogger(__name__)

DEFAULT_BLOCKS = 10


@dataclass(frozen=True)
class RenderJob:
    """What to render. Length: ``seconds`` (exact frame count), else ``blocks``, else the replayed
    log's own length, else ``DEFAULT_BLOCKS``."""

    stream: StreamConfig
    prompt: str = ""
    seconds: Optional[float] = None
    blocks: Optional[int] = None
    cues: Optional[CueList] = None
    bpm: float = 120.0
    replay: Optional[ReplayLog] = None
    v2v: Optional[str] = None
    v2v_amount: float = 0.5
    out: Optional[str] = None           # FILE.mp4
    frames_dir: Optional[str] = None    # a folder for a PNG sequence
    log: Optional[str] = None           # write the command log here


def file_source(path: str, stream: StreamConfig) -> FileSource:
    """A video file stepped at the stream's rate (the same frames on every run), opened."""
    src = FileSource(path, stepped_fps=stream.fps)
    avail = src.is_available()
    if not avail:
        raise UserError(f"--v2v {path}: {avail.reason}")
    try:
        src.open(stream.width, stream.height)
    except Exception as exc:
        raise UserError(f"--v2v {path}: {str(exc).splitlines()[0]}") from None
    return src


def apply_source(engine: Engine, spec: SourceSpec, where: str) -> None:
    """Attach the source a log names (a file is rebuilt; a live input cannot be)."""
    if spec.kind == "none":
        engine.set_source(None, spec)
    elif spec.kind == "file":
        engine.set_source(file_source(spec.path, engine.stream).latest, spec)
    else:
        raise UserError(f"{where}: the performance used a live video input ({spec.name or 'camera'}); "
                        "a replay cannot reproduce it")


def _recorders(job: RenderJob) -> list[Recorder]:
    recs = []
    if job.out:
        out = Path(job.out)
        if out.suffix.lower() != ".mp4":
            raise UserError(f"--out {out}: expected a .mp4 file name")
        recs.append(Recorder(out.parent, stem=out.stem, preset="veryfast"))
    if job.frames_dir:
        folder = Path(job.frames_dir)
        recs.append(Recorder(folder.parent, stem=folder.name, fmt="png", name="png"))
    return recs


def plan_blocks(job: RenderJob, bundle: Any) -> tuple[int, Optional[int]]:
    """(blocks to generate, frames to keep or None for all)."""
    s = job.stream
    vae = bundle.config.vae
    if job.seconds is not None:
        want = int(round(job.seconds * s.fps))
        first = vae.pixel_frames(s.frames_per_block, True)
        per = vae.pixel_frames(s.frames_per_block, False)
        return 1 + max(0, -(-(want - first) // per)), want
    if job.blocks is not None:
        return job.blocks, None
    if job.replay is not None and job.replay.header.blocks is not None:
        return job.replay.header.blocks, job.replay.header.frames
    return DEFAULT_BLOCKS, None


def render(bundle: Any, job: RenderJob, engine: Optional[Engine] = None) -> dict[str, Any]:
    """Render ``job``; returns statistics (frames, wall time, the files written)."""
    prompt = bundle.config.first_prompt(job.prompt)
    if job.cues is not None and job.cues.cues:
        prompt = job.cues.cues[0].prompt
    if job.replay is not None:
        prompt = job.replay.header.prompt
    if engine is None:
        try:
            engine = Engine(bundle, job.stream, prompt=prompt, seed=job.stream.seed)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    fps = job.stream.fps
    blocks, want = plan_blocks(job, bundle)
    if blocks < 1:
        raise UserError("nothing to render: ask for at least one block")

    frames_done = 0
    pending: list[C.Command] = []

    def video_time() -> float:
        return frames_done / fps

    player = CuePlayer(pending.append, tempo=TempoClock(job.bpm, clock=video_time), timer=BlockEdgeTimer(),
                       block=lambda: engine.state.block_index, clock=video_time)
    if job.cues is not None:
        player.load(job.cues)
        player.go(1)
    if job.v2v:
        src = file_source(job.v2v, job.stream)
        engine.set_source(src.latest, SourceSpec("file", str(Path(job.v2v).resolve())))
        engine.apply(C.SetV2V(amount=job.v2v_amount))

    recorders = _recorders(job)
    for rec in recorders:
        avail = rec.is_available()
        if not avail:
            raise UserError(avail.reason)
        rec.open(job.stream.width, job.stream.height, fps)
    progress = Progress(blocks)
    block_s: list[float] = []
    t0 = time.perf_counter()
    try:
        for b in range(blocks):
            player.block_edge()
            for cmd in pending:
                engine.apply(cmd)
            pending.clear()
            if job.replay is not None:
                for event in job.replay.commands_at(b):
                    if isinstance(event, SourceSpec):
                        apply_source(engine, event, job.replay.path)
                    else:
                        engine.apply(event)
            block = engine.next_block()
            frames = block.frames if want is None else block.frames[: max(0, want - frames_done)]
            for rec in recorders:
                for frame in frames:
                    rec.send(frame)
            frames_done += len(frames)
            block_s.append(block.timings["block_s"])
            progress.update(b + 1, frames_done)
    finally:
        progress.close()
        for rec in recorders:
            rec.close()
    wall = time.perf_counter() - t0
    if job.log:
        engine.write_log(job.log, frames=want)
    block_s.sort()
    return {"model": bundle.name, "model_hash": bundle.content_hash(), "blocks": blocks, "frames": frames_done,
            "fps_video": fps, "width": job.stream.width, "height": job.stream.height, "seed": engine.initial_seed,
            "wall_s": round(wall, 3), "generated_fps": round(frames_done / wall, 2) if wall else None,
            "block_s_median": round(block_s[len(block_s) // 2], 4), "commands": len(engine.log),
            "out": str(recorders[0].path) if job.out else None,
            "frames_dir": str(recorders[-1].path) if job.frames_dir else None}
