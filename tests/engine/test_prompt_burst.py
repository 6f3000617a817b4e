"""Issue 11 item 3 (and issue 16 item 4): prompts are encoded off the engine thread.

A burst of 1,000 prompts used to be text-encoded one by one on the engine thread before the next
block (17 s frozen). Now only the prompt that goes on air is encoded, on the prompt worker; the
log keeps every prompt that arrived, in order; a slow encoding shows in the status while blocks
keep coming; a cue list's prompts are encoded in the background at load.
"""

import dataclasses
import threading
import time

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.engine import SUPERSEDED, Engine
from sfe_live.engine.runner import Runner


class SlowText:
    """The bundle's text encoder, slowed down, remembering which thread asked for what."""

    def __init__(self, inner, delay_s):
        self.inner, self.delay_s, self.config = inner, delay_s, inner.config
        self.calls = []
        self.release = threading.Event()          # "slow" prompts finish only when the test says so

    def get(self, prompt):
        self.calls.append((threading.current_thread().name, prompt))
        time.sleep(self.delay_s)
        if "slow" in prompt:
            assert self.release.wait(120)
        return self.inner.get(prompt)


def _runner(bundle, delay_s):
    text = SlowText(bundle.text, delay_s)
    engine = Engine(dataclasses.replace(bundle, text=text), StreamConfig(height=32, width=32, frames_per_block=1),
                    prompt="start")
    text.calls.clear()
    runner = Runner(engine, realtime=True, lookahead_s=1e9)     # no pacing wait: blocks as fast as they come
    return engine, runner, text


def _wait(cond, timeout=120.0):
    deadline = time.time() + timeout
    while not cond() and time.time() < deadline:
        time.sleep(0.01)
    assert cond()


def test_burst_encodes_only_what_goes_on_air(tiny_bundle):
    engine, runner, text = _runner(tiny_bundle, delay_s=0.05)
    runner.start()
    try:
        _wait(lambda: runner.blocks_done >= 1)
        prompts = [f"burst prompt {i}" for i in range(200)]
        for p in prompts:
            runner.submit(C.SetPrompt(p))
        runner.submit(C.Purge(2))                      # a discrete command after the burst keeps its place
        _wait(lambda: runner.status().prompt == prompts[-1] and runner.status().purges == 1)
    finally:
        runner.stop()
    assert all(name != "sfe-engine" for name, _ in text.calls)           # never on the engine thread
    assert len(text.calls) <= 3                                          # not 200 x 50 ms
    logged = [(e.command, e.args["text"]) for e in engine.log if "text" in e.args]
    assert [t for _, t in logged] == prompts                             # every arrival, in order
    assert [c for c, _ in logged] == [SUPERSEDED] * 199 + ["SetPrompt"]
    names = [e.command for e in engine.log]
    assert names.index("Purge") > names.index("SetPrompt")               # FIFO behind the prompt
    assert runner.status().prompts_superseded == 199


def test_slow_prompt_waits_without_stalling_generation(tiny_bundle):
    engine, runner, text = _runner(tiny_bundle, delay_s=0.0)
    runner.start()
    try:
        _wait(lambda: runner.blocks_done >= 1)
        runner.submit(C.SetPrompt("a slow prompt"))
        _wait(lambda: runner.status().prompt_pending == "a slow prompt")
        t0 = time.perf_counter()
        before = runner.blocks_done
        _wait(lambda: runner.blocks_done >= before + 2)                  # blocks keep coming meanwhile
        st = runner.status()
        assert st.prompt == "start" and st.prompt_pending == "a slow prompt" and st.encoding_ms > 0
        waited = time.perf_counter() - t0
        text.release.set()
        _wait(lambda: runner.status().prompt == "a slow prompt")
        st = runner.status()
        assert st.prompt_pending == "" and st.encoding_ms >= 1000 * waited
    finally:
        text.release.set()
        runner.stop()


def test_cue_prompts_are_prefetched(tiny_bundle):
    engine, runner, text = _runner(tiny_bundle, delay_s=0.01)
    runner.start()
    try:
        cues = [f"cue {i}" for i in range(5)]
        assert runner.prefetch(cues) == 5
        _wait(lambda: all(runner.prompts.ready(c) for c in cues))
        n = len(text.calls)
        runner.submit(C.SetPrompt("cue 3"))
        _wait(lambda: runner.status().prompt == "cue 3")
        assert len(text.calls) == n                                      # GO did not encode anything
    finally:
        runner.stop()
    assert sorted(p for _, p in text.calls) == cues
