"""Playout pacing with a fake clock: steady fps from bursts, underruns, overruns, late wake-ups."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from sfe_live.outputs.playout import LatestFrame, Playout, PlayoutConfig, PlayoutThread, PlayState

FPS = 16.0
P = 1 / FPS


def tagged(start: int, n: int) -> np.ndarray:
    """n tiny frames whose first pixel holds their global index (mod 65536 across two bytes)."""
    f = np.zeros((n, 2, 2, 3), np.uint8)
    for k in range(n):
        i = start + k
        f[k, 0, 0, 0], f[k, 0, 0, 1] = i % 256, i // 256
    return f


def index(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) + 256 * int(frame[0, 0, 1])


def simulate(pl: Playout, arrivals: list[tuple[float, int]], until: float, dt: float = 0.001):
    """Step a fake clock by dt; push blocks at their arrival times; collect the ticks."""
    ticks, nxt, total = [], 0, 0
    steps = int(until / dt)
    for s in range(steps + 1):
        now = s * dt
        while nxt < len(arrivals) and arrivals[nxt][0] <= now:
            n = arrivals[nxt][1]
            pl.push(tagged(total, n), now)
            total += n
            nxt += 1
        ticks.extend(pl.advance(now))
    return ticks, total


def wan_arrivals(blocks: int, jitter: float, seed: int = 0) -> list[tuple[float, int]]:
    """Wan's pattern: 9 frames, then 12 per block, on average exactly 16 fps, with jitter."""
    rng = random.Random(seed)
    out, t = [], 0.3
    for b in range(blocks):
        n = 9 if b == 0 else 12
        out.append((max(0.0, t + rng.uniform(-jitter, jitter)), n))
        t += n / FPS
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_steady_16fps_from_bursts_of_9_and_12(seed):
    pl = Playout(PlayoutConfig(fps=FPS, prebuffer=4, max_buffer=48))
    arrivals = wan_arrivals(blocks=20, jitter=0.08, seed=seed)
    ticks, total = simulate(pl, arrivals, until=arrivals[-1][0] + 0.2)
    st = pl.status()
    # the output clock is exact: one tick every 1/16 s, never two at once, never a gap
    gaps = np.diff([t.t for t in ticks])
    assert np.allclose(gaps, P, atol=1e-9)
    # every generated frame is shown once and in order (repeats aside)
    shown = [index(t.frame) for t in ticks if not t.repeated]
    assert shown == list(range(len(shown)))
    assert len(shown) >= total - st.depth - 1
    # the jitter buffer adapts once (a short hold when a block is later than any before), then holds
    episodes = sum(1 for a, b in zip([None, *ticks], ticks) if b.repeated and (a is None or not a.repeated))
    assert st.underruns == episodes <= 1
    assert st.repeats <= 8 and st.overrun_frames == 0
    assert st.state is PlayState.PLAYING
    assert abs(st.displayed_fps - FPS) < 0.5


def test_underrun_holds_last_frame_at_fixed_fps_then_resumes():
    pl = Playout(PlayoutConfig(fps=FPS, prebuffer=4))
    arrivals = [(0.0, 12), (0.75, 12), (2.75, 12)]  # the engine stalls for ~1.25 s after block 2
    ticks, _ = simulate(pl, arrivals, until=3.7)
    st = pl.status()
    assert st.underruns == 1
    held = [t for t in ticks if t.repeated]
    # every tick of the gap held a frame, then rebuffer_hold more once block 3 was there
    assert len(held) == st.repeats == round((2.75 - 1.5) * FPS) + 4
    assert all(index(t.frame) == 23 for t in held)  # ... the last one shown
    assert np.allclose(np.diff([t.t for t in ticks]), P, atol=1e-9)  # the output never stopped
    assert [index(t.frame) for t in ticks if not t.repeated] == list(range(36))
    assert st.state is PlayState.PLAYING


def test_overrun_drops_oldest_and_counts():
    pl = Playout(PlayoutConfig(fps=FPS, prebuffer=4, max_buffer=36))
    pl.push(tagged(0, 100), 0.0)
    st = pl.status()
    assert st.overrun_frames == 64 and st.depth == 36
    ticks = pl.advance(0.0)
    assert [index(t.frame) for t in ticks] == [64]  # the oldest kept frame is next


