"""The window in remote mode (pytest-qt): ``MainWindow`` with ``settings.remote`` connects to a real
server (in-process, tiny-random), the preview shows the received stream and the status panel shows
the link (state, RTT, jitter, dropped frames)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from sfe_live.app import AppSettings  # noqa: E402
from sfe_live.config import RemoteConfig  # noqa: E402

from .conftest import TOKEN, InProcessServer, free_port  # noqa: E402


def test_window_shows_the_remote_stream(qtbot, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SFE_LIVE_CONFIG_DIR", str(tmp_path / "cfg"))
    from ui.main_window import MainWindow
    from ui.settings import SettingsStore
    port = free_port()
    server = InProcessServer(port).start()
    w = None
    try:
        settings = AppSettings(osc=False, remote=RemoteConfig(url=f"http://127.0.0.1:{port}", token=TOKEN))
        w = MainWindow(settings, SettingsStore(tmp_path / "cfg"))
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: w.app is not None, timeout=60_000)
        assert type(w.app).__name__ == "RemoteApp"
        qtbot.waitUntil(lambda: w.preview.frames_shown > 8, timeout=60_000)
        img = w.preview.grab_image().convertToFormat(w.preview.grab_image().Format.Format_RGB888)
        a = np.frombuffer(bytes(img.constBits()), np.uint8)[: img.height() * img.bytesPerLine()]
        assert a.std() > 5.0, "the preview is uniform (no picture)"
        qtbot.waitUntil(lambda: "connected · RTT" in w.status_panel.values["remote"].text(), timeout=20_000)
        assert "remote" in w.windowTitle()
        # a UI gesture reaches the server's engine (the same named action as locally)
        w.controller.send_prompt("a remote green square", "cut", 1)
        qtbot.waitUntil(lambda: server.app.engine_status().prompt == "a remote green square", timeout=30_000)
        # a cue list loaded on the laptop plays here; its cue's prompt lands on the server
        cues = tmp_path / "laptop-cues.toml"
        cues.write_text('schema = 1\nname = "laptop"\nquantize = "none"\n\n[[cue]]\nprompt = "laptop cue one"\n'
                        '\n[[cue]]\nprompt = "laptop cue two"\ntransition = "purge"\nstrength = 2\n')
        w.app.hub.load_cues(cues)
        assert w.controller.trigger("cue.go", 2)
        qtbot.waitUntil(lambda: server.app.engine_status().prompt == "laptop cue two", timeout=30_000)
        last = [e for e in server.app.engine.log if e.command == "SetPrompt"][-1]
        assert last.args["transition"] == "purge" and last.args["strength"] == 2
    finally:
        if w is not None:
            w.shutdown()
        server.stop()
