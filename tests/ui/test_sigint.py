"""Issue 11 item 12: Ctrl-C (SIGINT) closes the window cleanly instead of a KeyboardInterrupt
traceback from an event filter while the show runs on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
from sfe_live.app import AppSettings
from ui.main import run_gui
sys.exit(run_gui(AppSettings(model="tiny-random", osc=False)))
"""


def test_sigint_closes_the_gui(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SFE_LIVE_CONFIG_DIR=str(tmp_path / "config"),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    err = tmp_path / "stderr.txt"
    with open(err, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stderr=fh, stdout=subprocess.DEVNULL,
                                cwd=Path(__file__).resolve().parents[2])
        try:
            deadline = time.monotonic() + 120
            while "model tiny-random ready" not in err.read_text(errors="replace"):
                assert proc.poll() is None and time.monotonic() < deadline, err.read_text(errors="replace")
                time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = err.read_text(errors="replace")
    assert code == 0, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert "Ctrl-C" in text                              # one line says why it closed
