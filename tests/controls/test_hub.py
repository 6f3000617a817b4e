"""ControlHub end to end: a TouchDesigner-style OSC client, a MIDI profile and the keyboard run a show."""

from __future__ import annotations

import subprocess
import sys
import time

import mido
import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

from sfe_live.controls import ControlHub, doctor_lines
from sfe_live.controls.oscdoc import DOC_PATH, render_osc_markdown
from sfe_live.engine import commands as C

from .conftest import wait_for

NO_MIDI = "mido.backends.no_such_backend"


@pytest.fixture
def hub(engine, tmp_path):
    h = ControlHub(engine.submit, engine.status, {"osc_port": 0, "midi_backend": NO_MIDI, "cues": "woman_to_cat",
                                                  "bindings_file": str(tmp_path / "bindings.toml")})
    h.start()
    yield h
    h.stop()


def client_for(hub):
    return SimpleUDPClient("127.0.0.1", hub.osc.port)


def get(c, name):
    c.send_message(f"/sfe/get/{name}", None)
    m = OscMessage(c.receive(2.0))
    assert m.address == f"/sfe/{name}"
    return m.params[0]


def test_a_show_from_osc_midi_and_keys(hub, engine):
    c = client_for(hub)
    prompts = lambda: [x.text for x in engine.of(C.SetPrompt)]  # noqa: E731
    c.send_message("/sfe/cue/go", 1)
    c.send_message("/sfe/cue/go", 2)               # woman → cat, purge at strength 3
    assert wait_for(lambda: len(prompts()) == 2)
    assert engine.of(C.SetPrompt)[1].transition == "purge" and engine.of(C.SetPrompt)[1].strength == 3
    assert get(c, "cue") == 2 and "cat" in get(c, "prompt")
    c.send_message("/sfe/cue/next", None)
    c.send_message("/sfe/cue/prev", None)
    c.send_message("/sfe/purge", 1)                 # purge at a chosen strength
    c.send_message("/sfe/reactivity", 2)            # ride reactivity and memory
    c.send_message("/sfe/memory", 0.5)
    assert wait_for(lambda: engine.of(C.SetMemory))
    assert [p[:10] for p in prompts()] == ["a woman in", "a ginger c", "a woman in", "a ginger c"]
    assert engine.of(C.Purge) == [C.Purge(1)] and engine.of(C.SetReactivity) == [C.SetReactivity(2)]
    assert get(c, "strength") == 2 and get(c, "memory") == 0.5 and get(c, "cue_count") == 3
    # MIDI profile (APC mini mk2 top row = cues 1-8; track button 2 = purge 1)
    apc = "APC mini mk2:APC mini mk2 Control 20:0"
    hub.midi.handle(mido.Message("note_on", note=58, velocity=127), apc)
    hub.midi.handle(mido.Message("note_on", note=101, velocity=127), apc)
    assert hub.cues.status()["cue"] == 3 and engine.of(C.Purge)[-1] == C.Purge(1)
    # keyboard
    hub.key("Key_1")
    hub.key("Right")
    hub.key("Shift+P")
    hub.key("Space")
    assert hub.cues.status()["cue"] == 2 and engine.of(C.Purge)[-1] == C.Purge(3)
    assert engine.commands[-1] == C.TogglePause()
    st = hub.status()
    assert st["osc"]["running"] and st["midi"]["ok"] is False and "no_such_backend" in st["midi"]["error"]
    assert st["cues"]["cue_count"] == 3 and st["counts"]["osc"] >= 7 and st["counts"]["key"] == 4
    c.close()


def test_quantised_go_lands_on_the_beat(engine, tmp_path):
    h = ControlHub(engine.submit, engine.status, {"osc_enabled": False, "midi_enabled": False, "bpm": 240,
                                                  "quantize": "beat", "cues": "rocket_launch",
                                                  "bindings_file": str(tmp_path / "b.toml")})
    h.start()
    try:
        h.tempo.sync()
        time.sleep(0.05)
        due = h.tempo.next_boundary("beat")
        h.trigger("cue.go", 2)
        assert engine.of(C.SetPrompt) == [] and h.cues.status()["cue_pending"] == 2
        assert wait_for(lambda: engine.of(C.SetPrompt), 2)
        fired = time.monotonic()
        assert abs(fired - due) < 0.05
        assert engine.of(C.SetPrompt)[0].transition == "blend"
    finally:
        h.stop()


