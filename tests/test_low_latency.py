"""Low-latency mode: 1 latent frame per block, a 1-frame playout prebuffer, one block of look-ahead."""

from sfe_live.app import App, AppSettings, playout_config, runner_lookahead


def test_low_latency_builds_the_short_path() -> None:
    app = App(AppSettings(model="tiny-random", osc=False, low_latency=True)).load()
    s = app.engine.stream
    assert s.frames_per_block == 1
    block_s = s.frames_per_block * app.bundle.config.vae.temporal_factor / s.fps
    assert app.runner.lookahead_s == block_s
    assert app.outputs._playout.playout.config.prebuffer == 1


def test_normal_mode_keeps_its_slack() -> None:
    assert playout_config(False).prebuffer == 4 and playout_config(True).prebuffer == 1
    assert runner_lookahead(0.1875, False) == 0.5 and runner_lookahead(0.75, False) == 1.125
    assert runner_lookahead(0.25, True) == 0.25


def test_show_state_is_readable_like_any_other_state(tmp_path) -> None:
    """/sfe/get/recording, /blackout, /freeze, /vcam answer from the outputs' real state."""
    import time
    from sfe_live.outputs.options import OutputOptions
    app = App(AppSettings(model="tiny-random", osc=False, outputs=OutputOptions(record_dir=str(tmp_path)))).load()
    app.start()
    try:
        assert {k: app.router.get(k) for k in ("recording", "blackout", "freeze", "vcam")} == \
            {"recording": False, "blackout": False, "freeze": False, "vcam": False}
        app.trigger("record.toggle")
        app.trigger("blackout")
        deadline = time.monotonic() + 20
        while not app.router.get("recording") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.router.get("recording") is True and app.router.get("blackout") is True
    finally:
        app.stop()
