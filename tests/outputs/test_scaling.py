"""Scaling for projectors: exact fit/fill/stretch geometry, black bars, both backends, speed."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from sfe_live.outputs.scaling import FitMode, Scaler, placement

log = logging.getLogger(__name__)


def test_fit_letterbox_geometry_832x480_to_1080p():
    p = placement(832, 480, 1920, 1080, "fit")
    assert p.crop == (0, 0, 832, 480)
    assert p.scaled == (1872, 1080)
    assert p.offset == (24, 0)
    assert abs(p.scaled[0] / p.scaled[1] - 832 / 480) < 1e-3


def test_fit_pillarbox_portrait():
    p = placement(480, 832, 1920, 1080, FitMode.FIT)
    assert p.scaled == (623, 1080)
    assert p.offset == ((1920 - 623) // 2, 0)


def test_fill_crops_evenly_and_covers():
    p = placement(832, 480, 1920, 1080, "fill")
    assert p.scaled == (1920, 1080) and p.offset == (0, 0)
    assert p.crop == (0, 6, 832, 468)  # 1920/832 = 2.3077 -> 1080 / 2.3077 = 468 rows, 6 cut each side


def test_stretch_uses_everything():
    p = placement(832, 480, 1280, 1024, "stretch")
    assert p.crop == (0, 0, 832, 480) and p.scaled == (1280, 1024) and p.offset == (0, 0)


def test_bad_sizes_raise():
    with pytest.raises(ValueError):
        placement(0, 480, 1920, 1080)
    with pytest.raises(ValueError):
        placement(832, 480, 1920, 1080, "zoom")


def _halves(w: int = 832, h: int = 480) -> np.ndarray:
    f = np.zeros((h, w, 3), np.uint8)
    f[:, : w // 2] = (255, 0, 0)
    f[:, w // 2 :] = (0, 0, 255)
    return f


@pytest.mark.parametrize("backend", ["swscale", "torch"])
def test_fit_pixels_bars_black_content_in_place(backend):
    out = Scaler(1920, 1080, "fit", backend=backend)(_halves())
    assert out.shape == (1080, 1920, 3) and out.dtype == np.uint8
    assert (out[:, :24] == 0).all() and (out[:, 1896:] == 0).all()  # bars exactly black
    assert (out[:, 30:900] == (255, 0, 0)).all()  # left half red, scaled
    assert (out[:, 1000:1890] == (0, 0, 255)).all()  # right half blue


@pytest.mark.parametrize("backend", ["swscale", "torch"])
def test_fill_crops_the_marked_rows(backend):
    f = np.full((480, 832, 3), 100, np.uint8)
    f[:6] = 255  # the 6 rows fill must cut at the top
    f[-6:] = 255
    out = Scaler(1920, 1080, "fill", backend=backend)(f)
    assert out.shape == (1080, 1920, 3)
    assert np.abs(out.astype(int) - 100).max() <= 2


def test_stretch_pixels():
    out = Scaler(100, 100, "stretch")(_halves(200, 50))
    assert out.shape == (100, 100, 3)
    assert (out[:, :48] == (255, 0, 0)).all() and (out[:, 52:] == (0, 0, 255)).all()


def test_torch_tensor_input_matches_swscale(make_frame):
    torch = pytest.importorskip("torch")
    f = make_frame(3)
    a = Scaler(1920, 1080, "fit", backend="swscale")(f)
    b = Scaler(1920, 1080, "fit")(torch.from_numpy(f))  # a tensor takes the torch path on its device
    assert isinstance(b, np.ndarray) and b.shape == a.shape
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 2.0


def test_same_size_is_passthrough(make_frame):
    f = make_frame(0, 64, 32)
    assert Scaler(64, 32)(f) is f


def test_speed_832x480_to_1080p(make_frame):
    f = make_frame(1)
    figures = {}
    for backend in ("swscale", "torch"):
        s = Scaler(1920, 1080, "fit", backend=backend)
        s(f)
        n = 10
        t0 = time.perf_counter()
        for _ in range(n):
            s(f)
        figures[backend] = (time.perf_counter() - t0) / n * 1000
    log.warning("scaling 832x480 -> 1920x1080 fit, ms/frame: %s", {k: round(v, 1) for k, v in figures.items()})
    assert figures["swscale"] < 60  # ~8 ms measured on the 2-core dev box; 60 leaves room for load
