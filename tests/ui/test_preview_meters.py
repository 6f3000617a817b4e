"""Preview helpers (path choice, reusable buffer, raster drawing) and the Qt-free meters."""

import numpy as np

from ui.meters import BlockClock, LatencyMeter, RateMeter
from ui.preview import FrameBuffer, GLInfo, RasterPreview, choose_path, fit_rect


def test_choose_path(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SFE_LIVE_PREVIEW", raising=False)
    hw = GLInfo(True, renderer="NVIDIA GeForce RTX 4090/PCIe/SSE2")
    sw = GLInfo(True, renderer="llvmpipe (LLVM 15.0.6, 256 bits)")
    none = GLInfo(False, error="no context")
    assert choose_path("auto", hw)[0] == "gl"
    assert choose_path("auto", sw) == ("raster", "software GL (llvmpipe): raster is faster")
    assert choose_path("gl", sw)[0] == "gl"
    assert choose_path("gl", none)[0] == "raster"
    assert choose_path("raster", hw)[0] == "raster"
    monkeypatch.setenv("SFE_LIVE_PREVIEW", "raster")
    assert choose_path("auto", hw)[0] == "raster"


def test_frame_buffer_is_reused() -> None:
    b = FrameBuffer()
    a1 = b.update(np.zeros((48, 64, 3), np.uint8))
    a2 = b.update(np.ones((48, 64, 3), np.uint8))
    assert a1 is a2 and b.generation == 1 and a2[0, 0, 0] == 1
    b.update(np.zeros((64, 64, 3), np.uint8))
    assert b.generation == 2


def test_fit_rect_keeps_aspect() -> None:
    r = fit_rect(832, 480, 1000, 1000)
    assert (r.width(), r.height(), r.x(), r.y()) == (1000, 577, 0, 211)


def test_raster_preview_draws_frames(qtbot) -> None:  # type: ignore[no-untyped-def]
    w = RasterPreview()
    qtbot.addWidget(w)
    w.resize(400, 240)
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:30, :, 0] = 255
    frame[30:, :, 2] = 255
    w.set_frame(frame, 1)
    img = w.grab_image()
    top = img.pixelColor(200, 60)
    bottom = img.pixelColor(200, 180)
    assert (top.red(), top.blue()) == (255, 0) and (bottom.red(), bottom.blue()) == (0, 255)   # not flipped
    assert img.pixelColor(2, 120).getRgb()[:3] == (0, 0, 0)                  # aspect kept: black bars


def test_meters() -> None:
    m = LatencyMeter(0.016)
    for t in (0.0, 0.016, 0.032, 0.060, 0.076):
        m.tick(t)
    s = m.stats()
    assert s.count == 4 and abs(s.max_ms - 12.0) < 1e-6 and s.p50_ms < 1e-6
    r = RateMeter(2.0)
    for i in range(33):
        r.add(i / 16)
    assert abs(r.rate(2.0) - 16.0) < 0.6
    c = BlockClock()
    assert c.eta(0.0) is None
    for i, t in enumerate((0.0, 0.5, 1.0, 1.5)):
        c.update(i, t)
    assert c.period == 0.5 and abs(c.eta(1.6) - 0.4) < 1e-9 and c.eta(9.0) == 0.0
