"""Hotkeys: Qt-free names, defaults, press/release, repeat, storage, learn."""

from __future__ import annotations

import pytest

from sfe_live.controls.driver import Learner
from sfe_live.controls.keys import KeyMap, default_key_bindings, normalize_key
from sfe_live.engine import commands as C


@pytest.mark.parametrize("raw,canon", [
    ("Key_1", "1"), ("ctrl+p", "Ctrl+P"), ("shift+ctrl+Key_Left", "Ctrl+Shift+Left"), ("space", "Space"),
    ("F11", "F11"), ("[", "BracketLeft"), ("Ctrl++", "Ctrl+Plus"), ("cmd+k", "Meta+K"), ("esc", "Escape")])
def test_normalize(raw, canon):
    assert normalize_key(raw) == canon


def test_normalize_rejects():
    with pytest.raises(ValueError):
        normalize_key("Hyper+K")
    with pytest.raises(ValueError):
        normalize_key("")


def test_defaults_cover_the_issue():
    keys = {b.key: (b.action, b.value) for b in default_key_bindings()}
    assert keys["1"] == ("cue.go", 1) and keys["9"] == ("cue.go", 9)
    assert keys["Right"][0] == "cue.next" and keys["Left"][0] == "cue.prev"
    assert keys["P"][0] == "purge" and keys["Tab"][0] == "tempo.tap" and keys["Space"][0] == "pause.toggle"


def test_handle_routes_and_ignores_repeat(router, engine):
    km = KeyMap(router)
    assert km.handle("Key_P") and km.handle("P", pressed=False)
    assert km.handle("P", repeat=True)
    assert km.handle("Shift+P")
    assert km.handle("Space")
    assert not km.handle("Ctrl+Alt+Q")
    assert engine.commands == [C.Purge(None), C.Purge(3), C.TogglePause()]


def test_step_keys(router, engine):
    km = KeyMap(router)
    km.handle("Down"), km.handle("Down", False), km.handle("Down"), km.handle("Down", False)
    km.handle("BracketLeft")
    assert [c.strength for c in engine.of(C.SetReactivity)] == [2, 1]
    assert engine.of(C.SetMemory)[0].value == pytest.approx(0.9)


def test_save_load_round_trip(tmp_path, router):
    km = KeyMap(router)
    km.bind("Ctrl+K", "purge", 2)
    km.unbind("Space")
    p = tmp_path / "keys.toml"
    km.save(p)
    km2 = KeyMap(router, bindings=[])
    km2.load(p)
    assert sorted(km2.bindings(), key=lambda b: b.key) == sorted(km.bindings(), key=lambda b: b.key)
    assert km2.lookup("Space") is None and km2.lookup("ctrl+k").value == 2


def test_key_learn(router, engine):
    ln = Learner(router.registry)
    km = KeyMap(router, learner=ln)
    ln.arm("seed.new")
    assert km.handle("G")
    assert engine.commands == []  # the learning press does not fire
    km.handle("G", False)
    km.handle("G")
    assert engine.commands == [C.NewSeed()]


CHORDS = ["Ctrl+R", "Alt+R", "Shift+R", "Meta+R", "Ctrl+Shift+R", "Ctrl+Alt+Shift+Meta+R"]


@pytest.mark.parametrize("chord", CHORDS)
def test_chord_released_modifier_first_works_every_time(router, chord):
    """Releasing the modifier before the key (normal typing) must not leave the key held."""
    got = []
    router.register_handler("record.toggle", got.append)
    km = KeyMap(router, bindings=[])
    km.bind(chord, "record.toggle")
    for _ in range(3):
        assert km.handle(chord)                      # modifier(s) down, then the key
        km.handle("R", pressed=False)                # modifiers already up: the release is a bare "R"
    assert got == [True, False, True]
    for _ in range(2):                               # releasing only some modifiers first
        km.handle(chord)
        km.handle(chord.split("+", 1)[1] if chord.count("+") > 1 else "R", pressed=False)
    assert got == [True, False, True, False, True]


def test_release_goes_to_the_binding_that_was_pressed(router, engine):
    got = []
    router.register_handler("freeze", got.append)
    km = KeyMap(router, bindings=[])
    km.bind("Ctrl+F", "freeze", mode="momentary")
    km.bind("F", "seed.new")
    km.handle("Ctrl+F")
    km.handle("F", pressed=False)                    # ends the momentary freeze, fires nothing else
    km.handle("Ctrl+F")
    km.handle("Ctrl+F", pressed=False)
    assert got == [True, False, True, False] and engine.commands == []
    assert not km.holding("F")
