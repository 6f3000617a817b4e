"""Tempo: tap, quantised boundaries with look-ahead, MIDI clock, the scheduler, Link absence."""

from __future__ import annotations

import threading
import time

import pytest

from sfe_live.controls.tempo import LinkClock, Scheduler, TempoClock


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_tap_tempo_and_reset():
    c = FakeClock()
    tc = TempoClock(clock=c)
    assert tc.tap() is None
    for _ in range(4):
        c.t += 0.5
        tc.tap()
    assert tc.bpm == pytest.approx(120.0) and tc.source == "tap"
    c.t += 5.0  # a long pause starts over
    assert tc.tap() is None
    c.t += 0.4
    assert tc.tap() == pytest.approx(150.0)


def test_next_boundary_beat_bar_lookahead():
    c = FakeClock()
    tc = TempoClock(bpm=120, clock=c)
    tc.sync()                       # beat 0 at t = 100
    c.t = 100.1
    assert tc.next_boundary("beat") == pytest.approx(100.5)
    assert tc.next_boundary("bar") == pytest.approx(102.0)
    assert tc.next_boundary("bar", lookahead=0.25) == pytest.approx(101.75)
    c.t = 101.9                     # too late to act 0.25 s before beat 4: the next bar
    assert tc.next_boundary("bar", lookahead=0.25) == pytest.approx(103.75)
    assert tc.next_boundary("none") == pytest.approx(101.9)


def test_set_bpm_keeps_beat_position():
    c = FakeClock()
    tc = TempoClock(bpm=120, clock=c)
    c.t += 1.25
    b = tc.beat_at()
    tc.set_bpm(90)
    assert tc.beat_at() == pytest.approx(b)


@pytest.mark.parametrize("bpm", [90.0, 120.0, 128.0, 174.0])
def test_midi_clock_follows(bpm):
    c = FakeClock()
    tc = TempoClock(clock=c)
    tc.midi_start()
    dt = 60.0 / bpm / 24
    for i in range(96):
        c.t += dt * (1 + (0.02 if i % 2 else -0.02))  # jitter
        tc.midi_tick()
    assert tc.bpm == pytest.approx(bpm, rel=0.005) and tc.source == "midi"
    assert tc.status()["midi_clock"] == "running"
    assert tc.beat_at() == pytest.approx(4.0, abs=0.1)  # 96 ticks = 4 beats after start (first tick = 0)
    c.t += 1.0
    assert tc.status()["midi_clock"] == "waiting"


def test_scheduler_runs_in_order_and_cancels():
    s = Scheduler()
    got = []
    done = threading.Event()
    now = time.monotonic()
    s.call_at(now + 0.06, lambda: got.append("b"))
    j = s.call_at(now + 0.03, lambda: got.append("x"))
    s.call_at(now + 0.02, lambda: got.append("a"))
    s.call_at(now + 0.09, done.set)
    s.cancel(j)
    assert done.wait(2)
    s.stop()
    assert got == ["a", "b"]


def test_scheduler_survives_failing_job():
    s = Scheduler()
    ev = threading.Event()
    s.call_at(0, lambda: 1 / 0)
    s.call_at(0, ev.set)
    assert ev.wait(2)
    s.stop()


def test_link_absent_or_disabled_is_harmless(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "aalink", None)  # as if the optional extra were not installed
    lc = LinkClock(TempoClock())
    assert not lc.available and "sfe-live[link]" in (lc.error or "")
    assert lc.enable() is False
    lc.poll()
    assert lc.peers() == 0


def test_link_two_real_peers_agree_on_tempo_phase_and_transport():
    """Two aalink peers in this process find each other on the local network (as two programs on
    one machine do), then agree on tempo and beat phase; a tempo set on one reaches the other."""
    pytest.importorskip("aalink")
    import time

    from .conftest import wait_for as until

    a_clock, b_clock = TempoClock(bpm=120), TempoClock(bpm=90)
    a, b = LinkClock(a_clock), LinkClock(b_clock)
    try:
        assert a.enable() and b.enable()
        assert until(lambda: a.peers() >= 1 and b.peers() >= 1, 15), "the peers did not find each other"
        a.push_tempo(133.0)

        def agreed() -> bool:
            a.poll()
            b.poll()
            return abs(a_clock.bpm - 133.0) < 0.01 and abs(b_clock.bpm - 133.0) < 0.01

        assert until(agreed, 10), (a_clock.bpm, b_clock.bpm)
        diffs = []
        for _ in range(20):
            a.poll()
            b.poll()
            t = time.monotonic()
            d = (a_clock.beat_at(t) - b_clock.beat_at(t)) % 4.0
            diffs.append(min(d, 4.0 - d))
            time.sleep(0.01)
        assert max(diffs) < 0.02, diffs  # beats: 0.02 beat = 9 ms at 133 bpm
        assert a_clock.source == b_clock.source == "link"
        a._link.playing = True  # noqa: SLF001 - start the transport on one peer
        assert until(lambda: (b.poll(), b_clock.playing)[1] is True, 5)
    finally:
        a.disable()
        b.disable()
