"""The command log of a performance (JSON lines) and the strict reader that replays it.

Line 1 is a self-contained header: the log format, the model (name, what it was loaded from, a
hash of its weights, dtype), the first prompt and seed, every stream parameter, whether frames
were decoded, and the end of the performance (``blocks`` generated). Every later line is one
applied command with the block it took effect at; purges also carry the denoising ``step`` that
actually ran (``null`` when a later purge replaced it before it ran). ``SetSource`` lines name
the video-to-video input. ``render --replay`` rebuilds the same stream and applies the same
timeline, so the frames come out identical.

Reading never trusts the file: its size, the header's sizes and every field are checked before
anything is allocated; any problem is one ``ValueError`` naming the file and line.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C

LOG_FORMAT = "sfe-live-log/2"
MAX_LOG_BYTES = 64 * 2 ** 20          # a log of a long show is a few MB
MAX_SIDE = 8192                       # pixels per side a replay may ask for
MAX_PIXELS = 4096 * 4096              # pixels per frame
MAX_BLOCKS = 10_000_000
MAX_FRAMES_PER_BLOCK = 64
MAX_WINDOW = 1024
SOURCE_KINDS = ("none", "file", "live")


@dataclass(frozen=True)
class LogEntry:
    block: int
    command: str
    args: dict[str, Any]
    step: Optional[int] = None

    def to_json(self) -> str:
        return json.dumps({"block": self.block, "command": self.command, "args": self.args,
                           **({"step": self.step} if self.step is not None else {})})


@dataclass(frozen=True)
class SourceSpec:
    """Where video-to-video frames came from: ``file`` (a video stepped at the stream's rate, so
    a replay sees the same frames), ``live`` (a camera, NDI: not reproducible) or ``none``."""

    kind: str = "none"
    path: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"source kind {self.kind!r} unknown (none, file, live)")
        if not isinstance(self.path, str) or not isinstance(self.name, str):
            raise ValueError("source path and name must be text")


@dataclass(frozen=True)
class LogHeader:
    model: str
    model_spec: str
    model_hash: str
    dtype: str
    prompt: str
    seed: int
    stream: StreamConfig
    blocks: Optional[int]
    checkpoint: str = ""
    decode: bool = True
    frames: Optional[int] = None        # frames kept of those blocks (a render cut to --seconds); None = all
    format: str = LOG_FORMAT

    def to_dict(self) -> dict[str, Any]:
        s = dataclasses.asdict(self.stream)
        s["denoising_steps"] = list(self.stream.denoising_steps)
        return {"format": self.format, "model": {"name": self.model, "spec": self.model_spec,
                                                 "checkpoint": self.checkpoint, "hash": self.model_hash},
                "dtype": self.dtype, "prompt": self.prompt, "seed": self.seed, "stream": s,
                "decode": self.decode, "blocks": self.blocks, "frames": self.frames}


Event = Union[C.Command, SourceSpec]


@dataclass(frozen=True)
class ReplayLog:
    path: str
    header: LogHeader
    timeline: dict[int, list[Event]] = field(default_factory=dict)

    def commands_at(self, block: int) -> list[Event]:
        return self.timeline.get(block, [])


def command_from(name: str, args: Any) -> C.Command:
    """A command from its logged name and arguments (validated by the command itself)."""
    classes = {cls.__name__: cls for cls in C.ALL_COMMANDS}
    if name not in classes:
        raise ValueError(f"unknown command {name!r} (known: {', '.join(sorted(classes))})")
    if not isinstance(args, dict):
        raise ValueError(f"{name}: args must be an object")
    known = {f.name for f in dataclasses.fields(classes[name])}
    unknown = sorted(set(args) - known)
    if unknown:
        raise ValueError(f"{name}: unknown argument(s) {', '.join(map(str, unknown))}")
    return classes[name](**args)


def _int(obj: dict[str, Any], key: str, lo: int, hi: int, default: Any = None) -> Any:
    v = obj.get(key, default)
    if v is None and default is None and key not in obj:
        raise ValueError(f"missing {key}")
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{key} must be an integer {lo}..{hi}, got {v!r}")
    return v


def _str(obj: dict[str, Any], key: str, default: Optional[str] = None, limit: int = 4096) -> str:
    v = obj.get(key, default)
    if not isinstance(v, str) or len(v) > limit:
        raise ValueError(f"{key} must be text (at most {limit} characters), got {str(v)[:40]!r}")
    return v


def _stream(obj: Any) -> StreamConfig:
    if not isinstance(obj, dict):
        raise ValueError("stream must be an object")
    known = {f.name: f for f in dataclasses.fields(StreamConfig)}
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise ValueError(f"stream: unknown field(s) {', '.join(unknown)}")
    w, h = _int(obj, "width", 1, MAX_SIDE), _int(obj, "height", 1, MAX_SIDE)
    if w * h > MAX_PIXELS:
        raise ValueError(f"stream size {w}x{h} is over the {MAX_PIXELS:,} pixels a replay may use")
    kw: dict[str, Any] = {"width": w, "height": h,
                          "frames_per_block": _int(obj, "frames_per_block", 1, MAX_FRAMES_PER_BLOCK),
                          "kv_window": _int(obj, "kv_window", -1, MAX_WINDOW),
                          "sink_frames": _int(obj, "sink_frames", 0, MAX_WINDOW),
                          "seed": _int(obj, "seed", 0, C.MAX_SEED, 0),
                          "fps": _int(obj, "fps", 1, 1000, 16),
                          "num_train_timesteps": _int(obj, "num_train_timesteps", 1, 100_000, 1000),
                          "position_horizon": _int(obj, "position_horizon", 1, MAX_WINDOW, 21)}
    steps = obj.get("denoising_steps")
    if not isinstance(steps, list) or any(isinstance(s, bool) or not isinstance(s, int) for s in steps):
        raise ValueError(f"denoising_steps must be a list of integers, got {str(steps)[:40]}")
    C.check_steps(tuple(steps), kw["num_train_timesteps"])
    kw["denoising_steps"] = tuple(steps)
    for key in ("shift", "noise_scale", "context_noise"):
        if key in obj:
            v = obj[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1000:
                raise ValueError(f"{key} must be a number 0..1000, got {v!r}")
            kw[key] = float(v)
    if "position_policy" in obj:
        kw["position_policy"] = _str(obj, "position_policy")
    return StreamConfig(**kw)


def _header(obj: Any) -> LogHeader:
    if not isinstance(obj, dict):
        raise ValueError("the first line must be the log header (an object)")
    fmt = obj.get("format")
    if fmt != LOG_FORMAT:
        if isinstance(fmt, str) and fmt.startswith("sfe-live-log/"):
            raise ValueError(f"a {fmt} log from an older version (no stream parameters): record it again")
        raise ValueError(f"not an {LOG_FORMAT} header")
    model = obj.get("model")
    if not isinstance(model, dict):
        raise ValueError("model must be an object with name, spec and hash")
    blocks = obj.get("blocks")
    if blocks is not None:
        blocks = _int(obj, "blocks", 0, MAX_BLOCKS)
    frames = obj.get("frames")
    if frames is not None:
        frames = _int(obj, "frames", 0, MAX_BLOCKS)
    decode = obj.get("decode", True)
    if not isinstance(decode, bool):
        raise ValueError("decode must be true or false")
    return LogHeader(model=_str(model, "name"), model_spec=_str(model, "spec", ""), model_hash=_str(model, "hash", ""),
                     checkpoint=_str(model, "checkpoint", ""), dtype=_str(obj, "dtype", "float32"),
                     prompt=_str(obj, "prompt", "", C.MAX_TEXT_CHARS), seed=_int(obj, "seed", 0, C.MAX_SEED),
                     stream=_stream(obj.get("stream")), blocks=blocks, decode=decode, frames=frames)


SUPERSEDED = "SupersededPrompt"      # a prompt that arrived but was replaced before it went on air


def read_log(path: str | Path) -> ReplayLog:
    """Parse and check a command log; any problem is a ValueError ``file:line: what``."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ValueError(f"{path}: not a file")
        if size > MAX_LOG_BYTES:
            raise ValueError(f"{path}: {size:,} bytes is too large for a replay log (at most {MAX_LOG_BYTES:,})")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_LOG_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read replay log ({exc.strerror})") from None
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (a replay log is UTF-8 JSON lines)") from None
    if not lines or not lines[0].strip():
        raise ValueError(f"{path}:1: empty replay log")
    timeline: dict[int, list[Event]] = {}
    header: Optional[LogHeader] = None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if header is None:
                header = _header(obj)
                continue
            if not isinstance(obj, dict):
                raise ValueError("each line must be an object")
            limit = header.blocks if header.blocks is not None else MAX_BLOCKS
            block = _int(obj, "block", 0, limit)
            name = _str(obj, "command", None, 64)
            args = obj.get("args", {})
            if name in ("DriftPurge", SUPERSEDED):
                continue            # the drift guard does it again; a superseded prompt never went on air
            if name == "SetSource":
                if not isinstance(args, dict):
                    raise ValueError("SetSource: args must be an object")
                event: Event = SourceSpec(**args)
            else:
                event = command_from(name, args)
            timeline.setdefault(block, []).append(event)
        except RecursionError:
            raise ValueError(f"{path}:{no}: bad replay log line (nested too deeply)") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{no}: bad replay log line ({str(exc)[:200]})") from None
    assert header is not None
    return ReplayLog(str(path), header, timeline)


def write_log(path: str | Path, header: LogHeader, entries: list[LogEntry]) -> None:
    """Write header + entries atomically (sfe_live.io)."""
    from sfe_live.io import atomic_write_text
    lines = [json.dumps(header.to_dict()), *(entry.to_json() for entry in entries)]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
