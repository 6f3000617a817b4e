"""Fixtures for source tests: a small synthetic video and image made with PyAV; NDI on loopback."""

from __future__ import annotations

import json
import os
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

if "NDI_CONFIG_DIR" not in os.environ:  # the same loopback-only NDI config as tests/outputs
    _ndi_dir = tempfile.mkdtemp(prefix="sfe-ndi-")
    with open(os.path.join(_ndi_dir, "ndi-config.v1.json"), "w") as fh:
        json.dump({"ndi": {"networks": {"ips": "127.0.0.1", "discovery": ""},
                           "adapters": {"allowed": ["127.0.0.1"]}}}, fh)
    os.environ["NDI_CONFIG_DIR"] = _ndi_dir

VIDEO_FPS = 50
VIDEO_FRAMES = 20  # 0.4 s


def grey_index(frame: np.ndarray) -> int:
    """The frame index a test video frame encodes as its grey level (8 per step, from 8)."""
    return int(round(float(frame.mean()) / 8)) - 1


def write_video(path: Path, n: int = VIDEO_FRAMES, fps: int = VIDEO_FPS, w: int = 96, h: int = 48) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": "0", "preset": "ultrafast"}
        s.codec_context.gop_size = 5
        for i in range(n):
            f = av.VideoFrame.from_ndarray(np.full((h, w, 3), 8 * i + 8, np.uint8), format="rgb24")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


@pytest.fixture(scope="session")
def video_file(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "grey.mp4")


@pytest.fixture
def index_of():
    return grey_index


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
