"""SinkRunner: bounded queue, own-frame drops, failure state and re-enable, stalls, clocked repeats."""

from __future__ import annotations

import threading
import time

import numpy as np

from sfe_live.availability import Availability
from sfe_live.outputs import SinkError, SinkRunner, SinkState


def frame(v: int = 0, w: int = 8, h: int = 4) -> np.ndarray:
    return np.full((h, w, 3), v, np.uint8)


class RaisingSink:
    name = "raising"

    def __init__(self, fail_at: int = 3, open_error: Exception | None = None) -> None:
        self.fail_at, self.open_error, self.sent, self.closed = fail_at, open_error, 0, 0

    def is_available(self):
        return Availability(True)

    def open(self, w, h, fps):
        if self.open_error:
            raise self.open_error

    def send(self, f):
        self.sent += 1
        if self.sent >= self.fail_at:
            raise ValueError("boom")

    def close(self):
        self.closed += 1


class BlockingSink:
    name = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def is_available(self):
        return Availability(True)

    def open(self, w, h, fps):
        pass

    def send(self, f):
        self.entered.set()
        self.release.wait(10)

    def close(self):
        pass


def test_delivers_in_order_and_closes(collect_sink, until):
    sink = collect_sink()
    r = SinkRunner(sink, queue_size=64)
    r.enable(8, 4, 16.0)
    for i in range(50):
        r.offer(frame(i))
    assert until(lambda: len(sink.frames) == 50)
    r.disable()
    assert sink.frames == list(range(50)) and sink.opened == (8, 4, 16.0) and sink.closed == 1
    st = r.status()
    assert st.state is SinkState.OFF and st.sent == 50 and st.dropped == 0 and st.offered == 50


def test_raising_sink_fails_with_message_and_can_be_re_enabled(until):
    sink = RaisingSink(fail_at=3)
    r = SinkRunner(sink)
    r.enable(8, 4, 16.0)
    for i in range(3):
        r.offer(frame(i))
    assert until(lambda: r.status().state is SinkState.FAILED)
    st = r.status()
    assert st.error == "ValueError: boom" and st.sent == 2 and sink.closed == 1
    r.offer(frame())  # ignored while failed, never raises into the producer
    sink.fail_at = 10**9
    r.enable(8, 4, 16.0)
    assert r.status().error == ""
    r.offer(frame(7))
    assert until(lambda: r.status().sent == 3)
    assert r.status().state is SinkState.RUNNING
    r.disable()


def test_open_error_and_unavailable_are_reported_as_is(until):
    r = SinkRunner(RaisingSink(open_error=SinkError("plug the projector in")))
    r.enable(8, 4, 16.0)
    assert until(lambda: r.status().state is SinkState.FAILED)
    assert r.status().error == "plug the projector in"

    class Unavailable(RaisingSink):
        def is_available(self):
            return Availability(False, "install the thing")

    r2 = SinkRunner(Unavailable())
    r2.enable(8, 4, 16.0)
    assert until(lambda: r2.status().state is SinkState.FAILED)
    assert r2.status().error == "install the thing"


def test_blocking_sink_drops_only_its_own_frames_and_stops_in_bounded_time(until):
    sink = BlockingSink()
    r = SinkRunner(sink, queue_size=2, stall_after_s=0.1, join_timeout_s=0.2)
    r.enable(8, 4, 16.0)
    r.offer(frame(0))
    assert sink.entered.wait(2)
    t0 = time.perf_counter()
    for i in range(1, 11):
        r.offer(frame(i))
    offer_s = time.perf_counter() - t0
    assert offer_s < 0.05  # offering never waits on the sink
    st = r.status()
    assert st.dropped == 8 and st.queue_depth == 2  # 10 offered while blocked, 2 kept
    assert until(lambda: r.status().state is SinkState.STALLED, 1.0)
    t0 = time.perf_counter()
    r.disable()
    assert time.perf_counter() - t0 < 0.6
    sink.release.set()


def test_clocked_mode_repeats_last_frame_to_hold_fps(collect_sink, until):
    sink = collect_sink()
    r = SinkRunner(sink, clock_fps=50.0)
    r.enable(8, 4, 16.0)
    r.offer(frame(9))
    time.sleep(0.4)
    r.disable()
    st = r.status()
    assert sink.opened == (8, 4, 50.0)
    assert 15 <= st.sent <= 23 and st.repeated == st.sent - 1
    assert set(sink.frames) == {9}
    gaps = np.diff(sink.times)
    assert abs(float(np.median(gaps)) - 0.02) < 0.005


def test_runner_scales_to_the_sink_size(collect_sink, until):
    sink = collect_sink(keep="frame")
    r = SinkRunner(sink, size=(64, 36), mode="fit")
    r.enable(32, 32, 16.0)
    r.offer(np.full((32, 32, 3), 200, np.uint8))
    assert until(lambda: len(sink.frames) == 1)
    r.disable()
    out = sink.frames[0]
    assert sink.opened == (64, 36, 16.0) and out.shape == (36, 64, 3)
    assert (out[:, :14] == 0).all() and (out[:, 50:] == 0).all() and (out[:, 16:48] == 200).all()


def test_repeats_skipped_when_not_accepted(collect_sink, until):
    sink = collect_sink()
    r = SinkRunner(sink, accept_repeats=False)
    r.enable(8, 4, 16.0)
    r.offer(frame(1))
    r.offer(frame(1), repeated=True)
    r.offer(frame(2))
    assert until(lambda: len(sink.frames) == 2)
    r.disable()
    assert sink.frames == [1, 2]
