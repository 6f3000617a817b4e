"""The worker thread: queue semantics, block-edge latency, listeners, pause, status."""

import dataclasses
import threading
import time

import pytest

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.runner import CommandQueue, Runner


def test_queue_fifo_and_coalesce():
    q = CommandQueue()
    for i in range(1000):
        q.put(C.SetMemory(i / 1000))
        q.put(C.Purge(i % 4))
    q.put(C.SetPrompt("a"))
    q.put(C.SetMemory(0.25))
    out = q.drain()
    purges = [c for c in out if isinstance(c, C.Purge)]
    assert [p.strength for p in purges] == [i % 4 for i in range(1000)]     # FIFO, none dropped
    mem = [c for c in out if isinstance(c, C.SetMemory)]
    assert mem == [C.SetMemory(0.25)]                                        # latest wins
    assert len(q) == 0
    q.put(C.SetReactivity(3))
    q.put(C.SetReactivity(1))
    q.put(C.Purge())
    assert q.drain() == [C.SetReactivity(1), C.Purge()]                      # arrival order kept


def test_queue_threads_never_drop():
    q = CommandQueue()
    def producer(k):
        for i in range(2000):
            q.put(C.SetSeed(k * 10000 + i))
    threads = [threading.Thread(target=producer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    got = []
    while any(t.is_alive() for t in threads) or len(q):
        got += q.drain()
    for t in threads:
        t.join()
    got += q.drain()
    assert len(got) == 8000
    for k in range(4):
        mine = [c.seed for c in got if c.seed // 10000 == k]
        assert mine == sorted(mine)


def test_runner_applies_at_next_block_and_survives_bad_listener(tiny_bundle):
    engine = Engine(tiny_bundle, StreamConfig(height=64, width=64), prompt="a red ball")
    runner = Runner(engine, realtime=False)
    seen = []
    submitted_during = {}

    def listener(block):
        seen.append(block.index)
        if block.index == 1:
            runner.submit(C.Purge(3))
            submitted_during["block"] = block.index

    def bad(block):
        raise RuntimeError("sink exploded")

    runner.add_listener(bad)
    runner.add_listener(listener)
    runner.start()
    deadline = time.time() + 120
    while len(seen) < 4 and time.time() < deadline:
        time.sleep(0.05)
    runner.submit(C.SetPaused(True))
    deadline = time.time() + 60                     # applied at the next block edge (seconds on a busy box)
    while not runner.status().paused and time.time() < deadline:
        time.sleep(0.05)
    n_paused = len(seen)
    time.sleep(1.0)
    status = runner.status()
    runner.stop()
    assert seen[:4] == [0, 1, 2, 3]
    purge = [e for e in engine.log if e.command == "Purge"][0]
    assert purge.block == 2 and purge.step == 0                   # submitted during block 1 -> block 2
    assert status.paused and len(seen) <= n_paused + 1
    assert status.model == "tiny-random" and status.block >= 4 and status.purges == 1
    assert status.prompt == "a red ball" and status.to_dict()["prompt"] == "a red ball"


def test_runner_reports_rejected_command(tiny_bundle):
    engine = Engine(tiny_bundle, StreamConfig(height=64, width=64))
    runner = Runner(engine, realtime=False)
    with pytest.raises(ValueError, match="denoising steps"):
        C.SetSteps((1000, 2000))                  # a bad value never gets as far as the queue

    @dataclasses.dataclass(frozen=True)
    class NotForTheEngine(C.Command):
        pass

    runner.submit(NotForTheEngine())
    runner.start()
    deadline = time.time() + 60
    while runner.blocks_done < 1 and time.time() < deadline:
        time.sleep(0.05)
    runner.stop()
    assert "NotForTheEngine" in runner.status().error and runner.blocks_done >= 1


def test_pause_zeroes_fps_and_tells_listeners(tiny_bundle):
    engine = Engine(tiny_bundle, StreamConfig(height=64, width=64), prompt="a red ball")
    runner = Runner(engine, realtime=False)
    told = []
    runner.add_pause_listener(told.append)
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while runner.status().fps == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert runner.status().fps > 0
        runner.submit(C.SetPaused(True))
        while not runner.status().paused and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.15)
        assert runner.status().fps == 0.0 and told == [True]
        runner.submit(C.SetPaused(False))
        while told != [True, False] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert told == [True, False]
    finally:
        runner.stop()


def test_error_clears_when_generation_recovers(tiny_bundle):
    """Issue 11 item 10: after the engine recovers, its status no longer shows the old error."""
    engine = Engine(tiny_bundle, StreamConfig(height=32, width=32, frames_per_block=1))
    real = engine.next_block
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real()

    engine.next_block = flaky
    runner = Runner(engine, realtime=False)
    seen = []
    runner.add_listener(lambda b: seen.append(runner.status().error))
    runner.start()
    deadline = time.time() + 120
    while runner.blocks_done < 3 and time.time() < deadline:
        time.sleep(0.05)
    runner.stop()
    assert calls["n"] >= 4 and runner.blocks_done >= 3
    assert runner.status().error == ""
