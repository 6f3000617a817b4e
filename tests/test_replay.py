"""A replay that replays: logs from render and from the live app (headless) re-render frame for
frame, length included, with a non-default window, frames per block, sink, steps, cues (a
keep-last purge) and video-to-video; malformed logs end in one line naming the file, exit 2."""

import json
import socket

import av
import numpy as np
import pytest

from sfe_live.cli import main

STREAM = ["--model", "tiny-random", "--frames-per-block", "2", "--kv-window", "7", "--sink-frames", "1",
          "--steps", "1000,600,300", "--seed", "9"]


def pngs(folder):
    out = []
    for p in sorted(folder.glob("frame-*.png")):
        with av.open(str(p)) as c:
            out.append(next(c.decode(video=0)).to_ndarray(format="rgb24"))
    return out


def cue_file(path, advance='advance_blocks = 2'):
    path.write_text('name = "t"\n[[cue]]\nprompt = "a red ball"\n' + advance + '\n\n'
                    '[[cue]]\nprompt = "a blue square"\ntransition = "purge"\nstrength = 2\npurge_mode = "keep-last"\n')
    return path


def test_render_log_replays_frame_identically(tmp_path, capsys, make_video):
    video = make_video(tmp_path / "in.mp4", n=40, colour=(200, 60, 30))
    log = tmp_path / "show.jsonl"
    assert main(["render", *STREAM, "--cues", str(cue_file(tmp_path / "c.toml")), "--blocks", "4",
                 "--v2v", str(video), "--v2v-amount", "0.7", "--frames-dir", str(tmp_path / "a"),
                 "--log", str(log)]) == 0
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    header = lines[0]
    assert header["blocks"] == 4 and header["stream"]["kv_window"] == 7 and header["stream"]["sink_frames"] == 1
    assert header["stream"]["denoising_steps"] == [1000, 600, 300] and header["model"]["hash"]
    purge = [x for x in lines[1:] if x["command"] == "SetPrompt" and x["args"]["transition"] == "purge"]
    assert purge and purge[0]["block"] == 2 and purge[0]["args"]["purge_mode"] == "keep-last"
    assert purge[0]["step"] == 1                                       # v2v enters at step 1 of 3; strength 2 -> 1
    assert any(x["command"] == "SetSource" for x in lines[1:])
    # the replay names nothing but the log: model, stream, cues, input and length come from it
    assert main(["render", "--replay", str(log), "--frames-dir", str(tmp_path / "b")]) == 0
    a, b = pngs(tmp_path / "a"), pngs(tmp_path / "b")
    assert len(a) == len(b) == 5 + 3 * 8
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # a different model file: one line naming both hashes
    bad = tmp_path / "other.jsonl"
    header["model"]["hash"] = "0123456789abcdef"
    bad.write_text("\n".join(json.dumps(x) for x in [header, *lines[1:]]) + "\n")
    capsys.readouterr()
    assert main(["render", "--replay", str(bad), "--blocks", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "0123456789abcdef" in err and lines[0]["model"]["hash"] in err


def test_cue_advance_beats_follows_the_beat(tmp_path):
    """advance_beats = 2 at 120 BPM is one second of video: 16 frames. Blocks of 2 latent frames
    give 5, then 8 pixel frames, so the cue fires before block 3 (13 frames < 16 <= 21)."""
    log = tmp_path / "beats.jsonl"
    assert main(["render", *STREAM, "--cues", str(cue_file(tmp_path / "c.toml", "advance_beats = 2")),
                 "--bpm", "120", "--blocks", "5", "--log", str(log)]) == 0
    entries = [json.loads(x) for x in log.read_text().splitlines()[1:]]
    assert [(e["block"], e["args"]["text"]) for e in entries if e["command"] == "SetPrompt"] == [
        (0, "a red ball"), (3, "a blue square")]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_app_log_replays_frame_identically(tmp_path, monkeypatch, make_video):
    """The headless app (real runner thread, cue player, v2v file source) writes a log on stop;
    render --replay gives the frames the show generated."""
    import time

    from sfe_live.app import App, AppSettings
    from sfe_live.sources import FileSource
    monkeypatch.setenv("SFE_LIVE_CONFIG_DIR", str(tmp_path / "cfg"))
    log = tmp_path / "live.jsonl"
    settings = AppSettings(model="tiny-random", prompt="a red ball", seed=9, frames_per_block=2, kv_window=7,
                           sink_frames=1, steps=(1000, 600, 300), realtime=False, osc_port=free_port(),
                           cues=str(cue_file(tmp_path / "c.toml")), log=str(log))
    app = App(settings).load()
    shown = []
    app.runner.add_listener(lambda b: shown.append(b.frames))
    app.set_v2v_source(FileSource(make_video(tmp_path / "in.mp4", n=40), stepped_fps=16), 0.7)
    app.start()
    app.trigger("cue.go", 2)
    deadline = time.time() + 120
    while len(shown) < 4 and time.time() < deadline:
        time.sleep(0.02)
    app.stop()
    header = json.loads(log.read_text().splitlines()[0])
    assert header["blocks"] == len(shown) >= 4
    assert main(["render", "--replay", str(log), "--frames-dir", str(tmp_path / "r")]) == 0
    replayed = pngs(tmp_path / "r")
    live = [f for block in shown for f in block]
    assert len(replayed) == len(live)
    assert all(np.array_equal(x, y) for x, y in zip(live, replayed))


def valid_header():
    return {"format": "sfe-live-log/2", "model": {"name": "tiny-random", "spec": "tiny-random", "hash": "x"},
            "dtype": "float32", "prompt": "a", "seed": 1, "blocks": 4, "decode": True,
            "stream": {"width": 64, "height": 64, "frames_per_block": 3, "kv_window": -1, "sink_frames": 0,
                       "denoising_steps": [1000, 750, 500, 250]}}


def with_stream(**kw):
    h = valid_header()
    h["stream"].update(kw)
    return h


def with_header(**kw):
    h = valid_header()
    h.update(kw)
    return h


def entry(command, block=1, **args):
    return {"block": block, "command": command, "args": args}


H = json.dumps(valid_header())
MALFORMED = {
    "empty": "",
    "binary": b"\xff\xfe\x00garbage",
    "not json": "{nope\n",
    "list header": "[1, 2, 3]\n",
    "old format": json.dumps({"format": "sfe-live-log/1"}),
    "no format": json.dumps({"seed": 1}),
    "huge size": json.dumps(with_stream(width=65536, height=65536)),
    "too many pixels": json.dumps(with_stream(width=8192, height=8192)),
    "zero size": json.dumps(with_stream(width=0)),
    "float width": json.dumps(with_stream(width=64.5)),
    "steps [0]": json.dumps(with_stream(denoising_steps=[0])),
    "steps empty": json.dumps(with_stream(denoising_steps=[])),
    "steps text": json.dumps(with_stream(denoising_steps="1000")),
    "steps huge list": json.dumps(with_stream(denoising_steps=[500] * 1000)),
    "window < block": json.dumps(with_stream(kv_window=2)),
    "sink negative": json.dumps(with_stream(sink_frames=-1)),
    "fpb huge": json.dumps(with_stream(frames_per_block=10 ** 9)),
    "stream unknown key": json.dumps(with_stream(bogus=1)),
    "stream list": json.dumps(with_header(stream=[1])),
    "seed text": json.dumps(with_header(seed="one")),
    "seed float": json.dumps(with_header(seed=1.5)),
    "seed negative": json.dumps(with_header(seed=-1)),
    "prompt number": json.dumps(with_header(prompt=7)),
    "blocks negative": json.dumps(with_header(blocks=-3)),
    "blocks huge": json.dumps(with_header(blocks=10 ** 12)),
    "frames negative": json.dumps(with_header(frames=-1)),
    "frames text": json.dumps(with_header(frames="80")),
    "model text": json.dumps(with_header(model="tiny-random")),
    "decode text": json.dumps(with_header(decode="yes")),
    "deep nesting": H + "\n" + "[" * 100000 + "]" * 100000,
    "line is a list": H + "\n[1]",
    "unknown command": H + "\n" + json.dumps(entry("Explode")),
    "unknown transition": H + "\n" + json.dumps(entry("SetPrompt", text="x", transition="wipe")),
    "non-text prompt": H + "\n" + json.dumps(entry("SetPrompt", text=["x"])),
    "non-integer seed": H + "\n" + json.dumps(entry("SetSeed", seed="7")),
    "float seed": H + "\n" + json.dumps(entry("SetSeed", seed=7.5)),
    "steps [0] command": H + "\n" + json.dumps(entry("SetSteps", steps=[0])),
    "strength 9": H + "\n" + json.dumps(entry("Purge", strength=9)),
    "bool strength": H + "\n" + json.dumps(entry("Purge", strength=True)),
    "unknown purge mode": H + "\n" + json.dumps(entry("Purge", mode="keep-most")),
    "memory nan": H + "\n" + '{"block": 1, "command": "SetMemory", "args": {"value": NaN}}',
    "v2v amount 5": H + "\n" + json.dumps(entry("SetV2V", amount=5)),
    "unknown arg": H + "\n" + json.dumps(entry("SetMemory", valu=0.5)),
    "args list": H + "\n" + json.dumps({"block": 1, "command": "SetMemory", "args": [0.5]}),
    "block text": H + "\n" + json.dumps(entry("Recache", block="1")),
    "block past end": H + "\n" + json.dumps(entry("Recache", block=99)),
    "source kind": H + "\n" + json.dumps(entry("SetSource", kind="satellite")),
    "source extra": H + "\n" + json.dumps(entry("SetSource", kind="file", path="x", url="y")),
    "huge prompt": H + "\n" + json.dumps(entry("SetPrompt", text="x" * 200_000)),
    "blend 10**9": H + "\n" + json.dumps(entry("SetPrompt", text="x", transition="blend", blend_blocks=10 ** 9)),
}


def test_malformed_replay_logs_one_line_exit_2(tmp_path, capsys):
    assert len(MALFORMED) >= 40
    for name, text in MALFORMED.items():
        path = tmp_path / f"{name.replace(' ', '_')}.jsonl"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        capsys.readouterr()
        rc = main(["render", "--replay", str(path), "--blocks", "1"])
        err = capsys.readouterr().err.strip()
        assert rc == 2, name
        assert len(err.splitlines()) == 1 and str(path) in err and "Traceback" not in err, (name, err)
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as fh:
        fh.truncate(65 * 2 ** 20)
    assert main(["render", "--replay", str(big)]) == 2
    assert "too large" in capsys.readouterr().err


def test_bad_stream_options_one_line_everywhere(capsys):
    for cmd in (["render", "--blocks", "1"], ["bench", "--blocks", "1"], ["run", "--headless", "--duration", "1"],
                ["gui"]):
        for bad in (["--kv-window", "2"], ["--steps", "0,500"], ["--steps", "a,b"]):
            capsys.readouterr()
            assert main([*cmd, "--model", "tiny-random", *bad]) == 2, (cmd, bad)
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and err.startswith("sfe-live: error:"), (cmd, bad, err)
