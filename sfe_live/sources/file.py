"""A video file as a v2v source: decoded with PyAV at the file's own rate, looping, seekable.

Two clocks: by default a reader thread plays the file in real time (wall clock), as a live input
does. With ``stepped_fps`` the file follows the *video* instead: each ``latest(n)`` call returns
the next n frames sampled at that rate, with no thread, so the same file gives the same frames to
a live show, an offline render and a replay of either.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from sfe_live.availability import Availability

from .base import SourceError, SourceState, ThreadedSource

log = logging.getLogger(__name__)

__all__ = ["FileSource"]


class FileSource(ThreadedSource):
    """Plays ``path`` in real time (times ``speed``) into the frame ring.

    Args:
        path: any file FFmpeg can read (mp4, mov, mkv, webm, gif...).
        loop: start again at the end (default) or stop on the last frame.
        speed: playback rate; 1.0 is the file's own rate.
        mode: "fill" (crop to the model's aspect), "fit" or "stretch".
        stepped_fps: follow the generated video at this rate instead of the wall clock (see above).
    """

    def __init__(self, path: Path | str, *, loop: bool = True, speed: float = 1.0, mode: str = "fill",
                 name: str = "file", stepped_fps: Optional[float] = None) -> None:
        super().__init__(mode=mode)
        if speed <= 0:
            raise ValueError("speed must be > 0")
        if stepped_fps is not None and stepped_fps <= 0:
            raise ValueError("stepped_fps must be > 0")
        self.stepped_fps = stepped_fps
        self._stepped = 0                   # stepped mode: frames delivered
        self._decoded = 0                   # stepped mode: source frames decoded
        self._current: Any = None           # stepped mode: the source frame on show
        self.name = name
        self.path = Path(path)
        self.loop = loop
        self.speed = speed
        self.loops = 0  # times playback wrapped to the start
        self.position = 0.0  # seconds of the last delivered frame
        self.duration: Optional[float] = None
        self._container: Any = None
        self._stream: Any = None
        self._frames: Any = None
        self._seek_to: Optional[float] = None
        self._seek_lock = threading.Lock()
        self._anchor: Optional[tuple[float, float]] = None  # (wall time, media time) pair

    def is_available(self) -> Availability:
        if not self.path.exists():
            return Availability(False, f"video file not found: {self.path}")
        if not self.path.is_file():
            return Availability(False, f"not a file: {self.path}")
        return Availability(True)

    # -- stepped (video-clocked) mode ----------------------------------------------------------

    def open(self, width: int, height: int) -> None:
        if self.stepped_fps is None:
            super().open(width, height)
            return
        self.close()
        self._size = (int(width), int(height))
        self._ring.clear()
        self._ring.count = 0
        self._error = ""
        self._open_media()
        self._stepped, self._decoded, self._current = 0, 0, None
        self._state = SourceState.RUNNING

    def latest(self, n: int) -> Optional[np.ndarray]:
        """Stepped mode: the next n frames at ``stepped_fps`` (source frame floor(k * rate / fps) for
        output frame k; the last frame is held at the end of a file that does not loop)."""
        if self.stepped_fps is None:
            return super().latest(n)
        if self._container is None:
            return None
        rate = float(self._stream.average_rate or self.stepped_fps)
        for _ in range(n):
            target = int(self._stepped * self.speed * rate / self.stepped_fps + 1e-9)
            while self._decoded <= target:
                frame = self._next()
                if frame is None:
                    break
                self._current, self._decoded = frame, self._decoded + 1
            if self._current is None:
                return None
            self._deliver(self._current)
            self._stepped += 1
        return self._ring.latest(n)

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds`` (clamped to the file); takes effect on the reader thread."""
        with self._seek_lock:
            self._seek_to = max(0.0, float(seconds))

    # -- media ------------------------------------------------------------------------------

    def _open_media(self) -> None:
        import av

        avail = self.is_available()
        if not avail:
            raise SourceError(avail.reason)
        try:
            container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"cannot read video file {self.path}: {exc}") from exc
        if not container.streams.video:
            container.close()
            raise SourceError(f"no video stream in {self.path}")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        self._container, self._stream = container, stream
        if stream.duration is not None and stream.time_base is not None:
            self.duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            self.duration = container.duration / 1_000_000
        self._frames = container.decode(stream)
        self._anchor = None
        log.info("file source %s: %dx%d, %.3f s", self.path, stream.width, stream.height, self.duration or -1)

    def _close_media(self) -> None:
        container, self._container = self._container, None
        self._frames = None
        if container is not None:
            container.close()

    def _frame_time(self, frame: Any) -> float:
        if frame.pts is None or frame.time_base is None:
            rate = self._stream.average_rate or 25
            return self.position + 1.0 / float(rate)
        return float(frame.pts * frame.time_base)

    def _do_seek(self, target: float) -> Any:
        """Seek to the keyframe before ``target`` and decode forward to it; returns that frame."""
        stream = self._stream
        self._container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
        self._frames = self._container.decode(stream)
        last = None
        for frame in self._frames:
            last = frame
            if self._frame_time(frame) + 1e-6 >= target:
                break
        self._anchor = None
        return last

    def _next(self) -> Any:
        with self._seek_lock:
            target, self._seek_to = self._seek_to, None
        if target is not None:
            frame = self._do_seek(target)
            if frame is not None:
                return frame
        for frame in self._frames:
            return frame
        if not self.loop:
            return None
        self.loops += 1
        frame = self._do_seek(0.0)
        if frame is None:
            raise SourceError(f"no frame could be decoded from {self.path}")
        return frame

    def _read(self, stop: threading.Event) -> Any:
        while not stop.is_set():
            frame = self._next()
            if frame is None:
                return None
            t = self._frame_time(frame)
            now = time.monotonic()
            if self._anchor is None:
                self._anchor = (now, t)
            due = self._anchor[0] + (t - self._anchor[1]) / self.speed
            if due - now > 1.0:  # a gap in time stamps: re-anchor rather than stall
                self._anchor, due = (now, t), now
            while now < due and self._seek_to is None and not stop.is_set():
                stop.wait(min(due - now, 0.02))  # short slices: a seek is served at once
                now = time.monotonic()
            if self._seek_to is not None:
                continue  # this frame is from before the seek: drop it
            self.position = t
            return frame
        return None
