"""Freeze holds the picture on every output while generation keeps its real-time pace (it used to race
ahead at full speed: the playout consumed nothing while frozen, so back-pressure never applied)."""

import time

from sfe_live.app import App, AppSettings


def test_frozen_show_keeps_real_time_pace_and_one_picture() -> None:
    app = App(AppSettings(model="tiny-random", osc=False, threads=1)).load()
    app.start()
    try:
        deadline = time.monotonic() + 30
        while app.latest_frame()[0] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        app.trigger("freeze", True)
        time.sleep(0.3)
        held = app.latest_frame()[0].copy()
        f0, t0 = app.runner.status().block, time.monotonic()
        time.sleep(3.0)
        blocks, dt = app.runner.status().block - f0, time.monotonic() - t0
        fps = blocks * app.engine.stream.frames_per_block * app.bundle.config.vae.temporal_factor / dt
        assert fps < 1.5 * app.engine.stream.fps, fps          # real time, not as fast as the CPU allows
        assert (app.latest_frame()[0] == held).all()            # the audience sees one picture
        app.trigger("freeze", False)
        time.sleep(1.0)
        assert not (app.latest_frame()[0] == held).all()        # and the stream again after
    finally:
        app.stop()
