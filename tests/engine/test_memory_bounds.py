"""Issue 11 item 11: what a long show keeps in memory is bounded (2,000 x 60 KB prompts held 118 MB)."""

import logging

import pytest

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.runner import MAX_PROMPT_CHARS, Runner


def test_long_prompts_and_the_command_log_are_bounded(tiny_bundle, tmp_path, caplog):
    engine = Engine(tiny_bundle, StreamConfig(height=32, width=32, frames_per_block=1), prompt="start",
                    log_limit=300)
    runner = Runner(engine, realtime=False)
    with caplog.at_level(logging.WARNING):
        for i in range(2000):
            runner.submit(C.SetPrompt(f"{i:04d} " + "x" * 60_000))
            if i % 100 == 99:
                runner._apply_pending()               # a block edge every 100 prompts
    runner._apply_pending()
    held = sum(len(e.to_json()) for e in engine.log)
    assert len(engine.log) <= 2 * 300 and engine.log_dropped > 0 and held < 600 * (MAX_PROMPT_CHARS + 200)
    assert len([r for r in caplog.records if "characters" in r.getMessage()]) == 1   # one warning
    assert engine.state.cond.prompt.startswith("1999 ") and len(engine.state.cond.prompt) == MAX_PROMPT_CHARS
    with pytest.raises(ValueError, match="trimmed"):     # a trimmed log is never written as if complete
        engine.write_log(tmp_path / "show.jsonl")


def test_without_a_limit_every_entry_is_kept(tiny_bundle):
    engine = Engine(tiny_bundle, StreamConfig(height=32, width=32, frames_per_block=1), prompt="start")
    for i in range(700):
        engine.apply(C.SetMemory(i / 700))
    assert len(engine.log) == 700 and engine.log_dropped == 0