def test_app_handlers_tempo_and_state(hub, engine):
    got = []
    hub.register_handler("record.toggle", got.append)
    c = client_for(hub)
    c.send_message("/sfe/record", True)
    c.send_message("/sfe/tempo/bpm", 100)
    for _ in range(3):
        c.send_message("/sfe/tempo/tap", None)
    assert wait_for(lambda: got == [True])
    assert get(c, "recording") is True
    assert wait_for(lambda: hub.tempo.source == "tap")
    hub.set_state("vcam", True)
    assert get(c, "vcam") is True
    c.close()


def test_learn_save_and_reload(engine, tmp_path):
    path = tmp_path / "bindings.toml"
    settings = {"osc_port": 0, "midi_backend": NO_MIDI, "bindings_file": str(path)}
    h = ControlHub(engine.submit, engine.status, settings)
    h.start()
    try:
        h.learn("memory.set")
        c = client_for(h)
        c.send_message("/td/fader1", 0.99)
        assert wait_for(lambda: h.osc.bindings())
        h.keys.bind("Ctrl+K", "purge", 2)
        h.save_bindings()
        c.close()
    finally:
        h.stop()
    text = path.read_text()
    assert "/td/fader1" in text and "Ctrl+K" in text
    h2 = ControlHub(engine.submit, engine.status, settings)
    h2.start()
    try:
        c = client_for(h2)
        c.send_message("/td/fader1", 1.0)
        c.send_message("/td/fader1", 0.25)
        assert wait_for(lambda: engine.of(C.SetMemory)[-1:] == [C.SetMemory(0.25)])
        h2.key("Ctrl+K")
        assert engine.commands[-1] == C.Purge(2)
        c.close()
    finally:
        h2.stop()


def test_bad_files_and_busy_port_are_reported_not_fatal(engine, tmp_path):
    bad = tmp_path / "bindings.toml"
    bad.write_text('[[key]]\nkey = "K"\naction = "purge.hard"\n')
    a = ControlHub(engine.submit, engine.status, {"osc_port": 0, "midi_backend": NO_MIDI, "bindings_file": str(bad),
                                                  "cues": str(tmp_path / "missing.toml")})
    a.start()
    try:
        assert str(bad) + ":3:" in a.errors["bindings"] and "purge.hard" in a.errors["bindings"]
        assert "missing.toml" in a.errors["cues"]
        b = ControlHub(engine.submit, engine.status, {"osc_port": a.osc.port, "midi_backend": NO_MIDI,
                                                      "bindings_file": str(tmp_path / "none.toml")})
        b.start()
        try:
            assert "cannot listen" in b.errors["osc"]
            assert b.key("1") is True  # everything else still works
        finally:
            b.stop()
    finally:
        a.stop()


def test_doctor_lines():
    lines = doctor_lines({"osc_port": 0, "midi_backend": NO_MIDI})
    text = "\n".join(lines)
    assert text.startswith("MIDI: unavailable") and "Audio:" in text and "OSC: UDP 127.0.0.1:0 is free" in text
    assert "akai_apc_mini_mk2" in text and "woman_to_cat" in text


def test_osc_docs_are_generated_from_the_registry():
    text = DOC_PATH.read_text(encoding="utf-8")
    assert text == render_osc_markdown(), "docs/osc.md is stale: run python -m sfe_live.controls.oscdoc"
    for addr in ("/sfe/prompt", "/sfe/purge", "/sfe/reactivity", "/sfe/memory", "/sfe/cue/go", "/sfe/cue/next",
                 "/sfe/cue/prev", "/sfe/seed/new", "/sfe/pause", "/scope/prompt", "/scope/reset_cache", "9310"):
        assert addr in text


def test_controls_never_import_qt_or_heavy_engine_parts():
    code = ("import sys, sfe_live.controls.hub, sfe_live.controls.doctor, sfe_live.show.cues;"
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'torch', 'ui'))];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
