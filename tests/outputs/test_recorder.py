"""Recording: exact frames/fps/size read back with PyAV, unique names, PNG sequence, a SIGKILL
mid-recording leaves a playable file, and start/stop live while other outputs run."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import numpy as np

from sfe_live.outputs import OutputManager, PlayoutConfig, SinkRunner, SinkState
from sfe_live.outputs.recorder import Recorder, unique_path

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]


def read_back(path: Path) -> tuple[list[np.ndarray], object, tuple[int, int]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
        return frames, s.average_rate, (s.width, s.height)


def test_records_exactly_160_frames_at_16fps(tmp_path, make_frame, until):
    rec = Recorder(tmp_path, stem="take", preset="ultrafast")
    runner = SinkRunner(rec, **{**Recorder.runner_options, "queue_size": 200})
    runner.enable(832, 480, 16.0)
    src = [make_frame(i) for i in range(160)]
    t0 = time.perf_counter()
    for f in src:
        runner.offer(f)  # faster than real time; the queue holds them all
    assert until(lambda: runner.status().sent == 160, 30)
    runner.disable()
    encode_fps = 160 / (time.perf_counter() - t0)
    log.warning("recorded 160 frames 832x480 (ultrafast) at %.0f fps end to end", encode_fps)
    st = runner.status()
    assert st.dropped == 0 and st.state is SinkState.OFF
    frames, rate, size = read_back(tmp_path / "take.mp4")
    assert len(frames) == 160
    assert rate == 16
    assert size == (832, 480)
    for i in (0, 1, 80, 159):
        err = np.abs(frames[i].astype(int) - src[i].astype(int)).mean()
        assert err < 4.0, (i, err)
    # in order: the blue level that encodes the index matches frame by frame
    blue = [float(f[:, :, 2].mean()) for f in frames]
    assert np.allclose(blue, [float(f[:, :, 2].mean()) for f in src], atol=3)


def test_names_never_overwrite(tmp_path):
    (tmp_path / "show.mp4").write_bytes(b"keep me")
    assert unique_path(tmp_path, "show", ".mp4") == tmp_path / "show-001.mp4"
    assert unique_path(tmp_path, "show", ".mp4") == tmp_path / "show-002.mp4"
    assert (tmp_path / "show.mp4").read_bytes() == b"keep me"
    rec = Recorder(tmp_path, stem="show", preset="ultrafast")
    rec.open(64, 48, 16.0)
    rec.send(np.zeros((48, 64, 3), np.uint8))
    rec.close()
    assert rec.path == tmp_path / "show-003.mp4"
    assert (tmp_path / "show.mp4").read_bytes() == b"keep me"
    assert len(read_back(rec.path)[0]) == 1


def test_png_sequence_is_lossless(tmp_path, make_frame):
    rec = Recorder(tmp_path, stem="seq", fmt="png")
    rec.open(96, 64, 16.0)
    src = [make_frame(i, 96, 64) for i in range(3)]
    for f in src:
        rec.send(f)
    rec.close()
    files = sorted((tmp_path / "seq").iterdir())
    assert [p.name for p in files] == ["frame-000000.png", "frame-000001.png", "frame-000002.png"]
    with av.open(str(files[2])) as c:
        got = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert np.array_equal(got, src[2])


KILLED_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from sfe_live.outputs import OutputManager, PlayoutConfig
    from sfe_live.outputs.recorder import Recorder

    om = OutputManager(fps=50.0, playout=PlayoutConfig(prebuffer=1, max_buffer=200))
    rec = Recorder(sys.argv[1], stem="killed", preset="ultrafast", keyframe_s=0.2)
    om.add_sink(rec, enabled=True)
    om.start()
    i = 0
    while True:
        b = np.zeros((10, 120, 160, 3), np.uint8)
        for k in range(10):
            b[k] = (4 * (i + k)) % 256
        om.on_block(i // 10, b)
        i += 10
        time.sleep(0.2)
        if rec.frames_written >= 40:
            print("READY", rec.frames_written, flush=True)
    """
)


def test_sigkill_mid_recording_leaves_a_playable_file(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        written = int(line.split()[1])
        time.sleep(0.15)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    frames, rate, size = read_back(tmp_path / "killed.mp4")
    log.warning("killed after %d frames written: %d decodable", written, len(frames))
    assert len(frames) >= 20 and size == (160, 120) and rate == 50
    idx = [int(round(f.mean() / 4)) % 64 for f in frames]
    assert idx == [i % 64 for i in range(len(idx))]  # the start, in order, intact


def test_start_stop_recording_live_without_a_hiccup(tmp_path, collect_sink, until):
    om = OutputManager(fps=100.0, playout=PlayoutConfig(prebuffer=2, max_buffer=256))
    show = collect_sink()
    om.add_sink(show, enabled=True, queue_size=256, accept_repeats=False)
    rec = Recorder(tmp_path, stem="live", preset="ultrafast")
    om.add_sink(rec)
    calls = []
    with om:
        for b in range(12):
            if b == 3:
                om.enable("record")
            if b == 9:
                om.disable("record")
            frames = np.zeros((8, 240, 320, 3), np.uint8)
            frames[:] = (4 * np.arange(b * 8, b * 8 + 8) % 256).astype(np.uint8)[:, None, None, None]
            t0 = time.perf_counter()
            om.on_block(b, frames)
            calls.append(time.perf_counter() - t0)
            time.sleep(0.08)
        assert until(lambda: len(show.frames) == 96, 5)
    assert show.frames == [4 * i % 256 for i in range(96)]  # the show never lost a frame
    assert float(np.median(calls)) < 0.001 and max(calls) < 0.025  # worst: a GIL hand-over
    frames, rate, size = read_back(tmp_path / "live.mp4")
    assert len(frames) == rec.frames_written > 20 and rate == 100
    idx = [int(round(f.mean() / 4)) % 64 for f in frames]
    assert idx == [(idx[0] + k) % 64 for k in range(len(idx))]  # contiguous: nothing dropped inside
    assert 16 <= idx[0] <= 32  # recording started around block 3
