"""Issue 11 item 2: continuous input never changes the engine's pacing.

A 30 Hz fader (``SetMemory``) used to wake the real-time wait and skip it, so the engine raced
ahead and the playout dropped the surplus (722 of 1,095 frames in 20 s). Both pacing paths are
checked with a frozen clock (the wall clock of the runner, or a playout that consumes nothing):
the engine may only fill its look-ahead, then must wait, so the number of blocks is exact and the
same with and without a fader, whatever the machine's load.
"""

import threading
import time

import pytest

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.runner import Runner

SPAN_S = 1.0


def _blocks(bundle, fader: bool, playout: bool) -> tuple[int, float]:
    engine = Engine(bundle, StreamConfig(height=32, width=32, frames_per_block=1, fps=8), prompt="a red ball")
    frames = {"n": 0}
    ahead = (lambda: frames["n"] / 8) if playout else None        # a playout whose clock stands still
    runner = Runner(engine, realtime=True, lookahead_s=0.3, ahead=ahead, clock=lambda: 0.0)
    runner.add_listener(lambda b: frames.__setitem__("n", frames["n"] + b.frames.shape[0]))
    stop = threading.Event()
    sent = {"n": 0}

    def move_fader() -> None:
        while not stop.is_set():
            runner.submit(C.SetMemory((sent["n"] % 30) / 30))
            sent["n"] += 1
            stop.wait(1 / 30)

    t = threading.Thread(target=move_fader) if fader else None
    t0 = time.time()
    runner.start()
    if t:
        t.start()
    deadline = time.time() + 60
    while runner.blocks_done < 2 and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(max(SPAN_S, time.time() - t0))   # a racing engine makes >= 2 more blocks in this time
    while fader and runner.status().memory == 1.0 and time.time() < deadline:
        time.sleep(0.05)                       # the fader's values do arrive (applied while waiting)
    stop.set()
    if t:
        t.join()
    n, memory = runner.blocks_done, runner.status().memory
    runner.stop()
    return n, memory


@pytest.mark.parametrize("playout", [False, True], ids=["wall-clock", "playout"])
def test_fader_does_not_change_pacing(tiny_bundle, playout):
    # 1 frame, then 4 frames per block at 8 fps: 0.125 s, then 0.625 s > 0.3 s of look-ahead, so exactly
    # 2 blocks and a wait (without a fader too, by construction); the old runner made a block per wake-up
    moving, memory = _blocks(tiny_bundle, fader=True, playout=playout)
    assert moving == 2
    assert memory != 1.0                      # the fader's values arrived while the engine waited
