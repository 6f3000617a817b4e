"""Bindings as data: validation with file:line, shaping, button modes, soft takeover, learn."""

from __future__ import annotations

import pytest

from sfe_live.controls.actions import DEFAULT_REGISTRY, UnknownActionError
from sfe_live.controls.bindings import (Binding, BindingError, apply_curve, binding_to_table, parse_binding,
                                        parse_tables)
from sfe_live.controls.driver import BindingDriver, Learner
from sfe_live.controls.store import load_user_bindings, save_user_bindings
from sfe_live.engine import commands as C
from sfe_live.io import parse_toml

R = DEFAULT_REGISTRY


def test_unknown_action_names_file_line_and_valid_ids(tmp_path):
    text = 'schema = 1\n\n[[midi]]\ncc = 1\naction = "memory.set"\n\n[[midi]]\ncc = 2\naction = "memroy.set"\n'
    p = tmp_path / "b.toml"
    p.write_text(text)
    with pytest.raises(BindingError) as e:
        load_user_bindings(p, R)
    msg = str(e.value)
    assert msg.startswith(f"{p}:9:") and "memroy.set" in msg and "memory.set" in msg and "cue.go" in msg


@pytest.mark.parametrize("table,needle", [
    ({"action": "purge"}, "exactly one of"),
    ({"action": "purge", "cc": 1, "note": 2}, "exactly one of"),
    ({"action": "purge", "cc": 200}, "0..127"),
    ({"action": "purge", "cc": 1, "channel": 17}, "1..16"),
    ({"action": "purge", "cc": 1, "mode": "hold"}, "mode must be one of"),
    ({"action": "purge", "cc": 1, "colour": 3}, "unknown field"),
    ({"action": "purge", "cc": 120, "count": 10}, "past 127"),
    ({"action": "memory.set", "cc": 1, "value": "loud"}, "value"),
    ({"action": "cue.go", "note": 1, "led": {"glow": 1}}, "unknown led field"),
])
def test_midi_validation(table, needle):
    with pytest.raises(BindingError) as e:
        parse_binding(table, "midi", R, "x.toml", 3)
    assert needle in str(e.value) and str(e.value).startswith("x.toml:3:")


def test_count_expands_a_row():
    bs = parse_binding({"action": "cue.go", "note": 56, "count": 8, "value": 1, "led": {"on": 3}}, "midi", R)
    assert [(b.number, b.value) for b in bs] == [(56 + i, 1 + i) for i in range(8)]
    assert bs[0].led.on == 3


def test_other_sources_validate():
    assert parse_binding({"action": "purge", "key": "ctrl+p", "value": 3}, "key", R)[0].key == "Ctrl+P"
    with pytest.raises(BindingError):
        parse_binding({"action": "purge", "address": "no-slash"}, "osc", R)
    with pytest.raises(BindingError):
        parse_binding({"action": "purge", "feature": "kick"}, "audio", R)
    b = parse_binding({"action": "memory.set", "feature": "bass", "min": 0.3, "max": 0.9}, "audio", R)[0]
    assert (b.min, b.max) == (0.3, 0.9)


def test_round_trip_user_file(tmp_path):
    by = {
        "key": [Binding("purge", "key", key="Ctrl+P", value=3)],
        "osc": [Binding("memory.set", "osc", address="/td/fader1", in_min=0, in_max=127, invert=True)],
        "audio": [Binding("purge", "audio", feature="onset", value=2, cooldown=0.5)],
        "midi": [Binding("reactivity.set", "midi", type="cc", number=21, channel=2, curve="exp", port="nano")],
    }
    p = tmp_path / "sub" / "bindings.toml"
    save_user_bindings(p, by)
    back = load_user_bindings(p, R)
    for src in by:
        assert back[src] == by[src], src


def test_shape_curve_invert_range():
    spec = R.get("memory.set")
    b = Binding("memory.set", "midi", min=0.2, max=0.6)
    assert b.shape(0.0, spec) == pytest.approx(0.2) and b.shape(1.0, spec) == pytest.approx(0.6)
    assert Binding("memory.set", "midi", invert=True).shape(0.25, spec) == pytest.approx(0.75)
    assert apply_curve(0.5, "exp") == 0.25 and apply_curve(0.25, "log") == 0.5
    assert apply_curve(0.5, "scurve") == 0.5 and apply_curve(0.0, "scurve") == 0.0


def test_trigger_mode_fires_on_press_only(router, engine):
    d = BindingDriver(router, "midi")
    b = Binding("purge", "midi", type="note", number=1, value=2)
    d.press(b, True)
    d.press(b, False)
    d.press(b, True)
    assert engine.commands == [C.Purge(2), C.Purge(2)]


def test_cc_button_thresholds_edges(router, engine):
    d = BindingDriver(router, "midi")
    b = Binding("seed.new", "midi", type="cc", number=5)
    for v in (0, 127, 127, 100, 0, 127):
        d.level(b, v / 127)
    assert len(engine.of(C.NewSeed)) == 2


def test_toggle_and_momentary(router):
    got = []
    router.register_handler("freeze", got.append)
    d = BindingDriver(router, "midi")
    t = Binding("freeze", "midi", type="note", number=1)
    d.press(t, True), d.press(t, False), d.press(t, True), d.press(t, False)
    assert got == [True, False]
    m = Binding("freeze", "midi", type="note", number=2, mode="momentary")
    d.press(m, True), d.press(m, False)
    assert got[2:] == [True, False]


