"""Window behaviour: performance lock, Esc confirmation, output window, errors in the banner, status."""

import logging
import threading

from PySide6.QtCore import Qt

from sfe_live.app import AppSettings


def _window(qtbot, store):  # type: ignore[no-untyped-def]
    from ui.main_window import MainWindow
    w = MainWindow(AppSettings(model="tiny-random", osc=False), store, autoload=False)
    qtbot.addWidget(w)
    w.show()
    return w


def test_lock_and_escape_needs_confirmation(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, store)
    asked: list = []
    answer = [False]
    w.confirm = lambda title, text: (asked.append(title), answer[0])[1]
    w.open_output()
    assert w.output_visible and w.output.isFullScreen()
    assert w.output.cursor().shape() == Qt.CursorShape.BlankCursor
    assert w.output.windowFlags() & Qt.WindowType.FramelessWindowHint
    w.set_locked(True)
    assert not w.act_model.isEnabled() and not w.cue_panel.add_button.isEnabled()
    assert w.controls.purge.isEnabled() and w.prompt_bar.edit.isEnabled()
    qtbot.keyClick(w.output, Qt.Key.Key_Escape)                 # stray Esc: asked, refused
    assert asked and w.locked and w.output_visible
    w.output.close()                                            # closing the output also asks
    assert len(asked) == 2 and w.output_visible
    answer[0] = True
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    assert not w.locked and not w.output_visible
    w.open_output()
    qtbot.keyClick(w, Qt.Key.Key_Escape)                        # unlocked: Esc just closes the output
    assert not w.output_visible and len(asked) == 3
    w.shutdown()


