"""The Source protocol (the mirror of outputs' Sink) and the machinery every source shares.

A *source* is a picture coming in for video-to-video: a file, a camera, a still image, NDI. ::

    is_available() -> Availability         # cheap; ``reason`` says what to do when not
    open(width, height) -> None            # raises SourceError with a message for the user
    latest(n) -> np.ndarray | None         # the newest n frames, uint8 [n, height, width, 3]
    status() -> SourceStatus
    close() -> None

Frames arrive at the source's own rate on the source's own thread, are fitted to the model's size
(``fill`` by default: centre-cropped, aspect kept) and kept in a small ring; the engine takes the
latest block's worth with ``latest(n)`` whenever it needs them.
"""

from __future__ import annotations

import collections
import enum
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Deque, Optional, Protocol, runtime_checkable

import numpy as np

from sfe_live.availability import Availability

log = logging.getLogger(__name__)

__all__ = [
    "FrameRing",
    "Source",
    "SourceError",
    "SourceState",
    "SourceStatus",
    "ThreadedSource",
    "fit_frame",
]


class SourceError(RuntimeError):
    """A source cannot open or read; the message is meant for the user as it is."""


class SourceState(str, enum.Enum):
    CLOSED = "closed"
    WAITING = "waiting"  # open, no frame yet (an NDI source not found yet, a camera warming up)
    RUNNING = "running"
    ENDED = "ended"  # a file that does not loop reached its end (its last frames stay available)
    FAILED = "failed"


@dataclass(frozen=True)
class SourceStatus:
    name: str
    state: SourceState
    error: str
    frames: int  # frames delivered since open
    fps: float  # measured over the last ~second
    size: tuple[int, int]  # (width, height) delivered


@runtime_checkable
class Source(Protocol):
    name: str

    def is_available(self) -> Availability: ...

    def open(self, width: int, height: int) -> None: ...

    def latest(self, n: int) -> Optional[np.ndarray]: ...

    def status(self) -> SourceStatus: ...

    def close(self) -> None: ...


class FrameRing:
    """The newest ``capacity`` frames; ``latest(n)`` stacks the newest n (oldest first)."""

    def __init__(self, capacity: int = 32) -> None:
        self._frames: Deque[np.ndarray] = collections.deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.count = 0

    def push(self, frame: np.ndarray) -> None:
        with self._lock:
            self._frames.append(frame)
            self.count += 1

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()

    def latest(self, n: int) -> Optional[np.ndarray]:
        """``[n, H, W, 3]``; fewer frames than n so far are padded by repeating the oldest; None if empty."""
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            frames = list(self._frames)[-n:]
        if not frames:
            return None
        if len(frames) < n:
            frames = [frames[0]] * (n - len(frames)) + frames
        return np.stack(frames)


def fit_frame(frame: Any, width: int, height: int, mode: str = "fill") -> np.ndarray:
    """Resize an ``av.VideoFrame`` or an RGB ``np.uint8 [H, W, 3|4]`` to ``width``×``height``.

    ``fill`` scales to cover then centre-crops, ``fit`` letterboxes on black, ``stretch`` ignores
    the aspect. One libswscale call (which also converts YUV to RGB) plus, for fill/fit, a copy.
    """
    import av

    if isinstance(frame, np.ndarray):
        if frame.ndim != 3 or frame.shape[2] not in (3, 4):
            raise ValueError(f"expected an RGB frame [H, W, 3], got {frame.shape}")
        rgb = np.ascontiguousarray(frame[..., :3])
        if rgb.shape[1] == width and rgb.shape[0] == height:
            return rgb
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    sw, sh = frame.width, frame.height
    if mode == "stretch" or (sw * height == sh * width):
        return frame.reformat(width=width, height=height, format="rgb24", interpolation="BILINEAR").to_ndarray()
    if mode == "fill":
        scale = max(width / sw, height / sh)
    elif mode == "fit":
        scale = min(width / sw, height / sh)
    else:
        raise ValueError(f"unknown mode {mode!r} (fill, fit or stretch)")
    w = max(1, round(sw * scale))
    h = max(1, round(sh * scale))
    if mode == "fill":
        w, h = max(w, width), max(h, height)
    else:
        w, h = min(w, width), min(h, height)
    img = frame.reformat(width=w, height=h, format="rgb24", interpolation="BILINEAR").to_ndarray()
    if mode == "fill":
        x, y = (w - width) // 2, (h - height) // 2
        return np.ascontiguousarray(img[y : y + height, x : x + width])
    out = np.zeros((height, width, 3), dtype=np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    out[y : y + h, x : x + w] = img
    return out


class ThreadedSource:
    """Base for sources with a reader thread: subclasses implement ``_open_media``, ``_read``
    (blocking until the next frame is due; None ends the thread) and ``_close_media``."""

    name = "source"

    def __init__(self, *, mode: str = "fill", capacity: int = 32) -> None:
        self.mode = mode
        self._ring = FrameRing(capacity)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._state = SourceState.CLOSED
        self._error = ""
        self._size = (0, 0)
        self._times: Deque[float] = collections.deque(maxlen=32)

    # -- protocol ---------------------------------------------------------------------------

    def is_available(self) -> Availability:
        return Availability(True)

    def open(self, width: int, height: int) -> None:
        if self._thread is not None:
            self.close()
        self._size = (int(width), int(height))
        self._ring.clear()
        self._ring.count = 0
        self._error = ""
        self._open_media()  # raises SourceError: reported to the caller, not swallowed
        self._state = SourceState.WAITING
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name=f"source-{self.name}", daemon=True)
        self._thread.start()

    def latest(self, n: int) -> Optional[np.ndarray]:
        return self._ring.latest(n)

    def status(self) -> SourceStatus:
        times = self._times
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) >= 2 and times[-1] > times[0] else 0.0
        return SourceStatus(self.name, self._state, self._error, self._ring.count, fps, self._size)

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(2.0)
            if thread.is_alive():
                log.warning("source %s did not stop within 2 s", self.name)
        try:
            self._close_media()
        finally:
            if self._state is not SourceState.FAILED:
                self._state = SourceState.CLOSED

    def __enter__(self) -> "ThreadedSource":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- subclass hooks ---------------------------------------------------------------------

    def _open_media(self) -> None:
        raise NotImplementedError

    def _read(self, stop: threading.Event) -> Any:
        raise NotImplementedError

    def _close_media(self) -> None:
        pass

    # -- thread -----------------------------------------------------------------------------

    def _deliver(self, frame: Any) -> None:
        w, h = self._size
        self._ring.push(fit_frame(frame, w, h, self.mode))
        self._times.append(time.monotonic())
        self._state = SourceState.RUNNING

    def _run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                frame = self._read(stop)
                if frame is None:
                    if not stop.is_set():
                        self._state = SourceState.ENDED
                    break
                self._deliver(frame)
        except Exception as exc:  # a source may fail in any way; the engine keeps its last frames
            self._error = str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
            self._state = SourceState.FAILED
            log.error("source %s failed: %s", self.name, self._error)
