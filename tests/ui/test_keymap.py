"""QKeyEvent -> the controls' key names, and hotkeys vs typing in the window."""

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent

from sfe_live.controls.keys import default_key_bindings, normalize_key
from ui.keymap import key_name, key_name_from

M = Qt.KeyboardModifier


@pytest.mark.parametrize("key,mods,name", [
    (Qt.Key.Key_P, M.NoModifier, "P"),
    (Qt.Key.Key_P, M.ShiftModifier, "Shift+P"),
    (Qt.Key.Key_1, M.ControlModifier, "Ctrl+1"),
    (Qt.Key.Key_Space, M.NoModifier, "Space"),
    (Qt.Key.Key_F11, M.NoModifier, "F11"),
    (Qt.Key.Key_BracketRight, M.NoModifier, "BracketRight"),
    (Qt.Key.Key_Backtab, M.ShiftModifier, "Shift+Tab"),
    (Qt.Key.Key_R, M.ControlModifier | M.ShiftModifier, "Ctrl+Shift+R"),
    (Qt.Key.Key_V, M.ShiftModifier | M.ControlModifier, "Ctrl+Shift+V"),
    (Qt.Key.Key_Exclam, M.ShiftModifier, "Shift+1"),
    (Qt.Key.Key_Left, M.KeypadModifier, "Left"),
])
def test_key_names(key, mods, name) -> None:  # type: ignore[no-untyped-def]
    assert key_name_from(int(key.value), mods) == name
    assert normalize_key(name) == name   # already canonical for the core


def test_modifier_alone_is_no_key() -> None:
    assert key_name_from(int(Qt.Key.Key_Shift.value), M.ShiftModifier) is None
    assert key_name(QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Control, M.ControlModifier)) is None


def test_every_default_binding_is_reachable() -> None:
    """Each shipped key binding's name can be produced by some QKeyEvent."""
    for b in default_key_bindings():
        *mods, key = b.key.split("+")
        qkey = getattr(Qt.Key, f"Key_{key}")
        m = M.NoModifier
        for mod in mods:
            m |= {"Ctrl": M.ControlModifier, "Alt": M.AltModifier, "Shift": M.ShiftModifier,
                  "Meta": M.MetaModifier}[mod]
        assert key_name_from(int(qkey.value), m) == b.key


def test_hotkey_vs_typing(window, sent, qtbot) -> None:  # type: ignore[no-untyped-def]
    from sfe_live.engine import commands as C
    window.preview.setFocus()
    qtbot.keyClick(window.preview, Qt.Key.Key_P)                 # P = purge at the reactivity
    assert [type(c) for c in sent] == [C.Purge]
    window.prompt_bar.edit.setFocus()
    qtbot.keyClicks(window.prompt_bar.edit, "pn ")              # typing is not a hotkey
    assert window.prompt_bar.edit.text() == "pn "
    assert [type(c) for c in sent] == [C.Purge]


def test_custom_key_binding_persists(window, sent, qtbot) -> None:  # type: ignore[no-untyped-def]
    from sfe_live.engine import commands as C
    w = window
    w.controller.keymap.bind("G", "seed.new")
    w.preview.setFocus()
    qtbot.keyClick(w.preview, Qt.Key.Key_G)
    assert sent == [C.NewSeed()]
    w.save_settings()                                   # changed bindings go to the hub's bindings.toml
    path = w.app.hub.settings.bindings_path
    assert path.exists() and "seed.new" in path.read_text()
    w.controller.keymap.unbind("G")
    path.unlink()


def test_hotkeys_survive_typing(window, sent, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Enter sends and returns focus; Esc leaves the field; a click on a button or the cue table
    takes focus out of the prompt — afterwards P and Up are hotkeys again, not text."""
    from PySide6.QtWidgets import QApplication

    from sfe_live.engine import commands as C
    w = window
    w.prompt_bar.edit.setFocus()
    qtbot.keyClicks(w.prompt_bar.edit, "a red sky")
    qtbot.keyClick(w.prompt_bar.edit, Qt.Key.Key_Return)
    assert isinstance(sent[-1], C.SetPrompt) and sent[-1].text == "a red sky"
    target = QApplication.focusWidget() or w.preview
    qtbot.keyClick(target, Qt.Key.Key_P)                         # a hotkey, not text
    assert isinstance(sent[-1], C.Purge) and w.prompt_bar.edit.text() == ""

    w.prompt_bar.edit.setFocus()
    qtbot.keyClicks(w.prompt_bar.edit, "half typed")
    qtbot.keyClick(w.prompt_bar.edit, Qt.Key.Key_Escape)         # leaves the field, keeps the text
    assert not w.prompt_bar.edit.hasFocus() and w.prompt_bar.edit.text() == "half typed"
    n = len(sent)
    qtbot.keyClick(QApplication.focusWidget() or w.preview, Qt.Key.Key_Up)   # reactivity step
    assert len(sent) == n + 1 and isinstance(sent[-1], C.SetReactivity)

    w.prompt_bar.edit.setFocus()
    qtbot.mouseClick(w.controls.purge, Qt.MouseButton.LeftButton)   # a button click takes focus out
    assert not w.prompt_bar.edit.hasFocus()
    assert w.cue_panel.table.focusPolicy() == Qt.FocusPolicy.NoFocus  # arrows never go to the table


def test_prompt_bar_shows_the_live_transition(window, sent, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Ctrl+2 / OSC /sfe/transition set the live transition: the combo follows, and Enter sends with it."""
    import time

    from sfe_live.engine import commands as C
    w = window
    w.app.trigger("transition.set", "blend", source="osc")
    w.app.trigger("blend.blocks", 7, source="osc")
    w._slow_tick(time.perf_counter())
    assert w.prompt_bar.transition.currentText() == "blend" and w.prompt_bar.blend.value() == 7
    w.prompt_bar.edit.setFocus()
    qtbot.keyClicks(w.prompt_bar.edit, "a slow sea")
    qtbot.keyClick(w.prompt_bar.edit, Qt.Key.Key_Return)
    assert sent[-1] == C.SetPrompt(text="a slow sea", transition="blend", strength=None, blend_blocks=7)
    w.prompt_bar.transition.setCurrentText("purge")             # the performer's choice is live at once
    assert w.controller.state()["transition"] == "purge"


@pytest.mark.parametrize("focus", ["preview", "edit"])
def test_chord_with_modifier_released_first_works_again(window, qtbot, focus) -> None:  # type: ignore[no-untyped-def]
    """Ctrl down, K down, Ctrl up, K up (normal typing), three times: three toggles (issue 11 item 7)."""
    from PySide6.QtTest import QTest
    w = window
    w.controller.keymap.bind("Ctrl+K", "blackout")
    target = w.preview if focus == "preview" else w.prompt_bar.edit
    target.setFocus()
    M = Qt.KeyboardModifier
    seen = []
    try:
        for _ in range(3):
            QTest.keyPress(target, Qt.Key.Key_Control, M.NoModifier)
            QTest.keyPress(target, Qt.Key.Key_K, M.ControlModifier)
            QTest.keyRelease(target, Qt.Key.Key_Control, M.NoModifier)
            QTest.keyRelease(target, Qt.Key.Key_K, M.NoModifier)
            seen.append(w.app.blackout)
        assert seen == [True, False, True]
        assert not w.controller.keymap.holding("K")
    finally:
        w.controller.keymap.unbind("Ctrl+K")
        w.app.trigger("blackout", False)
