"""Still image, camera (no device here: a clear message), fit_frame geometry, the frame ring."""

from __future__ import annotations

import glob
import platform

import numpy as np
import pytest

from sfe_live.sources import CameraSource, FrameRing, SourceError, StillImageSource, fit_frame


def write_png(path, img: np.ndarray):
    import av

    cc = av.CodecContext.create("png", "w")
    cc.width, cc.height, cc.pix_fmt = img.shape[1], img.shape[0], "rgb24"
    data = b"".join(bytes(p) for p in cc.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
    path.write_bytes(data)
    return path


def red_blue(w=64, h=32):
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = (255, 0, 0)
    img[:, w // 2 :] = (0, 0, 255)
    img[:, :8] = (0, 255, 0)  # green edges that fill must crop away
    img[:, -8:] = (0, 255, 0)
    return img


def test_still_image_fill_crops_to_the_model_aspect(tmp_path):
    src = StillImageSource(write_png(tmp_path / "still.png", red_blue()))
    src.open(32, 32)
    frames = src.latest(3)
    assert frames.shape == (3, 32, 32, 3)
    f = frames[0]
    assert (f[:, :15] == (255, 0, 0)).all() and (f[:, 17:] == (0, 0, 255)).all()
    assert not (f == (0, 255, 0)).all(axis=-1).any()  # the green edges were cropped
    assert np.array_equal(frames[0], frames[2])
    src.close()
    assert src.latest(1) is None


def test_still_image_missing_or_broken(tmp_path):
    with pytest.raises(SourceError, match="image file not found"):
        StillImageSource(tmp_path / "none.png").open(8, 8)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    with pytest.raises(SourceError, match="cannot read image"):
        StillImageSource(bad).open(8, 8)


def test_camera_here_is_a_clear_message():
    if platform.system() != "Linux" or glob.glob("/dev/video*"):
        pytest.skip("this check is for a Linux machine without cameras")
    cam = CameraSource()
    avail = cam.is_available()
    assert not avail and "No camera found: there is no /dev/video* device" in avail.reason
    with pytest.raises(SourceError, match="No camera found"):
        cam.open(64, 64)
    with pytest.raises(SourceError, match=r"cannot open camera /dev/video7"):
        CameraSource("/dev/video7").open(64, 64)


def test_fit_frame_modes():
    img = red_blue(64, 32)
    fill = fit_frame(img, 32, 32, "fill")
    fit = fit_frame(img, 32, 32, "fit")
    stretch = fit_frame(img, 32, 32, "stretch")
    assert fill.shape == fit.shape == stretch.shape == (32, 32, 3)
    assert (fit[:8] == 0).all() and (fit[24:] == 0).all()  # letterboxed 32x16 in the middle
    assert (fit[8:24, 10:14] == (255, 0, 0)).all()
    assert (stretch[:, :3] == (0, 255, 0)).all()  # nothing cropped
    with pytest.raises(ValueError):
        fit_frame(img, 32, 32, "zoom")


def test_frame_ring_latest_pads_and_keeps_order():
    ring = FrameRing(capacity=4)
    assert ring.latest(2) is None
    for i in range(6):
        ring.push(np.full((2, 2, 3), i, np.uint8))
    assert [int(f[0, 0, 0]) for f in ring.latest(3)] == [3, 4, 5]
    assert [int(f[0, 0, 0]) for f in ring.latest(6)] == [2, 2, 2, 3, 4, 5]  # padded with the oldest kept
    ring2 = FrameRing()
    ring2.push(np.zeros((2, 2, 3), np.uint8))
    assert ring2.latest(12).shape == (12, 2, 2, 3)
