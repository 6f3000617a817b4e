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
    time.sleep(0.5)
    n_paused = len(seen)
    time.sleep(1.0)
    status = runner.status()
    runner.stop()
    assert seen[:4] == [0, 1, 2, 3]
    purge = [e for e in engine.log if e.command == "Purge"][0]
    assert purge.block == 2 and purge.step == 0                   # submitted during block 1 -> block 2
    assert status.paused and len(seen) <= n_paused + 1
    assert status.model == "tiny-random" and status.block >= 4 and status.purges == 1
    assert status["prompt"] == "a red ball"


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
