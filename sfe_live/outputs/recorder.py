"""Recording the show: fragmented MP4/H.264 through PyAV, or a PNG sequence.

* The file is a *fragmented* MP4 (``movflags=frag_keyframe+empty_moov+default_base_moof``) with a
  keyframe every ``keyframe_s`` seconds and packets flushed as they are written, so a crash, a
  kill or a pulled plug leaves a playable file missing at most the last fragment.
* Time stamps are frame counts at the model's fps, so the file plays at exactly that rate.
* Names never overwrite: ``sfe-live-20261123-201500.mp4``, then ``…-001.mp4``, ``…-002.mp4``; the
  name is reserved atomically (``O_EXCL``) so two recorders cannot pick the same one.
* Every stop leaves a playable file or none: a take stopped before its first frame is removed.
* The recorder holds the file open itself; when its folder is deleted mid-take (the file lives on
  as long as it is open), ``close`` recreates the folder, saves the whole take there and says so
  in one line.
* As a sink it runs on its own ``SinkRunner`` thread, so starting or stopping a recording never
  touches the playout or the other outputs. By default it skips the playout's held frames
  (``runner_options``): each generated frame is recorded once.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

import numpy as np

from sfe_live.availability import Availability

from .sink import SinkError

log = logging.getLogger(__name__)

__all__ = ["Recorder", "unique_path"]

MP4_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


def unique_path(directory: Path | str, stem: str, suffix: str, *, reserve: bool = True) -> Path:
    """``directory/stem+suffix``, or with ``-001``, ``-002`` … appended until the name is free.

    With ``reserve`` the name is taken atomically: an empty file (``suffix`` set) or a directory
    (``suffix == ""``) is created, so a concurrent caller gets the next number.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    while True:
        name = f"{stem}{suffix}" if n == 0 else f"{stem}-{n:03d}{suffix}"
        path = directory / name
        n += 1
        if not reserve:
            if not path.exists():
                return path
            continue
        try:
            if suffix:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            else:
                path.mkdir()
            return path
        except FileExistsError:
            continue


def default_stem(prefix: str = "sfe-live") -> str:
    return f"{prefix}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