def test_toggle_on_continuous_alternates_range(router, engine):
    d = BindingDriver(router, "midi")
    b = Binding("memory.set", "midi", type="note", number=1, mode="toggle", min=0.2, max=0.8)
    d.press(b, True), d.press(b, False), d.press(b, True)
    assert [c.value for c in engine.of(C.SetMemory)] == [0.8, 0.2]


def test_step_and_relative(router, engine):
    d = BindingDriver(router, "key")
    up = Binding("reactivity.set", "key", key="Up", mode="step", value=1)
    down = Binding("reactivity.set", "key", key="Down", mode="step", value=-1)
    d.press(down, True), d.press(down, False), d.press(down, True), d.press(up, True)
    assert [c.strength for c in engine.of(C.SetReactivity)] == [2, 1, 2]
    enc = Binding("memory.set", "midi", type="cc", number=3, mode="relative", step=0.1)
    d.level(enc, 63 / 127)  # one tick down on a 64-centred encoder
    d.delta(enc, -2)
    assert [round(c.value, 3) for c in engine.of(C.SetMemory)] == [0.9, 0.7]


def test_soft_takeover_waits_for_pickup(router, engine):
    d = BindingDriver(router, "midi")
    fader = Binding("memory.set", "midi", type="cc", number=7)  # memory is 1.0 in the engine
    for v in (0.1, 0.3, 0.5):
        d.level(fader, v)
    assert engine.of(C.SetMemory) == [] and d.waiting == [fader]
    d.level(fader, 0.99)  # within tolerance of 1.0: picked up
    d.level(fader, 0.8)
    assert [c.value for c in engine.of(C.SetMemory)] == [pytest.approx(0.99), pytest.approx(0.8)]
    router.trigger("memory.set", 0.2, source="osc")  # another input moves it
    d.level(fader, 0.7)
    assert len(engine.of(C.SetMemory)) == 3  # held back again
    d.level(fader, 0.1)  # crossed 0.2 on the way down: picked up
    assert engine.of(C.SetMemory)[-1].value == pytest.approx(0.1)


def test_jump_takeover_moves_at_once(router, engine):
    d = BindingDriver(router, "midi")
    d.level(Binding("memory.set", "midi", type="cc", number=7, takeover="jump"), 0.1)
    assert engine.of(C.SetMemory)[0].value == pytest.approx(0.1)


def test_integer_knob_sends_only_changes(router, engine):
    d = BindingDriver(router, "midi")
    b = Binding("reactivity.set", "midi", type="cc", number=7, takeover="jump")
    for v in range(128):
        d.level(b, v / 127)
    assert [c.strength for c in engine.of(C.SetReactivity)] == [0, 1, 2, 3]


def test_cooldown(router, engine):
    t = [0.0]
    d = BindingDriver(router, "audio", clock=lambda: t[0])
    b = Binding("purge", "audio", feature="onset", value=1, cooldown=0.5)
    for i in range(10):
        t[0] = i * 0.1
        d.level(b, 1.0), d.level(b, 0.0)
    assert len(engine.of(C.Purge)) == 2  # t = 0.0 and 0.5


def test_learner_arms_once():
    ln = Learner(R)
    with pytest.raises(UnknownActionError):
        ln.arm("nope")
    got = []
    ln.arm("purge", value=3, sources=["midi"], on_learned=got.append)
    installed = []
    assert ln.offer("key", lambda a, v: Binding(a, "key", key="X"), installed.append) is None
    b = ln.offer("midi", lambda a, v: Binding(a, "midi", type="cc", number=9), installed.append)
    assert b.value == 3 and got == [b] and installed == [b] and ln.armed is None
    assert ln.offer("midi", lambda a, v: Binding(a, "midi", type="cc", number=9), installed.append) is None


def test_learner_reads_armed_until_the_binding_is_installed():
    """The mapping window polls ``armed`` from the GUI thread while an input thread learns: seeing the
    learner disarmed must mean the binding is already in place (a CI run once saw it disarmed first)."""
    import threading
    ln = Learner(R)
    ln.arm("blackout")
    inside, release, seen = threading.Event(), threading.Event(), []

    def install(b: Binding) -> None:
        inside.set()
        release.wait(5)
        seen.append(b)

    t = threading.Thread(target=ln.offer, args=("osc", lambda a, v: Binding(a, "osc", address="/x"), install))
    t.start()
    assert inside.wait(5)
    assert ln.armed == "blackout" and seen == []          # installing: still armed
    assert ln.offer("key", lambda a, v: Binding(a, "key", key="Y"), seen.append) is None   # one winner
    ln.cancel()                                           # a cancel mid-install does not lose the binding
    release.set()
    t.join(5)
    assert ln.armed is None and len(seen) == 1 and ln.last is seen[0]


def test_parse_tables_and_to_table_round_trip():
    text = '[[osc]]\naddress = "/a"\naction = "memory.set"\nin_max = 127.0\n'
    bs = parse_tables(parse_toml(text), "osc", R, "f.toml", text)
    assert binding_to_table(bs[0]) == {"action": "memory.set", "address": "/a", "in_max": 127.0}
