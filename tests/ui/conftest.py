"""UI test fixtures: offscreen Qt, an isolated settings folder, a window around a real tiny-random App."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "config"
    monkeypatch.setenv("SFE_LIVE_CONFIG_DIR", str(d))
    return d


@pytest.fixture
def store(config_dir: Path):  # type: ignore[no-untyped-def]
    from ui.settings import SettingsStore
    return SettingsStore(config_dir)


@pytest.fixture(scope="session")
def live_window(qapp, tmp_path_factory):  # type: ignore[no-untyped-def]
    """One MainWindow with tiny-random loaded (in the background) and running, shared by the tests
    that need a live engine: stopping an engine mid-block on a busy 2-core box takes seconds."""
    import time

    from sfe_live.app import AppSettings
    from ui.main_window import MainWindow
    from ui.settings import SettingsStore

    w = MainWindow(AppSettings(model="tiny-random", osc=False), SettingsStore(tmp_path_factory.mktemp("live-config")))
    w._is_live_fixture = True
    w.show()
    deadline = time.monotonic() + 60
    while w.app is None and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.01)
    assert w.app is not None, "tiny-random did not load"
    yield w
    w.shutdown()


@pytest.fixture
def window(live_window, qtbot) -> Iterator:  # type: ignore[no-untyped-def]
    """The live window, reset to a neutral state around each test (paused in between)."""
    w = live_window

    def reset(paused: bool) -> None:
        w.confirm = lambda title, text: True
        w.set_locked(False)
        if w.output_visible:
            w.output.close()
        w.controller.take_ui_actions()
        w.banner.clear()
        w.cue_panel.set_cue_list(None)
        w.prompt_bar.edit.clear()
        w.prompt_bar.set_transition("cut", 4)
        for action, value in (("pause.toggle", paused), ("seed.lock", False), ("driftguard.toggle", False),
                              ("v2v.set", 0.0), ("memory.set", 1.0), ("reactivity.set", 3)):
            w.controller.trigger(action, value)
        # the window mirrors the engine's published state on its timer: wait until the engine has taken
        # the pause, so a stale status cannot re-check the button after the sync below (a CI flake)
        qtbot.waitUntil(lambda: w.app.engine_status().paused == paused, timeout=10_000)
        w.controls.set_strength(3, send=False)
        w.controls.sync({"paused": paused, "seed_locked": False, "drift_guard": False, "memory": 1.0,
                         "v2v_amount": 0.0, "reactivity": 3})

    reset(paused=False)
    yield w
    reset(paused=True)          # an idle engine between tests leaves the CPU to the others


@pytest.fixture
def sent(window) -> Iterator[list]:  # type: ignore[no-untyped-def]
    """Every command the window hands to the engine, in order (wraps the runner's submit)."""
    log: list = []
    runner = window.app.runner
    orig = runner.submit

    def spy(cmd):  # type: ignore[no-untyped-def]
        log.append(cmd)
        orig(cmd)

    runner.submit = spy
    yield log
    del runner.submit          # back to the class's method


CUE_TOML = """schema = 1
name = "Test list"

[[cue]]
name = "one"
prompt = "a red ball"

[[cue]]
name = "two"
prompt = "a green forest"
transition = "blend"
blend_blocks = 6

[[cue]]
prompt = "a blue sea"
transition = "purge"
strength = 2
"""


@pytest.fixture
def cue_file(tmp_path: Path) -> Path:
    p = tmp_path / "test_cues.toml"
    p.write_text(CUE_TOML, encoding="utf-8")
    return p