class Recorder:
    """A sink that writes what it receives to ``directory``.

    Args:
        directory: where recordings go (created if missing).
        stem: file name without extension; default ``sfe-live-YYYYmmdd-HHMMSS``.
        fmt: "mp4" (H.264, yuv420p) or "png" (a folder of ``frame-000000.png``).
        crf, preset: x264 quality and speed ("veryfast" ≈ real time at 1080p on 2 cores is not
            guaranteed; "ultrafast" encodes 832×480 at ~170 fps here).
        keyframe_s: seconds between keyframes, i.e. the most a kill can lose.
    """

    runner_options: dict[str, Any] = {"accept_repeats": False, "queue_size": 48}

    def __init__(
        self,
        directory: Path | str,
        *,
        stem: Optional[str] = None,
        fmt: str = "mp4",
        codec: str = "libx264",
        crf: int = 18,
        preset: str = "veryfast",
        keyframe_s: float = 1.0,
        name: str = "record",
    ) -> None:
        if fmt not in ("mp4", "png"):
            raise ValueError(f"unknown recording format {fmt!r} (mp4 or png)")
        self.name = name
        self.directory = Path(directory)
        self.stem = stem
        self.fmt = fmt
        self.codec = codec
        self.crf = crf
        self.preset = preset
        self.keyframe_s = keyframe_s
        self.path: Optional[Path] = None  # the file (mp4) or folder (png) of the current/last take
        self.frames_written = 0
        self._container: Any = None
        self._file: Any = None
        self._stream: Any = None
        self._png: Any = None
        self._size = (0, 0)

    def is_available(self) -> Availability:
        try:
            import av
        except ImportError as exc:  # PyAV is a core dependency; this is a broken install
            return Availability(False, f"PyAV is not importable ({exc}); reinstall sfe-live")
        needed = self.codec if self.fmt == "mp4" else "png"
        if needed not in av.codecs_available:
            return Availability(False, f"this PyAV/FFmpeg build has no {needed!r} encoder")
        return Availability(True)

    def open(self, width: int, height: int, fps: float) -> None:
        import av

        stem = self.stem or default_stem()
        self.frames_written = 0
        self._size = (width, height)
        try:
            if self.fmt == "png":
                self.path = unique_path(self.directory, stem, "")
                cc = av.CodecContext.create("png", "w")
                cc.width, cc.height, cc.pix_fmt = width, height, "rgb24"
                self._png = cc
                log.info("recording PNG sequence to %s", self.path)
                return
            self.path = unique_path(self.directory, stem, ".mp4")
            rate = Fraction(fps).limit_denominator(1001)
            self._file = open(self.path, "w+b")      # ours: it outlives a deleted folder
            container = av.open(
                self._file, "w", format="mp4", options={"movflags": MP4_MOVFLAGS, "flush_packets": "1"}
            )
            stream = container.add_stream(self.codec, rate=rate)
            # yuv420p needs even sizes; an odd model size loses its last row/column.
            stream.width, stream.height = width - width % 2, height - height % 2
            stream.pix_fmt = "yuv420p"
            stream.time_base = Fraction(1, 1) / rate
            stream.codec_context.gop_size = max(1, round(float(rate) * self.keyframe_s))
            stream.options = {"crf": str(self.crf), "preset": self.preset, "tune": "zerolatency"}
            self._container, self._stream = container, stream
            log.info("recording %dx%d at %s fps to %s", width, height, rate, self.path)
        except OSError as exc:
            raise SinkError(f"cannot record to {self.directory}: {exc.strerror or exc}") from exc

    def send(self, frame: np.ndarray) -> None:
        import av

        if frame.shape[1] != self._size[0] or frame.shape[0] != self._size[1]:
            raise SinkError(f"recording is {self._size[0]}x{self._size[1]}, got a {frame.shape[1]}x{frame.shape[0]} frame")
        try:
            if self._png is not None:
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                data = b"".join(bytes(p) for p in self._png.encode(vf))
                assert self.path is not None
                (self.path / f"frame-{self.frames_written:06d}.png").write_bytes(data)
            else:
                w, h = self._stream.width, self._stream.height
                if (w, h) != self._size:
                    frame = frame[:h, :w]
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                vf.pts = self.frames_written
                for packet in self._stream.encode(vf):
                    self._container.mux(packet)
        except OSError as exc:  # disk full, drive unplugged
            raise SinkError(f"recording to {self.path} stopped: {exc.strerror or exc}") from exc
        self.frames_written += 1

    def close(self) -> None:
        container, stream, fh = self._container, self._stream, self._file
        self._container = self._stream = self._png = self._file = None
        if container is None:
            if fh is not None:
                fh.close()
            return
        try:
            for packet in stream.encode(None):
                container.mux(packet)
        finally:
            container.close()
            if fh is not None:
                self._finish_file(fh)

    def _finish_file(self, fh: Any) -> None:
        """Close our file: none for an empty take; the take re-saved when its folder was deleted."""
        assert self.path is not None
        try:
            fh.flush()
            if self.frames_written == 0:
                fh.close()
                self.path.unlink(missing_ok=True)
                log.info("recording stopped before its first frame: no file kept")
                return
            if not self.path.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fh.seek(0)
                with open(self.path, "wb") as out:
                    shutil.copyfileobj(fh, out, 1 << 20)
                log.warning("recording folder was deleted during the take: recreated it and saved all %d "
                            "frames to %s", self.frames_written, self.path)
            else:
                log.info("recording closed: %s (%d frames)", self.path, self.frames_written)
        except OSError as exc:
            log.error("recording %s (%d frames) lost: %s", self.path, self.frames_written, exc.strerror or exc)
        finally:
            fh.close()
