"""Issue 11 item 10: a recording folder deleted mid-take, and a take stopped before its first frame."""

from __future__ import annotations

import logging
import shutil

import av
import numpy as np

from sfe_live.outputs.recorder import Recorder


def _frames(path):
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def _frame(i):
    f = np.zeros((64, 96, 3), np.uint8)
    f[:, : (i * 3) % 96] = 200
    return f


def test_folder_deleted_mid_take_keeps_the_take(tmp_path, caplog):
    folder = tmp_path / "rec"
    rec = Recorder(folder, stem="take", preset="ultrafast")
    rec.open(96, 64, 16.0)
    for i in range(20):
        rec.send(_frame(i))
    shutil.rmtree(folder)                       # the performer's disk clean-up, mid-show
    for i in range(20, 32):
        rec.send(_frame(i))
    with caplog.at_level(logging.INFO, logger="sfe_live.outputs.recorder"):
        rec.close()
    assert rec.path is not None and rec.path.exists()
    assert _frames(rec.path) == 32
    lines = [r.getMessage() for r in caplog.records if "recreated it" in r.getMessage()]
    assert len(lines) == 1 and str(rec.path) in lines[0]


def test_take_stopped_before_its_first_frame_leaves_no_file(tmp_path, caplog):
    for _ in range(5):                          # rapid record toggles
        rec = Recorder(tmp_path, stem="take", preset="ultrafast")
        rec.open(96, 64, 16.0)
        rec.close()
    rec = Recorder(tmp_path, stem="take", preset="ultrafast")
    rec.open(96, 64, 16.0)
    rec.send(_frame(1))
    rec.close()
    files = sorted(tmp_path.iterdir())
    assert files == [rec.path]                  # every stop leaves a playable file or none
    assert _frames(rec.path) == 1
