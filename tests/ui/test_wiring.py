"""Prompt bar, PURGE and cue GO reach the engine as the right commands, in order (real tiny-random App)."""

from PySide6.QtCore import Qt

from sfe_live.engine import commands as C


def test_prompt_purge_go_in_order(window, sent, qtbot, cue_file) -> None:  # type: ignore[no-untyped-def]
    w = window
    # 1. a prompt with a blend over 6 blocks
    w.prompt_bar.transition.setCurrentText("blend")
    w.prompt_bar.blend.setValue(6)
    w.prompt_bar.edit.setFocus()
    qtbot.keyClicks(w.prompt_bar.edit, "a blue cube")
    qtbot.keyClick(w.prompt_bar.edit, Qt.Key.Key_Return)
    assert w.prompt_bar.edit.text() == ""
    assert w.prompt_bar.history.items[-1] == "a blue cube"
    # 2. reactivity 2, then PURGE
    qtbot.mouseClick(w.controls.strength_buttons[2], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(w.controls.purge, Qt.MouseButton.LeftButton)
    # 3. GO on cue 2 of a loaded list
    assert w.cue_panel.load_file(cue_file)
    assert "Test list" in w.windowTitle() and w.windowTitle().startswith("sfe-live")
    w.cue_panel.table.selectRow(1)
    qtbot.mouseClick(w.cue_panel.go_button, Qt.MouseButton.LeftButton)

    assert sent == [
        C.SetPrompt(text="a blue cube", transition="blend", strength=None, blend_blocks=6),
        C.SetReactivity(strength=2),
        C.Purge(strength=2),
        C.SetPrompt(text="a green forest", transition="blend", strength=None, blend_blocks=6),
    ]
    assert w.controller.cues.index == 1
    assert w.cue_panel.selected_row() == 2          # GO moves the standby to the next cue

    # the engine applied them at block edges: discrete commands in FIFO order (the runner applies
    # continuous ones such as SetReactivity after the discrete ones of the same edge)
    def applied(names: tuple) -> list:
        # a prompt replaced by a newer one before its block edge is logged as superseded (never on air)
        return [("SetPrompt" if e.command == "SupersededPrompt" else e.command, e.args)
                for e in w.app.engine.log if e.command in names or (e.command == "SupersededPrompt"
                                                                    and "SetPrompt" in names)]

    expected = [
        ("SetPrompt", {"text": "a blue cube", "transition": "blend", "strength": None, "blend_blocks": 6,
                       "blend_mode": "linear", "purge_mode": None}),
        ("Purge", {"strength": 2, "mode": "full"}),                 # the log holds what ran
        ("SetPrompt", {"text": "a green forest", "transition": "blend", "strength": None, "blend_blocks": 6,
                       "blend_mode": "linear", "purge_mode": None}),
    ]
    # wait for the last of them (on a loaded machine the engine may be blocks behind the GUI)
    qtbot.waitUntil(lambda: applied(("SetPrompt",))[-1:] == expected[-1:]
                    and applied(("SetReactivity",))[-1:] == [("SetReactivity", {"strength": 2})], timeout=30_000)
    assert applied(("SetPrompt", "Purge"))[-3:] == expected


def test_live_controls_send_actions(window, sent, qtbot) -> None:  # type: ignore[no-untyped-def]
    c = window.controls
    c.memory.setValue(40)
    qtbot.mouseClick(c.new_seed, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(c.lock_seed, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(c.pause, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(c.drift, Qt.MouseButton.LeftButton)
    c.v2v.setValue(50)
    qtbot.mouseClick(c.pause, Qt.MouseButton.LeftButton)
    assert sent == [C.SetMemory(value=0.4), C.NewSeed(), C.LockSeed(locked=True), C.SetPaused(paused=True),
                    C.SetDriftGuard(enabled=True), C.SetV2V(amount=0.5), C.SetPaused(paused=False)]
    # the engine's state flows back into the widgets (no re-sending)
    # (the clicks may land in different engine edges: wait for the last of the two states)
    qtbot.waitUntil(lambda: window.app.status()["engine"]["seed_locked"]
                    and window.app.status()["engine"]["drift_guard"], timeout=20_000)
    n = len(sent)
    window._slow_tick(0.0)
    assert c.lock_seed.isChecked() and c.drift.isChecked()
    assert len(sent) == n


def test_frames_reach_the_raster_preview(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = window
    assert w.preview.path == "raster"                 # offscreen has no GL: fallback, and it says so
    assert "no GL" in w.preview_reason and w.path_badge.text() == "RASTER"
    qtbot.waitUntil(lambda: w.preview.frames_shown >= 2, timeout=30_000)
    img = w.preview.grab_image()
    assert not img.isNull()
    w._slow_tick(1.0)
    assert w.status_panel.values["model"].text().startswith("tiny-random")


def test_cue_list_loaded_by_the_controls_shows_up(window, sent, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = window
    w.app.hub.load_cues("woman_to_cat")                  # e.g. --cues at start, or another tool
    w._slow_tick(0.0)
    assert w.cue_panel.name.startswith("Woman to cat") and w.cue_panel.table.rowCount() == 3
    assert "Woman to cat" in w.windowTitle()
    w.app.trigger("cue.go", 2, source="osc")             # GO from OSC: the panel follows
    w._slow_tick(0.0)
    assert w.cue_panel._shown_current == 1
    assert sent[-1] == C.SetPrompt(text=w.cue_panel.cues[1].prompt, transition="purge", strength=3)


def test_v2v_source_reaches_the_engine(window, tmp_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    from PySide6.QtGui import QImage

    from sfe_live.sources import StillImageSource
    a = np.zeros((48, 64, 3), np.uint8)
    a[:, :32] = 255
    path = tmp_path / "still.png"
    assert QImage(a.data, 64, 48, 192, QImage.Format.Format_RGB888).save(str(path))
    assert window.controller.set_source(StillImageSource(path))
    qtbot.waitUntil(lambda: window.app.engine.source is not None, timeout=20_000)   # at the next block edge
    assert window.controller.set_source(None)
    qtbot.waitUntil(lambda: window.app.engine.source is None, timeout=20_000)
