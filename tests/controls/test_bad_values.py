"""Out-of-range values are refused with one line, and per-message warnings are rate-limited
(issue 11, item 10): ``/sfe/cue/go 0`` and ``-3`` never fire cue 1; a fuzz of unknown cues
writes a handful of lines, not one per message."""

from __future__ import annotations

import logging

import mido

from sfe_live.controls.hub import ControlHub
from sfe_live.controls.midi import MidiService
from sfe_live.controls.osc import OscServer
from sfe_live.show.cues import Cue, CueList


def _hub(engine):
    hub = ControlHub(engine.submit, engine.status, {"osc_enabled": False, "midi_enabled": False})
    hub.load_cues(CueList((Cue("a red ball"), Cue("a blue square"), Cue("a green tree"))))
    return hub


def test_cue_go_zero_and_negative_fire_nothing(engine, caplog):
    hub = _hub(engine)
    osc = OscServer(hub.router)
    with caplog.at_level(logging.WARNING):
        for v in (0, -3, -1.0, 0.4, 1000):
            caplog.clear()
            osc.handle_message("/sfe/cue/go", [v])
            lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(lines) == 1, (v, [r.getMessage() for r in lines])
            assert "cue" in lines[0].getMessage() and str(v) in lines[0].getMessage()
    assert engine.commands == [] and hub.cues.index is None
    osc.handle_message("/sfe/cue/go", [2])
    assert [c.text for c in engine.commands] == ["a blue square"] and hub.cues.index == 1
    assert hub.router.state()["cue"] == 2


def test_no_such_cue_warnings_are_rate_limited(engine, caplog):
    hub = _hub(engine)
    osc = OscServer(hub.router)
    with caplog.at_level(logging.WARNING):
        for i in range(500):
            osc.handle_message("/sfe/cue/go", [4 + i % 50])   # in range for the action, no such cue
            osc.handle_message("/sfe/cue/go", [-i])            # out of range
            osc.handle_message("/sfe/memory", ["loud"])        # not a number
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert 3 <= len(lines) <= 40, len(lines)
    assert any("no such cue" in m for m in lines)
    assert engine.commands == []


def test_midi_bad_values_are_rate_limited(router, caplog):
    def boom(v):
        raise RuntimeError("handler broke")
    router.register_handler("freeze", boom)
    from sfe_live.controls.bindings import Binding
    svc = MidiService(router, user_bindings=[Binding("freeze", "midi", type="note", number=1, mode="momentary")])
    with caplog.at_level(logging.WARNING):
        for _ in range(300):
            svc.handle(mido.Message("note_on", note=1, velocity=100))
            svc.handle(mido.Message("note_off", note=1))
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert 1 <= len(lines) <= 30, len(lines)


def test_midi_stop_does_not_wait_for_a_port_that_never_closes(router, caplog, monkeypatch):
    """A MIDI system that does not answer (a JACK server stalled) must not keep the show from stopping."""
    import threading
    import time
    import sfe_live.controls.midi as M
    monkeypatch.setattr(M, "CLOSE_TIMEOUT_S", 0.3)
    release = threading.Event()

    class Stuck:
        closed = False

        def close(self):
            release.wait(10)
            Stuck.closed = True

    svc = MidiService(router)
    svc._in["stuck"] = Stuck()
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING):
        svc.stop()
    assert time.monotonic() - t0 < 2.0 and not svc._in
    assert any("still closing" in r.getMessage() for r in caplog.records)
    release.set()
