"""Map an unknown controller with Learn alone: a JACK MIDI port nobody has a profile for, the mapping
window, right-click → Learn on the memory fader, one knob turn — and the knob drives memory; OSC learn,
key learn, conflicts, remove and save the same way."""

from __future__ import annotations

import time

import mido
from pythonosc.udp_client import SimpleUDPClient
from PySide6.QtCore import Qt

from sfe_live.engine import commands as C

JACK = "mido.backends.rtmidi/UNIX_JACK"


def _wait(pred, timeout=5.0):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return bool(pred())


def test_learn_an_unknown_midi_controller(jack_server, window, sent, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = window
    be = mido.Backend(JACK)
    knob = be.open_output("mystery-box", virtual=True)     # no profile knows this controller
    hub = w.app.hub
    try:
        w.app.reconfigure_controls({"midi_backend": JACK, "midi_inputs": ["mystery-box"], "midi_rescan_s": 0.1})
        assert _wait(lambda: hub.midi is not None and any("mystery-box" in n for n in hub.midi.status()["inputs"]))
        # right-click → Learn on the on-screen memory fader

        w.learn("memory.set")
        dlg = w.mapping
        assert dlg is not None and dlg.isVisible() and hub.learner.armed == "memory.set"
        knob.send(mido.Message("control_change", channel=0, control=77, value=10))
        qtbot.waitUntil(lambda: (dlg.refresh(), dlg.learning is None)[1], timeout=5000)
        assert "memory.set" in dlg.learn_state.text() and "cc 77" in dlg.learn_state.text()
        row = next(r for r in dlg.rows if r.action == "memory.set" and r.binding.source == "midi")
        assert row.origin == "learned" and row.binding.number == 77
        # the monitor shows the traffic
        assert any("control_change" in dlg.midi_monitor.item(i).text() for i in range(dlg.midi_monitor.count()))
        # the knob now drives memory (soft takeover: start from where memory is, 1.0)
        n = len(sent)
        for v in (120, 127, 64, 32):
            knob.send(mido.Message("control_change", channel=0, control=77, value=v))
            time.sleep(0.02)
        qtbot.waitUntil(lambda: any(isinstance(c, C.SetMemory) and abs(c.value - 32 / 127) < 1e-6
                                    for c in sent[n:]), timeout=5000)
        # saved atomically and read back
        dlg.save()
        text = hub.settings.bindings_path.read_text()
        assert "memory.set" in text and "cc = 77" in text.replace(" ", " ")
        # remove it again
        dlg.table.selectRow(dlg.rows.index(row))
        assert dlg.remove_selected()
        assert not any(r.action == "memory.set" and r.origin == "learned" for r in dlg.rows)
        assert not any(r.origin.startswith("profile") for r in dlg.rows)   # no profile knows this box
    finally:
        w.app.reconfigure_controls({"midi_backend": None, "midi_inputs": None, "midi_rescan_s": 2.0})
        knob.close()
        if w.mapping is not None:
            w.mapping.close()
        hub.settings.bindings_path.unlink(missing_ok=True)


def test_learn_osc_and_keys_and_see_conflicts(window, sent, qtbot) -> None:  # type: ignore[no-untyped-def]
    import socket
    w = window
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w.app.reconfigure_controls({"osc_enabled": True, "osc_port": port})
    hub = w.app.hub
    try:
        assert _wait(lambda: hub.osc is not None and hub.osc.status().get("running"))
        dlg = w.open_mapping()
        assert dlg is not None
        # OSC learn: TouchDesigner's /td/fader1 → blackout
        dlg.learn("blackout")
        SimpleUDPClient("127.0.0.1", port).send_message("/td/fader1", 1.0)
        qtbot.waitUntil(lambda: (dlg.refresh(), dlg.learning is None)[1], timeout=5000)
        assert any(r.action == "blackout" and r.input == "OSC /td/fader1" for r in dlg.rows)
        assert any("/td/fader1" in dlg.osc_monitor.item(i).text() for i in range(dlg.osc_monitor.count()))
        # key learn in the dialog: K → seed.new
        dlg.select_action("seed.new")
        dlg.toggle_learn()
        qtbot.keyClick(dlg, Qt.Key.Key_K)
        assert any(r.action == "seed.new" and r.input == "key K" for r in dlg.rows)
        n = len(sent)
        w.preview.setFocus()
        qtbot.keyClick(w.preview, Qt.Key.Key_K)
        assert sent[n:] == [C.NewSeed()]
        # a conflict: learn P (purge by default) for pause → the table says so
        dlg.learn("pause.toggle")
        qtbot.keyClick(dlg, Qt.Key.Key_P)
        dlg.refresh()
        assert dlg.conflict_label.text() == "" or "key P" not in dlg.conflict_label.text()  # a key maps once
        assert any(r.action == "pause.toggle" and r.input == "key P" for r in dlg.rows)
    finally:
        hub.keys.unbind("K")
        hub.keys.bind("P", "purge")
        if hub.osc is not None:
            hub.osc.remove_binding("/td/fader1")
        w.app.reconfigure_controls({"osc_enabled": False})
        if w.mapping is not None:
            w.mapping.close()


def test_conflicts_are_found() -> None:
    from sfe_live.controls.bindings import Binding
    from sfe_live.controls.mapping import BindingRow, conflicts
    a = BindingRow(Binding("memory.set", "midi", type="cc", number=7, channel=1), "learned", True)
    b = BindingRow(Binding("v2v.set", "midi", type="cc", number=7, channel=1), "profile X", False)
    c = BindingRow(Binding("purge", "midi", type="note", number=7, channel=1), "learned", True)
    assert set(conflicts([a, b, c])) == {"MIDI cc 7 ch 1"}
