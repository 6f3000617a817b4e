"""The real window under Xvfb with tiny-random: frames reach the GL preview (pixels read back with
grabFramebuffer change over time and are not uniform); GUI latency and fps are measured and printed.

Runs ``python -m ui.bench`` in a child process on a private Xvfb display (the rest of the suite uses
the offscreen platform, which has no GL widgets, and a process has only one Qt platform).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]


@pytest.mark.skipif(shutil.which("Xvfb") is None,
                    reason="Xvfb not installed (apt-get install xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0)")
def test_frames_reach_the_gl_preview_under_xvfb(tmp_path, record_property) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bench.json"
    env = dict(os.environ, SFE_LIVE_CONFIG_DIR=str(tmp_path / "cfg"), OMP_NUM_THREADS="1")
    env.pop("QT_QPA_PLATFORM", None)
    proc = subprocess.run([sys.executable, "-m", "ui.bench", "--xvfb", "--preview", "gl", "--seconds", "5",
                           "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=150)
    assert out.exists(), f"bench wrote nothing (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    res = json.loads(out.read_text())
    print(json.dumps({k: v for k, v in res.items() if k != "readback"}, indent=1))
    for key in ("gui_timer_late_ms", "gui_work_ms", "generated_fps", "displayed_fps", "preview_fps"):
        record_property(key, res.get(key))
    assert res["platform"] == "xcb" and res["preview_path"] == "gl", res
    assert res["frames_ok"], res
    rb = res["readback"]
    assert len(rb["std"]) >= 3
    assert min(rb["std"]) > 5.0, "the preview is uniform (no picture)"
    assert max(rb["mean_abs_diff"]) > 1.0, "the preview never changed"
    assert res["preview_fps"] > 2.0 and res["displayed_fps"] > 2.0
