"""Headless GUI benchmark: open the real window, let it generate, measure what a performer feels.

``python -m ui.bench --model tiny-random --seconds 8 --preview gl --out result.json``

Run it under an X server (``--xvfb`` starts a private Xvfb). It reports, as JSON:

* the preview path actually used (``gl`` / ``raster``) and the GL renderer;
* GUI timer lateness while generating (p50 / p95 / max ms: how long the event loop was blocked);
* generated fps (engine), displayed fps (playout ticks), the rate new frames are taken (pacing), the
  longest run of ticks on one frame (a freeze the audience saw) and the preview's own update rate;
* a pixel read-back of the preview (``grabFramebuffer`` on GL) once a second: mean, spread and
  whether consecutive pictures differ — proof that frames reach the screen.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from typing import Any, Optional

import numpy as np

log = logging.getLogger(__name__)


def qimage_to_array(img: Any) -> np.ndarray:
    """A QImage as a ``uint8 [H, W, 3]`` copy."""
    from PySide6.QtGui import QImage
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=h * bpl).reshape(h, bpl)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def run_bench(model: str = "tiny-random", seconds: float = 8.0, preview: str = "auto",
              size: tuple[int, int] = (1440, 900), warmup_timeout: float = 180.0,
              threads: Optional[int] = None, pace: bool = True, compile: bool = False) -> dict[str, Any]:
    os.environ["SFE_LIVE_PREVIEW"] = preview
    os.environ.setdefault("SFE_LIVE_CONFIG_DIR", tempfile.mkdtemp(prefix="sfe-live-bench-"))
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from sfe_live.app import AppSettings
    from sfe_live.model.runtime import RuntimeOptions

    from .main_window import MainWindow
    from .preview import probe_gl
    from .settings import SettingsStore
    from .theme import apply_dark_theme

    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    apply_dark_theme(qapp)  # type: ignore[arg-type]
    w = MainWindow(AppSettings(model=model, osc=False, threads=threads, pace=pace,
                                runtime=RuntimeOptions(compile=compile)), SettingsStore())
    w.resize(*size)
    w.show()

    def pump(until: float, cond: Optional[Any] = None) -> bool:
        """Run Qt's own event loop (as the app does) until ``until`` or, polled every 50 ms, ``cond``;
        a busy loop of processEvents would itself take CPU from the engine being measured."""
        if cond is not None and cond():
            return True
        loop = QEventLoop()
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.setTimerType(Qt.TimerType.PreciseTimer)
        deadline.timeout.connect(loop.quit)
        poll = QTimer()
        poll.setInterval(50)
        if cond is not None:
            poll.timeout.connect(lambda: loop.quit() if cond() else None)
            poll.start()
        remaining_ms = math.ceil((until - time.monotonic()) * 1000)
        if remaining_ms > 0:
            deadline.start(remaining_ms)
            loop.exec()
        deadline.stop()
        poll.stop()
        return cond() if cond is not None else True

    t0 = time.monotonic()
    ok = pump(t0 + warmup_timeout, lambda: w.preview.frames_shown >= 4)
    import torch
    out: dict[str, Any] = {"model": model, "pace": pace, "compile": compile, "torch_threads": torch.get_num_threads(),
                           "preview_path": w.preview.path, "preview_reason": w.preview_reason,
                           "platform": qapp.platformName(), "gl_renderer": probe_gl().renderer,
                           "first_frames_s": round(time.monotonic() - t0, 2), "frames_ok": ok}
    if not ok:
        w.shutdown()
        out["error"] = "no frames reached the preview"
        return out
    work: list[float] = []
    orig_tick = w._tick

    def timed_tick() -> None:
        t = time.perf_counter()
        orig_tick()
        work.append(time.perf_counter() - t)

    w.timer.timeout.disconnect(orig_tick)
    w.timer.timeout.connect(timed_tick)
    w.latency.reset()
    shown0, samples, gen_fps, disp_fps = w.preview.frames_shown, [], [], []
    block0 = w.app.status()["engine"]["block"] if w.app else 0
    start = time.monotonic()
    next_sample = start
    while time.monotonic() - start < seconds:
        pump(min(next_sample, start + seconds))
        if time.monotonic() >= next_sample:
            a = qimage_to_array(w.preview.grab_image())
            samples.append(a)
            st = w.app.status() if w.app else {}
            gen_fps.append(float((st.get("engine") or {}).get("fps", 0.0)))
            disp_fps.append(float(((st.get("outputs") or {}).get("playout") or {}).get("displayed_fps", 0.0)))
            next_sample += 1.0
    elapsed = time.monotonic() - start
    lat = w.latency.stats()
    st = w.app.status() if w.app else {}
    eng = st.get("engine") or {}
    diffs = [float(np.abs(samples[i].astype(np.int16) - samples[i - 1]).mean()) for i in range(1, len(samples))]
    out.update({
        "seconds": round(elapsed, 2),
        "gui_timer_late_ms": {"p50": round(lat.p50_ms, 2), "p95": round(lat.p95_ms, 2), "max": round(lat.max_ms, 2),
                              "ticks": lat.count},
        "gui_work_ms": {"p50": round(float(np.percentile(work, 50)) * 1000, 2),
                        "p95": round(float(np.percentile(work, 95)) * 1000, 2),
                        "max": round(float(np.max(work)) * 1000, 2)} if work else {},
        "cpu_load_1min": round(os.getloadavg()[0], 2),
        "generated_fps": round(float(np.mean(gen_fps[1:] or gen_fps)), 2),
        "displayed_fps": round(float(np.mean(disp_fps[1:] or disp_fps)), 2),
        "preview_fps": round((w.preview.frames_shown - shown0) / elapsed, 2),
        "blocks": int(eng.get("block", 0)) - int(block0),
        "block_ms": round(float(eng.get("block_ms", 0.0)), 1),
        "playout": {k: v for k, v in ((st.get("outputs") or {}).get("playout") or {}).items()
                    if k in ("depth", "underruns", "repeats", "paced_repeats", "longest_still", "content_fps",
                             "late_resyncs")},
        "readback": {"size": list(samples[0].shape[:2]),
                     "std": [round(float(s.std()), 2) for s in samples],
                     "mean_abs_diff": [round(d, 2) for d in diffs]},
    })
    w.shutdown()
    return out


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="tiny-random")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--preview", choices=("auto", "gl", "raster"), default="auto")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: the app's)")
    ap.add_argument("--no-pace", dest="pace", action="store_false", help="the playout without pacing")
    ap.add_argument("--compile", action="store_true", help="torch.compile the DiT (warm-up before the measurement)")
    ap.add_argument("--out", help="write the JSON here (else stdout)")
    ap.add_argument("--xvfb", action="store_true", help="start a private Xvfb first")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    def go() -> int:
        res = run_bench(args.model, args.seconds, args.preview, threads=args.threads, pace=args.pace,
                        compile=args.compile)
        text = json.dumps(res, indent=2)
        if args.out:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            print(text)
        return 0 if res.get("frames_ok") else 1

    if args.xvfb:   # the benchmark runs in a child so Qt disconnects before the server stops
        import subprocess

        from .xvfb import xvfb
        child = [sys.executable, "-m", "ui.bench", *[a for a in (argv if argv is not None else sys.argv[1:])
                                                      if a != "--xvfb"]]
        with xvfb() as display:
            env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb")
            return subprocess.run(child, env=env).returncode
    return go()


if __name__ == "__main__":
    raise SystemExit(main())
