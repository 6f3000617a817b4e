"""The single-threaded engine: a session, its live parameters, commands and their log.

``Engine`` owns one ``StreamPipeline`` and one ``SessionState``. ``apply(cmd)`` changes
state or parameters at a block edge (the caller decides when: the runner drains its queue
between blocks; ``render`` replays a timeline); ``next_block()`` generates one block. Every
applied command is appended to ``log`` with the block index it took effect at (and the
denoising step, for purges), so a performance can be re-rendered with ``replay``.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, TextIO

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.pipeline import Block, FrameSource, NoiseProvider, StreamPipeline
from sfe_live.engine.state import Blend, LiveParams, SessionState
from sfe_live.io import atomic_write_text

log = logging.getLogger(__name__)

LOG_FORMAT = "sfe-live-log/1"
SUPERSEDED = "SupersededPrompt"      # a prompt that arrived but was replaced before it went on air


@dataclass(frozen=True)
class LogEntry:
    block: int
    command: str
    args: dict[str, Any]
    step: Optional[int] = None

    def to_json(self) -> str:
        return json.dumps({"block": self.block, "command": self.command, "args": self.args,
                           **({"step": self.step} if self.step is not None else {})})


def command_from(name: str, args: dict[str, Any]) -> C.Command:
    classes = {cls.__name__: cls for cls in C.ALL_COMMANDS}
    if name not in classes:
        raise ValueError(f"unknown command {name!r} (known: {', '.join(sorted(classes))})")
    cls = classes[name]
    if "steps" in args:
        args = {**args, "steps": tuple(args["steps"])}
    return cls(**args)


def _clamp(value: float, lo: float, hi: float, what: str) -> float:
    if not lo <= value <= hi:
        log.warning("%s %.3g out of range [%g, %g]: clamped", what, value, lo, hi)
    return min(hi, max(lo, value))


class Engine:
    def __init__(self, bundle: Any, stream: StreamConfig, prompt: str = "", seed: Optional[int] = None,
                 params: Optional[LiveParams] = None, source: Optional[FrameSource] = None,
                 noise: Optional[NoiseProvider] = None, log_limit: Optional[int] = None,
                 log_path: Optional[str | Path] = None) -> None:
        """``log_limit`` bounds the in-memory command log (a live show: the newest entries are kept;
        ``None`` keeps all, as ``render --log`` needs); ``log_path`` streams every entry to a JSON-lines
        file as it happens (complete, whatever the limit)."""
        self.bundle = bundle
        self.stream = stream
        self.pipeline = StreamPipeline(bundle, stream, **({"noise": noise} if noise else {}))
        self.params = params or LiveParams(steps=stream.denoising_steps, noise_scale=stream.noise_scale)
        self.state: SessionState = self.pipeline.new_state(prompt, stream.seed if seed is None else seed)
        self.source = source
        self.paused = False
        self.log: collections.deque[LogEntry] = collections.deque(maxlen=log_limit)
        self._log_file: Optional[TextIO] = None
        self._rng = random.Random(self.state.seed)
        self.initial_seed = self.state.seed
        self.initial_prompt = prompt
        self.last_block: Optional[Block] = None
        if log_path is not None:
            self._log_file = open(log_path, "w", encoding="utf-8")
            self._log_file.write(json.dumps(self.header()) + "\n")
            self._log_file.flush()

    # -- commands ----------------------------------------------------------------------------
    def _append(self, entry: LogEntry) -> None:
        self.log.append(entry)
        if self._log_file is not None:
            try:
                self._log_file.write(entry.to_json() + "\n")
                self._log_file.flush()
            except OSError as exc:                  # disk full: the show goes on, the file stops
                log.error("command log stopped: %s", exc.strerror or exc)
                self._log_file = None

    def close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _entry(self, cmd: C.Command, step: Optional[int] = None, **override: Any) -> LogEntry:
        args = {f.name: getattr(cmd, f.name) for f in dataclasses.fields(cmd)}
        args.update(override)
        args = {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}
        return LogEntry(self.state.block_index, cmd.name, args, step)

    def _record(self, cmd: C.Command, step: Optional[int] = None, **override: Any) -> None:
        self._append(self._entry(cmd, step, **override))

    def note_superseded(self, cmd: C.SetPrompt) -> None:
        """Log a prompt that arrived but never went on air (a newer one replaced it before its
        block edge); ``read_log`` skips these entries, so a replay gives the same frames."""
        self._append(dataclasses.replace(self._entry(cmd), command=SUPERSEDED))

    def _purge_strength(self, strength: Optional[int]) -> int:
        """A purge's strength: the given one or the current reactivity, clamped to 0..3."""
        value = self.params.reactivity if strength is None else strength
        return int(_clamp(value, 0, C.MAX_STRENGTH, "strength"))

    def purge_step(self, strength: int) -> int:
        return max(0, len(self.params.steps) - 1 - strength)

    def apply(self, cmd: C.Command) -> None:
        """Apply one command now (between blocks)."""
        st, p = self.state, self.params
        if isinstance(cmd, C.SetPrompt):
            if cmd.transition not in C.TRANSITIONS:
                raise ValueError(f"transition {cmd.transition!r} unknown: use one of {', '.join(C.TRANSITIONS)}")
            new = self.pipeline.condition(cmd.text)
            step = None
            if cmd.transition == "blend" and cmd.blend_blocks > 1:
                if cmd.blend_mode not in C.BLEND_MODES:
                    raise ValueError(f"blend mode {cmd.blend_mode!r} unknown: use linear or slerp")
                src = st.cond.embeds
                st.blend = Blend(src=src, dst=new, blocks=int(cmd.blend_blocks), mode=cmd.blend_mode)
            else:
                st.blend = None
                st.cond = new
                if cmd.transition == "purge":
                    strength = self._purge_strength(cmd.strength)
                    st.pending_purge = strength
                    step = self.purge_step(strength)
                elif cmd.transition == "recache":
                    st.pending_recache = True
            self._record(cmd, step)
        elif isinstance(cmd, C.Purge):
            strength = self._purge_strength(cmd.strength)
            st.pending_purge = strength
            self._record(cmd, self.purge_step(strength), strength=strength)
        elif isinstance(cmd, C.Recache):
            st.pending_recache = True
            self._record(cmd)
        elif isinstance(cmd, C.SetReactivity):
            p.reactivity = int(_clamp(cmd.strength, 0, 3, "reactivity"))
            self._record(cmd, strength=p.reactivity)
        elif isinstance(cmd, C.SetMemory):
            p.memory = _clamp(float(cmd.value), 0.0, 1.0, "memory")
            self._record(cmd, value=p.memory)
        elif isinstance(cmd, C.SetNoiseScale):
            p.noise_scale = _clamp(float(cmd.value), 0.0, 2.0, "noise scale")
            self._record(cmd, value=p.noise_scale)
        elif isinstance(cmd, C.SetSteps):
            steps = tuple(int(s) for s in cmd.steps)
            if not steps or any(not 0 < s <= self.stream.num_train_timesteps for s in steps):
                raise ValueError(f"denoising steps must be 1..{self.stream.num_train_timesteps}, got {steps}")
            p.steps = steps
            self._record(cmd)
        elif isinstance(cmd, C.SetSeed):
            st.seed = int(cmd.seed)
            self._record(cmd)
        elif isinstance(cmd, C.NewSeed):
            if p.seed_locked:
                log.info("seed is locked: new seed ignored")
                return
            st.seed = self._rng.randrange(2 ** 31)
            self._append(LogEntry(st.block_index, "SetSeed", {"seed": st.seed}))
        elif isinstance(cmd, C.LockSeed):
            p.seed_locked = bool(cmd.locked)
            self._record(cmd)
        elif isinstance(cmd, C.SetPaused):
            self.paused = bool(cmd.paused)
            self._record(cmd)
        elif isinstance(cmd, C.TogglePause):
            self.paused = not self.paused
            self._append(LogEntry(st.block_index, "SetPaused", {"paused": self.paused}))
        elif isinstance(cmd, C.Reset):
            self.pipeline.reset(st)
            self._record(cmd)
        elif isinstance(cmd, C.SetDriftGuard):
            p.drift_guard, p.drift_strength = bool(cmd.enabled), int(_clamp(cmd.strength, 0, 3, "strength"))
            p.drift_threshold = float(cmd.threshold)
            self._record(cmd)
        elif isinstance(cmd, C.SetV2V):
            p.v2v_strength = _clamp(float(cmd.strength), 0.0, 1.0, "v2v strength")
            self._record(cmd, strength=p.v2v_strength)
        else:
            raise TypeError(f"not an engine command: {cmd!r}")

    # -- generation -----------------------------------------------------------------------------
    def next_block(self) -> Block:
        block = self.pipeline.step(self.state, self.params, self.source)
        self.last_block = block
        if block.drift_triggered:
            self._append(LogEntry(self.state.block_index, "DriftPurge", {"strength": self.params.drift_strength}))
        return block

    def run(self, blocks: int, timeline: Optional[dict[int, list[C.Command]]] = None) -> Iterable[Block]:
        """Generate ``blocks`` blocks, applying ``timeline[b]`` before block b."""
        timeline = timeline or {}
        for _ in range(blocks):
            for cmd in timeline.get(self.state.block_index, []):
                self.apply(cmd)
            yield self.next_block()

    # -- log ---------------------------------------------------------------------------------------
    def header(self) -> dict[str, Any]:
        s = self.stream
        return {"format": LOG_FORMAT, "model": self.bundle.name, "seed": self.initial_seed,
                "prompt": self.initial_prompt, "width": s.width, "height": s.height,
                "frames_per_block": s.frames_per_block, "kv_window": s.kv_window, "sink_frames": s.sink_frames}

    def write_log(self, path: str | Path) -> None:
        if self.log.maxlen is not None and len(self.log) == self.log.maxlen:
            raise ValueError("the in-memory command log is trimmed: stream it with log_path instead")
        lines = [json.dumps(self.header()), *(entry.to_json() for entry in self.log)]
        atomic_write_text(path, "".join(line + "\n" for line in lines))


def read_log(path: str | Path) -> tuple[dict[str, Any], dict[int, list[C.Command]]]:
    """(header, timeline) of a command log; errors name the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read replay log ({exc.strerror})") from None
    if not lines:
        raise ValueError(f"{path}:1: empty replay log")
    timeline: dict[int, list[C.Command]] = {}
    header: dict[str, Any] = {}
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if no == 1:
                if obj.get("format") != LOG_FORMAT:
                    raise ValueError(f"not a {LOG_FORMAT} header")
                header = obj
                continue
            if obj["command"] in ("DriftPurge", SUPERSEDED):
                continue  # re-derived on replay
            timeline.setdefault(int(obj["block"]), []).append(command_from(obj["command"], dict(obj["args"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{no}: bad replay log line ({exc})") from None
    return header, timeline
