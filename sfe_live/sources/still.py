"""A still image (PNG, JPEG, WebP...) as a v2v source: decoded once with PyAV, fitted to the model's
size, and returned as every frame of ``latest(n)``."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Optional

import numpy as np

from sfe_live.availability import Availability

from .base import SourceError, SourceState, SourceStatus, fit_frame

log = logging.getLogger(__name__)

__all__ = ["StillImageSource"]


class StillImageSource:
    """Always the same picture. ``mode``: "fill" (default), "fit" or "stretch"."""

    def __init__(self, path: Path | str, *, mode: str = "fill", name: str = "image") -> None:
        self.name = name
        self.path = Path(path)
        self.mode = mode
        self._frame: Optional[np.ndarray] = None
        self._state = SourceState.CLOSED
        self._error = ""
        self._lock = threading.Lock()

    def is_available(self) -> Availability:
        if not self.path.is_file():
            return Availability(False, f"image file not found: {self.path}")
        return Availability(True)

    def open(self, width: int, height: int) -> None:
        avail = self.is_available()
        if not avail:
            raise SourceError(avail.reason)
        frame = _decode_first(self.path)
        with self._lock:
            self._frame = fit_frame(frame, width, height, self.mode)
            self._state = SourceState.RUNNING
        log.info("still image %s: %dx%d -> %dx%d", self.path, frame.width, frame.height, width, height)

    def latest(self, n: int) -> Optional[np.ndarray]:
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            frame = self._frame
        if frame is None:
            return None
        return np.repeat(frame[None], n, axis=0)

    def status(self) -> SourceStatus:
        frame = self._frame
        size = (frame.shape[1], frame.shape[0]) if frame is not None else (0, 0)
        return SourceStatus(self.name, self._state, self._error, 1 if frame is not None else 0, 0.0, size)

    def close(self) -> None:
        with self._lock:
            self._frame = None
            self._state = SourceState.CLOSED


def _decode_first(path: Path) -> Any:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise SourceError(f"not an image: {path}")
            for frame in container.decode(video=0):
                return frame
    except av.error.FFmpegError as exc:
        raise SourceError(f"cannot read image {path}: {exc}") from exc
    raise SourceError(f"no picture could be decoded from {path}")