def test_late_thread_catches_up_a_little_then_reanchors():
    pl = Playout(PlayoutConfig(fps=FPS, prebuffer=1, max_buffer=100, max_catchup=2))
    pl.push(tagged(0, 60), 0.0)
    assert len(pl.advance(0.0)) == 1
    assert len(pl.advance(2 * P + 1e-6)) == 2  # two ticks late: both emitted
    burst = pl.advance(2 * P + 1.0)  # a one-second stall: no burst of 16 frames
    assert len(burst) <= 3
    assert pl.status().late_resyncs == 1


def test_nothing_before_prebuffer_and_no_ticks_without_frames():
    pl = Playout(PlayoutConfig(fps=FPS, prebuffer=4))
    assert pl.advance(1.0) == [] and pl.next_due() is None
    pl.push(tagged(0, 3), 1.0)
    assert pl.advance(2.0) == [] and pl.status().state is PlayState.BUFFERING
    pl.push(tagged(3, 1), 2.0)
    assert [index(t.frame) for t in pl.advance(2.0)] == [0]


def test_thread_paces_with_the_real_clock():
    got: list[float] = []
    slot = LatestFrame()

    def on_tick(t):
        got.append(time.monotonic())
        slot.set(t.frame, t.seq)

    th = PlayoutThread(on_tick, PlayoutConfig(fps=50.0, prebuffer=2, max_buffer=64))
    th.start()
    try:
        th.push(tagged(0, 25))
        time.sleep(0.6)
    finally:
        th.stop()
    st = th.status()
    assert 24 <= len([1 for _ in got]) <= 32  # 25 frames then holds of the last
    span = got[24] - got[0]
    assert abs(span - 24 / 50.0) < 0.06
    frame, seq = slot.get()
    assert frame is not None and seq == st.emitted


def test_a_paused_producer_is_not_a_glitch():
    """Paused, the last frame stays on screen at the fixed rate, and neither underruns nor repeats
    count (they used to keep climbing while the show was paused on purpose)."""
    p = Playout(PlayoutConfig(fps=16.0, prebuffer=2))
    dt = 1 / 16
    p.push(np.zeros((4, 2, 2, 3), np.uint8), 0.0)
    t, ticks = 0.0, []
    for _ in range(4):
        ticks += p.advance(t)
        t += dt
    p.hold(True)
    for _ in range(40):
        ticks += p.advance(t)
        t += dt
    st = p.status()
    assert st.underruns == 0 and st.repeats == 0 and len(ticks) == 44
    p.hold(False)
    p.push(np.ones((4, 2, 2, 3), np.uint8), t)
    for _ in range(8):
        ticks += p.advance(t)
        t += dt
    assert p.status().underruns == 0 and ticks[-1].frame.max() == 1


def test_freeze_shows_one_frame_and_keeps_consuming():
    """Frozen, every tick shows the frame of the moment while the buffer drains at the fixed rate
    (so the engine's back-pressure keeps it at real time instead of racing ahead)."""
    p = Playout(PlayoutConfig(fps=16.0, prebuffer=1))
    dt, t, ticks = 1 / 16, 0.0, []
    p.push(np.full((2, 2, 2, 3), 7, np.uint8), 0.0)
    ticks += p.advance(t)
    p.freeze(True)
    for i in range(8):
        p.push(np.full((1, 2, 2, 3), 100 + i, np.uint8), t)
        t += dt
        ticks += p.advance(t)
    assert {int(k.frame[0, 0, 0]) for k in ticks} == {7}
    assert p.status().depth <= 1 and p.status().underruns == 0     # consumed, not piled up
    p.freeze(False)
    p.push(np.full((1, 2, 2, 3), 200, np.uint8), t)
    t += dt
    assert int(p.advance(t)[-1].frame[0, 0, 0]) >= 100


# -- pacing a slower engine ---------------------------------------------------------------------

def steady_arrivals(fps: float, block: int, seconds: float, jitter: float, seed: int = 0,
                    start: float = 0.2) -> list[tuple[float, int]]:
    """Blocks of ``block`` frames at ``fps`` frames a second on average, each arrival jittered."""
    rng = random.Random(seed)
    out, t = [], start
    while t < start + seconds:
        out.append((max(0.0, t + rng.uniform(-jitter, jitter)), block))
        t += block / fps
    return out


