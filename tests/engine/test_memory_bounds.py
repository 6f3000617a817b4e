"""Issue 11 item 11: what a long show keeps in memory is bounded (2,000 x 60 KB prompts held 118 MB)."""

import json
import logging

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine, read_log
from sfe_live.engine.runner import MAX_PROMPT_CHARS, Runner


def test_long_prompts_and_the_command_log_are_bounded(tiny_bundle, tmp_path, caplog):
    path = tmp_path / "show.jsonl"
    engine = Engine(tiny_bundle, StreamConfig(height=32, width=32, frames_per_block=1), prompt="start",
                    log_limit=300, log_path=path)
    runner = Runner(engine, realtime=False)
    with caplog.at_level(logging.WARNING):
        for i in range(2000):
            runner.submit(C.SetPrompt(f"{i:04d} " + "x" * 60_000))
            if i % 100 == 99:
                runner._apply_pending()               # a block edge every 100 prompts
    runner._apply_pending()
    held = sum(len(e.to_json()) for e in engine.log)
    assert len(engine.log) == 300 and held < 300 * (MAX_PROMPT_CHARS + 200)
    assert len([r for r in caplog.records if "characters" in r.getMessage()]) == 1   # one warning
    assert engine.state.cond.prompt.startswith("1999 ") and len(engine.state.cond.prompt) == MAX_PROMPT_CHARS
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 2000                                                    # the file is complete
    assert json.loads(lines[1])["args"]["text"].startswith("0000 ")
    header, timeline = read_log(path)
    assert header["prompt"] == "start" and sum(len(v) for v in timeline.values()) == 20
    engine.close_log()
