"""The Settings dialog: OSC opened to the network from the dialog alone, saved and applied live."""

from __future__ import annotations

import socket
import time

from pythonosc.udp_client import SimpleUDPClient


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dialog_opens_osc_to_another_address(window, sent, qtbot, store) -> None:  # type: ignore[no-untyped-def]
    """A TouchDesigner-like sender on another address (here 127.0.0.2) reaches the app only after the
    dialog sets 'Listen on' to 0.0.0.0; the choice is saved and applied without a restart."""
    from sfe_live.controls.settings import ControlSettings
    from sfe_live.engine import commands as C
    from ui.settings import SettingsStore
    from ui.settings_dialog import SettingsDialog

    w = window
    w.store = store
    port = _free_port()
    dlg = SettingsDialog(w.app.hub.settings, "", False, "auto")
    qtbot.addWidget(dlg)
    dlg.osc_enabled.setChecked(True)
    dlg.osc_port.setValue(port)
    dlg.osc_host.setCurrentText("127.0.0.1")
    assert dlg.problems() == []
    w.apply_settings(dlg.values())
    qtbot.waitUntil(lambda: w.app.hub.osc is not None and w.app.hub.osc.status().get("running"), timeout=5000)
    SimpleUDPClient("127.0.0.2", port).send_message("/sfe/prompt", "from far away")
    time.sleep(0.3)
    assert not any(isinstance(c, C.SetPrompt) and c.text == "from far away" for c in sent)

    dlg.osc_host.setCurrentText("0.0.0.0")
    dlg.osc_push.setText("nonsense")
    assert dlg.problems() and "HOST:PORT" in dlg.problems()[0]
    dlg.osc_push.setText("")
    changed = w.apply_settings(dlg.values())
    assert changed == ["osc_host"]
    qtbot.waitUntil(lambda: w.app.hub.osc is not None and w.app.hub.osc.status().get("running"), timeout=5000)
    SimpleUDPClient("127.0.0.2", port).send_message("/sfe/prompt", "from far away")
    qtbot.waitUntil(lambda: any(isinstance(c, C.SetPrompt) and c.text == "from far away" for c in sent),
                    timeout=5000)

    ui, msg = SettingsStore(store.folder).load()          # saved (atomically) for the next start
    assert msg is None and ui.controls == {"osc_host": "0.0.0.0", "osc_port": port}   # non-defaults only
    back = dict(ui.controls, osc_enabled=False)
    w.apply_settings(dataclass_choice(back))
    assert w.app.hub.osc is None
    assert ControlSettings.from_any(w.app_settings.controls).osc_enabled is False


def dataclass_choice(controls):  # type: ignore[no-untyped-def]
    from ui.settings_dialog import SettingsChoice
    return SettingsChoice(controls=controls, record_dir="", low_latency=False, preview_path="auto")


def test_bad_values_in_the_settings_file_fall_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from ui.settings import SettingsStore
    store = SettingsStore(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "ui-settings.json").write_text(json.dumps(
        {"schema": 2, "controls": {"osc_host": "0.0.0.0", "osc_port": "9000", "bpm": 128, "nope": 1},
         "low_latency": True}))
    ui, msg = store.load()
    assert msg is None and ui.low_latency is True
    assert ui.controls == {"osc_host": "0.0.0.0", "bpm": 128.0}     # wrong type and unknown key dropped