@pytest.mark.parametrize("engine_fps,block,seed", [(12.0, 3, 0), (12.0, 3, 1), (9.5, 3, 2), (10.0, 12, 0)])
def test_a_slower_engine_is_spread_evenly_instead_of_freezing(engine_fps, block, seed):
    """An engine at 12 fps used to run the 16 fps buffer dry every second or two: a freeze of
    prebuffer + rebuffer_hold ticks, then a burst. Paced, every frame is shown once, in order, the
    ticks stay on the grid, and no frame stays on screen much longer than 16 / engine fps ticks."""
    arrivals = steady_arrivals(engine_fps, block, 40.0, jitter=0.04, seed=seed)
    until = arrivals[-1][0]
    plain, _ = simulate(Playout(PlayoutConfig(fps=FPS, pace=False)), arrivals, until=until)
    pl = Playout(PlayoutConfig(fps=FPS))
    ticks, total = simulate(pl, arrivals, until=until)
    st = pl.status()
    assert np.allclose(np.diff([t.t for t in ticks]), P, atol=1e-9)
    shown = [index(t.frame) for t in ticks if not t.repeated]
    assert shown == list(range(len(shown))) and len(shown) >= total - st.depth - 1

    def stills(ts):   # runs of ticks on one frame, after the first 4 s (the measurement's warm-up)
        runs, n = [], 0
        for t in ts:
            if t.t < 4.0:
                continue
            n = n + 1 if t.repeated else 1
            runs.append(n)
        return max(runs)

    even = FPS / engine_fps
    assert stills(ticks) <= int(even) + 2                       # 12 fps: never more than 3 ticks
    assert stills(plain) >= 8                                   # ... where the plain buffer froze
    # (an underrun after the warm-up would show as a still of prebuffer + rebuffer_hold = 8 ticks)
    assert st.underruns <= 3 and st.overrun_frames == 0         # the first blocks, before a rate is known
    assert abs(st.content_fps - engine_fps) < 0.12 * engine_fps
    assert st.depth <= max(4, 2 * block) + block                # the latency stays bounded
    assert st.paced_repeats >= 0.8 * len(ticks) * (1 - engine_fps / FPS)


def test_an_engine_that_catches_up_is_played_at_full_rate_again():
    """Pacing follows the engine: 10 fps for 20 s, then 16 fps; the last 10 s take every tick."""
    slow = steady_arrivals(10.0, 3, 20.0, jitter=0.02)
    fast = steady_arrivals(16.0, 3, 20.0, jitter=0.02, start=slow[-1][0] + 3 / 16)
    pl = Playout(PlayoutConfig(fps=FPS))
    ticks, _ = simulate(pl, slow + fast, until=fast[-1][0])
    late = [t for t in ticks if t.t > fast[-1][0] - 10.0]
    assert sum(t.repeated for t in late) <= 2
    st = pl.status()
    assert st.content_fps == FPS and st.overrun_frames == 0 and st.depth <= 12


def test_pacing_forgets_a_pause():
    """A paused show measures nothing: after the pause the engine's frames play at full rate."""
    pl = Playout(PlayoutConfig(fps=FPS))
    arrivals = steady_arrivals(16.0, 3, 3.0, jitter=0.0)
    ticks, total = simulate(pl, arrivals, until=arrivals[-1][0])
    t = arrivals[-1][0]
    pl.hold(True)
    for _ in range(80):
        t += P
        ticks += pl.advance(t)
    pl.hold(False)
    for k in range(24):   # back at 16 fps
        pl.push(tagged(total + 3 * k, 3), t)
        for _ in range(3):
            t += P
            ticks += pl.advance(t)
    assert pl.pace_ratio() == 1.0
    assert pl.status().paced_repeats == 0


def test_pacing_off_is_the_plain_jitter_buffer():
    arrivals = steady_arrivals(12.0, 3, 10.0, jitter=0.0)
    pl = Playout(PlayoutConfig(fps=FPS, pace=False))
    simulate(pl, arrivals, until=arrivals[-1][0])
    st = pl.status()
    assert st.paced_repeats == 0 and st.underruns >= 3 and st.content_fps == FPS
