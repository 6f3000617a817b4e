"""A cue list with ``advance_beats`` switches on the same block (and frame) live as in an offline render.

The live show runs in real time (the runner paced by the playout, ~0.75 s of video ahead of the
screen): before the fix the cue player fired on the wall clock and the switch reached the screen about
one look-ahead after its beat, a block or two later than the render put it.
"""

import json
import time

from sfe_live.cli import main

STREAM = ["--model", "tiny-random", "--size", "32x32", "--frames-per-block", "2", "--seed", "9"]
BLOCKS = 7


def cue_file(path):
    # 120 BPM: 2 beats = 1 s = 16 frames. Blocks of 2 latent frames bring 5, then 8 pixel frames, so
    # blocks start at frames 0, 5, 13, 21, 29, 37, 45: the cues land on blocks 3 (21 >= 16) and 5 (37 >= 32).
    path.write_text('name = "beats"\n'
                    '[[cue]]\nprompt = "a red ball"\nadvance_beats = 2\n\n'
                    '[[cue]]\nprompt = "a blue square"\ntransition = "purge"\nadvance_beats = 2\n\n'
                    '[[cue]]\nprompt = "a green circle"\n')
    return path


def switches(log):
    entries = [json.loads(x) for x in log.read_text().splitlines()[1:]]
    return [(e["block"], e["args"]["text"]) for e in entries if e["command"] == "SetPrompt"]


def test_advance_beats_switch_on_the_same_block_live_as_rendered(tmp_path, monkeypatch):
    from sfe_live.app import App, AppSettings
    monkeypatch.setenv("SFE_LIVE_CONFIG_DIR", str(tmp_path / "cfg"))
    cues = cue_file(tmp_path / "c.toml")
    rendered = tmp_path / "render.jsonl"
    assert main(["render", *STREAM, "--cues", str(cues), "--bpm", "120", "--blocks", str(BLOCKS),
                 "--log", str(rendered)]) == 0
    want = [(0, "a red ball"), (3, "a blue square"), (5, "a green circle")]
    assert switches(rendered) == want

    live = tmp_path / "live.jsonl"
    app = App(AppSettings(model="tiny-random", prompt="a red ball", seed=9, width=32, height=32, frames_per_block=2,
                          realtime=True, osc=False, controls={"bpm": 120.0, "midi_enabled": False}, log=str(live))).load()
    frames = []
    app.runner.add_listener(lambda b: frames.append(b.frames.shape[0]))
    for cue in app.hub.cues.load_file(cues).cues:
        app.runner.prompts.embed(cue.prompt)  # the prefetch a list gets at load, done before the show starts
    app.trigger("cue.go", 1)                 # pressed before the show starts: lands on block 0
    app.start()
    try:
        deadline = time.monotonic() + 60
        while len(frames) < BLOCKS and time.monotonic() < deadline:
            time.sleep(0.02)
        status = app.outputs.status().playout
    finally:
        app.stop()
    assert status.underruns == 0, "the tiny model fell behind real time (a loaded machine?)"
    got = [s for s in switches(live) if s[0] < BLOCKS]
    assert got == want, got
    starts = [sum(frames[:b]) for b, _ in got]
    assert starts == [0, 21, 37]             # the frame on which each cue's block starts, as rendered
