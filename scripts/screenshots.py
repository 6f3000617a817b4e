#!/usr/bin/env python3
"""Make the README screenshots of the desktop window under a private Xvfb.

    python scripts/screenshots.py [--model vj|demo|tiny-random] [--out docs/screenshots]

Writes ``main.png`` (the window while generating, a cue list loaded and a cue fired),
``locked.png`` (performance lock on, output window open, a warning in the banner),
``model_dialog.png``, ``mapping.png`` (an unknown controller on a JACK MIDI port learned onto the memory
fader, an OSC address learned, the monitors) and ``settings.png`` (OSC opened to the network). Needs ``Xvfb`` (``apt-get install xvfb libxcb-icccm4 libxcb-keysyms1
libxcb-cursor0``); with ``--no-xvfb`` it uses the current ``$DISPLAY``.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

log = logging.getLogger("screenshots")


def _pump(qapp, seconds: float, cond=None) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        qapp.processEvents()
        if cond is not None and cond():
            return True
        time.sleep(0.005)
    return cond() if cond is not None else True


def shoot(model: str, out: Path, compile: bool = False) -> int:
    os.environ.setdefault("SFE_LIVE_CONFIG_DIR", tempfile.mkdtemp(prefix="sfe-live-shots-"))
    from PySide6.QtWidgets import QApplication

    from sfe_live.app import AppSettings
    from sfe_live.model.bundle import default_model_spec
    from sfe_live.model.runtime import RuntimeOptions
    from ui.main_window import MainWindow
    from ui.model_dialog import ModelDialog
    from ui.settings import SettingsStore, UiSettings
    from ui.theme import apply_dark_theme

    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    apply_dark_theme(qapp)  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    ui = UiSettings(prompt_history=["slow drifting magenta and cyan smoke in a dark room",
                                    "a ginger cat walking down a rainy city street at night"])
    model = model or default_model_spec()
    settings = AppSettings(model=model, osc=False, runtime=RuntimeOptions(compile=compile))
    w = MainWindow(settings, SettingsStore(), ui)
    w.resize(1440, 900)
    w.move(0, 0)
    w.show()
    if not _pump(qapp, 240 if compile else 90, lambda: w.app is not None):
        log.error("the model did not load")
        return 1
    # the built-in VJ model gets the cue list made for it
    cues = "vj_builtin_set.toml" if model == "vj" else "neon_club_set.toml"
    w.cue_panel.load_file(REPO / "presets" / cues)
    _pump(qapp, 60, lambda: w.preview.frames_shown >= 8)
    w.cue_panel.table.selectRow(1)
    w.cue_panel.go()
    w.controls.set_strength(2)
    w.controller.trigger("driftguard.toggle", True)
    w.prompt_bar.edit.setText("pulsing neon tunnel, magenta and cyan rings")
    _pump(qapp, 6)
    w.grab().save(str(out / "main.png"))
    log.info("wrote %s", out / "main.png")

    w.confirm = lambda title, text: True
    w.open_output()
    w.raise_()
    w.set_locked(True)
    logging.getLogger("sfe_live.outputs").warning("virtual camera: no v4l2loopback device found (output skipped)")
    _pump(qapp, 2)
    w.grab().save(str(out / "locked.png"))
    log.info("wrote %s", out / "locked.png")
    w.set_locked(False)

    dlg = ModelDialog("/models/Self-Forcing-1.3B", "", w, has_cuda=False)
    dlg.folder_radio.setChecked(True)
    dlg.show()
    _pump(qapp, 1)
    dlg.grab().save(str(out / "model_dialog.png"))
    log.info("wrote %s", out / "model_dialog.png")
    dlg.close()
    _mapping_and_settings(qapp, w, out)
    w.shutdown()
    return 0


def _mapping_and_settings(qapp, w, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Learn a controller nobody has a profile for (a JACK MIDI port, when jackd is installed) and an
    OSC address, then open OSC to the network from the Settings dialog; screenshot both windows."""
    import shutil
    import socket
    import uuid

    from pythonosc.udp_client import SimpleUDPClient

    from ui.settings_dialog import SettingsDialog
    jack = None
    knob = None
    if shutil.which("jackd"):
        name = f"sfe-shots-{uuid.uuid4().hex[:6]}"
        os.environ["JACK_DEFAULT_SERVER"] = name
        jack = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "512"],
                                env=dict(os.environ, JACK_NO_AUDIO_RESERVATION="1"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sk:
            sk.bind(("127.0.0.1", 0))
            port = sk.getsockname()[1]
        changes = {"osc_enabled": True, "osc_port": port}
        if jack is not None:
            import mido
            be = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
            knob = be.open_output("mystery-box", virtual=True)
            changes.update(midi_backend="mido.backends.rtmidi/UNIX_JACK", midi_inputs=["mystery-box"],
                           midi_rescan_s=0.2)
        w.app.reconfigure_controls(changes)
        hub = w.app.hub
        _pump(qapp, 5, lambda: hub.osc is not None and (knob is None or bool(hub.midi and hub.midi.status()["inputs"])))
        w.learn("memory.set")                           # what right-click → Learn on the fader does
        dlg = w.mapping
        if knob is not None:
            import mido
            knob.send(mido.Message("control_change", control=21, value=40))
            _pump(qapp, 3, lambda: dlg.learning is None)
            for v in (60, 90, 120, 127, 100):
                knob.send(mido.Message("control_change", control=21, value=v))
                _pump(qapp, 0.05)
        dlg.learn("blackout")
        SimpleUDPClient("127.0.0.1", port).send_message("/td/button3", 1.0)
        _pump(qapp, 3, lambda: dlg.learning is None)
        for i in range(5):
            SimpleUDPClient("127.0.0.1", port).send_message("/td/fader1", i / 4)
        dlg.select_action("memory.set")
        dlg.resize(1180, 640)
        _pump(qapp, 1.5)
        dlg.grab().save(str(out / "mapping.png"))
        log.info("wrote %s (learned: %s)", out / "mapping.png", dlg.learn_state.text())
        dlg.close()
        sd = SettingsDialog(hub.settings, "", False, "auto", parent=w)
        sd.osc_host.setCurrentText("0.0.0.0")
        sd.osc_push.setText("192.168.1.20:7000")
        sd.show()
        _pump(qapp, 1)
        sd.grab().save(str(out / "settings.png"))
        log.info("wrote %s", out / "settings.png")
        sd.close()
    finally:
        if knob is not None:
            knob.close()
        w.app.reconfigure_controls({"osc_enabled": False, "midi_backend": None, "midi_inputs": None})
        if jack is not None:
            jack.terminate()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="", help="model to show (default: the built-in default)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    ap.add_argument("--no-xvfb", action="store_true", help="use the current $DISPLAY")
    ap.add_argument("--compile", action="store_true", help="torch.compile the DiT (warm-up before the window shows it)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.child or args.no_xvfb:
        return shoot(args.model, args.out, args.compile)
    from ui.xvfb import xvfb
    with xvfb(1920, 1080) as display:   # the child disconnects from X before the server stops
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb")
        cmd = [sys.executable, __file__, "--child", "--model", args.model, "--out", str(args.out),
               *(["--compile"] if args.compile else [])]
        return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main())