def test_f11_toggles_output_through_the_keymap(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = window
    qtbot.keyClick(w.preview, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: w.output_visible, timeout=5000)   # queued, run by the GUI timer
    qtbot.waitUntil(lambda: w.output.preview.frames_shown > 0, timeout=20_000)
    assert w.output_badge.text().startswith("OUTPUT ")
    w.app.trigger("output.fullscreen", source="osc")          # another thread's input: queued, no Qt call
    qtbot.waitUntil(lambda: not w.output_visible, timeout=5000)


def test_errors_from_threads_reach_the_banner(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, store)
    t = threading.Thread(target=lambda: logging.getLogger("sfe_live.engine.runner").error("generation failed: boom"))
    t.start()
    t.join()
    w._slow_tick(0.0)
    assert w.banner.isVisible() and w.banner.level == "error" and "boom" in w.banner.text
    assert "boom" in w.log_panel.toPlainText()
    logging.getLogger("sfe_live.app").info("recording to x.mp4")          # an app message: info
    w._slow_tick(0.0)
    assert w.banner.level == "error"                                     # an info never hides an error
    w.banner.clear()
    logging.getLogger("sfe_live.app").info("recording to x.mp4")
    w._slow_tick(0.0)
    assert w.banner.level == "info" and "x.mp4" in w.banner.text
    w.shutdown()


def test_failed_model_load_is_shown(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, store)
    w.start_loading(AppSettings(model="/no/such/model"))
    qtbot.waitUntil(lambda: w.loader is None, timeout=20_000)
    assert w.app is None and w.banner.level == "error" and "not found" in w.banner.text
    assert "no model loaded" in w.preview.overlay
    w.shutdown()


def test_status_panel_reads_a_snapshot(qtbot) -> None:  # type: ignore[no-untyped-def]
    from ui.meters import LatencyStats
    from ui.status_panel import StatusPanel
    p = StatusPanel()
    qtbot.addWidget(p)
    st = {"engine": {"running": True, "fps": 21.3, "fps_target": 16, "block_ms": 420.0, "decode_ms": 120.0,
                     "queue_depth": 1, "kv_frames": 9, "block": 12, "purges": 2, "rss_mb": 812.0,
                     "drift_guard": True, "drift_deviation": 0.12, "drift_triggers": 3},
          "outputs": {"playout": {"state": "playing", "fps": 16, "depth": 14, "latency_s": 0.875,
                                  "underruns": 1, "repeats": 4, "displayed_fps": 16.02}},
          "model": {"name": "demo", "dit_parameters": 1_670_000, "device": "cpu", "dtype": "float32"},
          "controls": {"osc": {"running": True, "port": 9310}, "midi": {"ok": False},
                       "tempo": {"bpm": 128.0, "bar": 3, "beat": 2, "tempo_source": "tap"}, "errors": {}}}
    p.show_status(st, eta=0.25, gui=LatencyStats(100, 1.0, 4.5, 12.0), shown_fps=15.9, preview="raster")
    v = p.values
    assert p.generated.value.text().strip() == "21.3" and p.displayed.value.text().strip() == "16.0"
    assert v["next"].text() == "250 ms" and v["queue"].text() == "1 pending"
    assert v["buffer"].text() == "14 fr · 0.88 s · ok" and v["glitches"].text() == "1 / 4"
    assert v["model"].text() == "demo · 1.7M · cpu fp32" and "3 fired" in v["drift"].text()
    assert v["gui"].text() == "p95 4.5 · max 12 ms"
    assert v["controls"].text() == "OSC :9310 · MIDI off" and v["tempo"].text() == "128.0 bpm · 3.2 · tap"
    # a slower engine, paced: the rate of new frames and the longest still show beside the tick rate
    st["outputs"]["playout"].update(content_fps=11.2, paced_repeats=40, longest_still=3)
    p.show_status(st, eta=0.25, gui=LatencyStats(100, 1.0, 4.5, 12.0), shown_fps=15.9, preview="raster")
    assert p.displayed.sub.text() == "new 11.2 · preview 15.9" and v["glitches"].text() == "1 / 4 · still 3"


def test_run_gui_opens_and_closes(qtbot, config_dir, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The CLI's entry point: window titled sfe-live, model loaded in the background, clean exit."""
    import sys

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ui.main import run_gui
    from ui.main_window import MainWindow

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    seen: dict = {}

    def finish() -> None:
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
                and w.app_settings.model == "tiny-random" and not hasattr(w, "_is_live_fixture")]
        win = wins[-1]
        if win.app is None:                       # still loading: look again shortly
            QTimer.singleShot(200, finish)
            return
        seen["title"] = win.windowTitle()
        win.close()
        QApplication.exit(0)              # quit() would also close every other window

    QTimer.singleShot(300, finish)
    assert run_gui(AppSettings(model="tiny-random", osc=False), []) == 0
    assert seen["title"].startswith("sfe-live — tiny-random")
    assert (config_dir / "ui-settings.json").exists()


def test_show_buttons_and_badge_tell_the_truth(window, qtbot, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Record / Blackout / Freeze are on screen; their state (and the badge) come back from the app;
    Record writes to the recordings folder (the user's video folder by default), not the cwd."""
    import time

    from sfe_live.outputs.options import default_record_dir
    w = window
    monkeypatch.setenv("SFE_LIVE_RECORDINGS_DIR", str(tmp_path / "videos"))
    assert default_record_dir() == tmp_path / "videos"
    w.app.set_record_dir(None)                 # the default folder, as a new user has it
    w.app.trigger("blackout", True, source="osc")
    w._slow_tick(time.perf_counter())
    assert w.show_buttons.blackout.isChecked() and w.state_badge.text() == "BLACKOUT"
    w.app.trigger("blackout", False, source="osc")
    w.app.trigger("freeze", True, source="osc")
    w._slow_tick(time.perf_counter())
    assert not w.show_buttons.blackout.isChecked() and w.show_buttons.freeze.isChecked()
    assert w.state_badge.text() == "FROZEN"
    w.app.trigger("freeze", False, source="osc")

    qtbot.mouseClick(w.show_buttons.record, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (w._slow_tick(time.perf_counter()), w.show_buttons.record.isChecked())[1], timeout=10_000)
    qtbot.waitUntil(lambda: w.app.outputs.status().sink("record").sent >= 4, timeout=20_000)
    qtbot.mouseClick(w.show_buttons.record, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (w._slow_tick(time.perf_counter()), not w.show_buttons.record.isChecked())[1],
                    timeout=10_000)
    assert w.state_badge.text() == "LIVE"
    assert [p.suffix for p in (tmp_path / "videos").iterdir()] == [".mp4"]
