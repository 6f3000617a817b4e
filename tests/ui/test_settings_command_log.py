"""The GUI writes a replayable command log: set in the Settings dialog during a show, saved for the next
start, written when the show stops, and it re-renders the frames the show made."""

from __future__ import annotations

import json

import av
import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox


def pngs(folder):  # type: ignore[no-untyped-def]
    out = []
    for p in sorted(folder.glob("frame-*.png")):
        with av.open(str(p)) as c:
            out.append(next(c.decode(video=0)).to_ndarray(format="rgb24"))
    return out


def test_command_log_from_the_settings_dialog_replays(qtbot, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sfe_live.app import AppSettings
    from sfe_live.cli import main
    from sfe_live.engine.replaylog import read_log
    from ui.main_window import MainWindow
    from ui.settings import SettingsStore
    from ui.settings_dialog import SettingsDialog

    w = MainWindow(AppSettings(model="tiny-random", osc=False, seed=5, controls={"midi_enabled": False}), store)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.app is not None, timeout=60_000)
    shown: list[np.ndarray] = []
    w.app.runner.add_listener(lambda b: shown.append(b.frames))
    w.controller.trigger("prompt.set", "a green cube")
    qtbot.waitUntil(lambda: len(shown) >= 2, timeout=30_000)

    path = tmp_path / "shows" / "tonight.jsonl"
    seen: dict[str, str] = {}

    def fill() -> None:              # the real dialog, opened modally by the window's Settings action
        dlg = next((x for x in QApplication.topLevelWidgets() if isinstance(x, SettingsDialog) and x.isVisible()),
                   None)
        if dlg is None:
            QTimer.singleShot(50, fill)
            return
        try:
            seen["before"] = dlg.command_log.text()
            ok = dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
            dlg.command_log.setText(str(path))           # its folder does not exist yet: one line, not closed
            ok.click()
            seen["error"] = dlg.error.text()
            path.parent.mkdir()
            ok.click()
        except Exception as exc:                          # never leave the modal dialog open
            seen["failed"] = repr(exc)
            dlg.reject()

    QTimer.singleShot(0, fill)
    w.open_settings()
    assert "failed" not in seen, seen
    assert seen["before"] == ""
    assert seen["error"] == f"command log: the folder {path.parent} does not exist"
    assert w.app.settings.log == str(path) and w.app.engine.log_limit is None
    ui, msg = SettingsStore(store.folder).load()          # saved (atomically) for the next start
    assert msg is None and ui.command_log == str(path)

    n = len(shown)
    w.controller.trigger("prompt.set", "a yellow ball")
    qtbot.waitUntil(lambda: len(shown) >= n + 2, timeout=30_000)
    assert not path.exists()                              # written when the show stops
    w.shutdown()

    log = read_log(path)
    commands = [json.loads(x)["command"] for x in path.read_text().splitlines()[1:]]
    assert "SetPrompt" in commands and log.header.blocks is not None and log.header.blocks >= len(shown)
    assert log.header.prompt == w.app.bundle.config.first_prompt(w.app_settings.prompt) and log.header.seed == 5
    assert main(["render", "--replay", str(path), "--frames-dir", str(tmp_path / "r")]) == 0
    replayed = pngs(tmp_path / "r")
    live = [f for block in shown for f in block]          # the blocks since the listener was added: the end
    assert len(replayed) >= len(live) > 0
    assert all(np.array_equal(x, y) for x, y in zip(live, replayed[-len(live):]))
    w2 = MainWindow(AppSettings(model="tiny-random", osc=False), store, ui, autoload=False)
    qtbot.addWidget(w2)
    assert w2.app_settings.log == str(path)              # the next start writes it too
    w2.shutdown()
