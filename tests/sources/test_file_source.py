"""FileSource: own-rate delivery, fitted frames, loops, seek, clear errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sfe_live.sources import FileSource, SourceError, SourceState


def test_delivers_fitted_frames_at_the_file_rate_and_loops(video_file, index_of, until):
    src = FileSource(video_file)
    src.open(32, 32)
    try:
        assert until(lambda: src.loops >= 1, 3)
        t_loop = time.monotonic()
        assert until(lambda: src.loops >= 2, 3)
        one_pass = time.monotonic() - t_loop
        st = src.status()
        frames = src.latest(4)
    finally:
        src.close()
    assert abs(one_pass - 0.4) < 0.12  # 20 frames at 50 fps, in real time
    assert 40 <= st.fps <= 60
    assert frames.shape == (4, 32, 32, 3) and frames.dtype == np.uint8
    idx = [index_of(f) for f in frames]
    assert all((b - a) % 20 == 1 for a, b in zip(idx, idx[1:])), idx  # consecutive, wrapping at 20
    assert src.status().state is SourceState.CLOSED


def test_seek_jumps_to_the_frame(video_file, index_of, until):
    src = FileSource(video_file, speed=0.2)  # 10 fps: time to look
    src.open(32, 32)
    try:
        assert until(lambda: src.status().frames >= 1)
        t0 = time.monotonic()
        src.seek(0.3)  # frame 15; playing on would take 1.4 s to get there
        assert until(lambda: index_of(src.latest(1)[0]) in (15, 16), 1.0), index_of(src.latest(1)[0])
        assert time.monotonic() - t0 < 0.3
        assert abs(src.position - 0.3) < 0.03
    finally:
        src.close()


def test_no_loop_ends_on_the_last_frame(video_file, index_of, until):
    src = FileSource(video_file, loop=False, speed=4.0)
    src.open(16, 16)
    try:
        assert until(lambda: src.status().state is SourceState.ENDED, 3)
        assert index_of(src.latest(1)[0]) == 19
    finally:
        src.close()


def test_missing_file_is_a_clear_message(tmp_path):
    src = FileSource(tmp_path / "nope.mp4")
    assert not src.is_available() and "video file not found" in src.is_available().reason
    with pytest.raises(SourceError, match=r"video file not found: .*nope\.mp4"):
        src.open(32, 32)


def test_unreadable_file_is_a_clear_message(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match=r"cannot read video file .*bad\.mp4"):
        FileSource(bad).open(32, 32)


def test_latest_before_any_frame_is_none(video_file):
    src = FileSource(video_file)
    assert src.latest(3) is None
