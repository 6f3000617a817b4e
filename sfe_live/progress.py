"""A one-line progress meter (blocks, fps, ETA) for offline commands; silent when not a TTY."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class Progress:
    def __init__(self, total: int, stream: Optional[TextIO] = None) -> None:
        stream = stream or sys.stderr                   # looked up now: it may have been replaced
        self.total, self.stream, self.t0 = total, stream, time.perf_counter()
        self.tty = stream.isatty()

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
