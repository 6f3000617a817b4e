"""Issue 11 item 6: Model → Choose → a folder that is not a model → Load must not kill the show.

The new model is validated and loaded first; the running engine is switched only on success.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox


def test_wrong_model_folder_keeps_the_show_running(window, qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ui.model_dialog import ModelDialog

    w = window
    old_app = w.app
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    (bad / "holiday.jpg").write_bytes(b"\xff\xd8 not a model")

    dlg = ModelDialog("tiny-random", "", w, has_cuda=False)
    qtbot.addWidget(dlg)
    dlg.folder_radio.setChecked(True)
    dlg.folder.setText(str(bad))
    qtbot.mouseClick(dlg.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert dlg.result() == ModelDialog.DialogCode.Accepted
    w.load_choice(dlg.choice())

    qtbot.waitUntil(lambda: w.loader is None, timeout=60_000)
    assert w.app is old_app and w.controller.app is old_app                  # still the same show
    assert w.banner.level == "error" and "not a Wan2.1 model folder" in w.banner.text
    assert "tiny-random" in w.banner.text                                   # and it says what runs on
    assert old_app.runner.running
    block = old_app.runner.blocks_done
    deadline = time.monotonic() + 60
    while old_app.runner.blocks_done <= block and time.monotonic() < deadline:
        qtbot.wait(50)
    assert old_app.runner.blocks_done > block                                # generation goes on
    assert w.controller.trigger("memory.set", 0.5)                           # controls still reach it
