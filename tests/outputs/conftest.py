"""Fixtures for output tests: synthetic frames, a collecting sink, an in-memory virtual camera
backend for the real ``pyvirtualcam.Camera`` path."""

from __future__ import annotations

import threading
import time
from typing import Any, Optional

import numpy as np
import pytest

# NDI stays on loopback for the whole suite (tests/conftest.py sets NDI_CONFIG_DIR).


def synthetic_frame(i: int, w: int = 832, h: int = 480) -> np.ndarray:
    """A smooth, varying RGB frame: gradients, a moving bar and a colour that changes with ``i``."""
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    f = np.empty((h, w, 3), dtype=np.uint8)
    f[..., 0] = ((x + 4 * i) % 256).astype(np.uint8)
    f[..., 1] = np.broadcast_to(y, (h, w)).astype(np.uint8)
    f[..., 2] = (i * 37) % 256
    bar = (i * 13) % max(1, w - 24)
    f[:, bar : bar + 24] = 255
    return f


@pytest.fixture
def make_frame():
    return synthetic_frame


class CollectSink:
    """Keeps a copy of every frame (optionally only a tag pixel) and when it arrived."""

    def __init__(self, name: str = "collect", keep: str = "tag") -> None:
        self.name = name
        self.keep = keep
        self.frames: list[Any] = []
        self.times: list[float] = []
        self.opened: Optional[tuple[int, int, float]] = None
        self.closed = 0

    def is_available(self):
        from sfe_live.availability import Availability

        return Availability(True)

    def open(self, width: int, height: int, fps: float) -> None:
        self.opened = (width, height, fps)

    def send(self, frame: np.ndarray) -> None:
        self.frames.append(frame.copy() if self.keep == "frame" else int(frame[0, 0, 0]))
        self.times.append(time.monotonic())

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def collect_sink():
    return CollectSink


class MemoryCamBackend:
    """A duck-typed pyvirtualcam backend that stores what ``Camera.send`` hands it."""

    instances: list["MemoryCamBackend"] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: Optional[str], **kw: Any) -> None:
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self._device = device or "memory0"
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.closed = False
        self.lock = threading.Lock()
        MemoryCamBackend.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        with self.lock:
            self.frames.append(frame.copy())
            self.times.append(time.monotonic())

    def close(self) -> None:
        self.closed = True

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> Optional[int]:
        return self.fourcc


@pytest.fixture
def memory_cam():
    """Registers the in-memory backend as 'sfe-test-memory'; removed again after the test."""
    import pyvirtualcam
    from pyvirtualcam import camera

    MemoryCamBackend.instances = []
    pyvirtualcam.register_backend("sfe-test-memory", MemoryCamBackend)
    yield MemoryCamBackend
    camera.BACKENDS.pop("sfe-test-memory", None)


def wait_until(pred, timeout: float = 5.0, step: float = 0.005) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


@pytest.fixture
def until():
    return wait_until
