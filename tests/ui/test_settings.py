"""Settings: round trip, schema migration, corrupt file backup, and the window restoring them."""

import json

from sfe_live.app import AppSettings
from ui import settings as ui_settings
from ui.settings import SCHEMA, UiSettings, migrate


def test_config_dir_honours_env(config_dir) -> None:  # type: ignore[no-untyped-def]
    assert ui_settings.config_dir() == config_dir


def test_round_trip(store) -> None:  # type: ignore[no-untyped-def]
    s = UiSettings(last_model="tiny-random", prompt_history=["a", "b"], reactivity=1, output_screen="HDMI-1",
                   splitters={"main": "AAA="})
    store.save(s)
    data = json.loads(store.path.read_text())
    assert data["schema"] == SCHEMA
    loaded, msg = store.load()
    assert msg is None and loaded == s


def test_missing_file_gives_defaults(store) -> None:  # type: ignore[no-untyped-def]
    assert store.load() == (UiSettings(), None)


def test_migrates_schema_1(store) -> None:  # type: ignore[no-untyped-def]
    store.folder.mkdir(parents=True)
    store.path.write_text(json.dumps({"schema": 1, "model": "demo", "cue_list": "/x/set.toml",
                                      "output": {"screen": "DP-2", "fullscreen": True},
                                      "history": ["neon city"], "reactivity": 2}))
    s, msg = store.load()
    assert msg is None
    assert (s.last_model, s.last_cue_list, s.output_screen, s.output_open_on_start, s.prompt_history,
            s.reactivity) == ("demo", "/x/set.toml", "DP-2", True, ["neon city"], 2)
    assert migrate({"schema": 1})["schema"] == SCHEMA


def test_corrupt_file_is_backed_up(store) -> None:  # type: ignore[no-untyped-def]
    store.folder.mkdir(parents=True)
    store.path.write_text("{not json")
    s, msg = store.load()
    assert s == UiSettings() and msg and "could not be read" in msg
    backups = list(store.folder.glob("ui-settings.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == "{not json"
    assert not store.path.exists()
    for bad in ('[1, 2]', '{"schema": 99}'):          # not an object; a schema from the future
        store.path.write_text(bad)
        assert store.load()[1] is not None
    assert len(list(store.folder.glob("ui-settings.json.corrupt-*"))) == 3


def test_wrong_types_fall_back_per_field(store) -> None:  # type: ignore[no-untyped-def]
    store.folder.mkdir(parents=True)
    store.path.write_text(json.dumps({"schema": SCHEMA, "reactivity": "high", "transition": "blend",
                                      "preview_path": "vulkan", "prompt_history": [1, 2]}))
    s, msg = store.load()
    assert msg is None and s.reactivity == 3 and s.transition == "blend" and s.preview_path == "auto"
    assert s.prompt_history == []


def test_window_saves_and_restores(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    from ui.main_window import MainWindow
    ui, _ = store.load()
    w = MainWindow(AppSettings(model="tiny-random"), store, ui, autoload=False)
    qtbot.addWidget(w)
    w.prompt_bar.history.add("a purple storm")
    w.prompt_bar.set_transition("purge")
    w.controls.set_strength(1, send=False)
    w.resize(720, 520)
    size = w.size()
    w.shutdown()
    s, msg = store.load()
    assert msg is None and s.prompt_history == ["a purple storm"] and s.transition == "purge"
    assert s.reactivity == 1 and s.geometry
    w2 = MainWindow(AppSettings(model="tiny-random"), store, s, autoload=False)
    qtbot.addWidget(w2)
    assert w2.prompt_bar.history.items == ["a purple storm"]
    assert w2.prompt_bar.transition.currentText() == "purge" and w2.controls.strength == 1
    assert w2.size() == size
    w2.shutdown()


def test_window_shows_settings_message(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    from ui.main_window import MainWindow
    w = MainWindow(AppSettings(), store, UiSettings(), "settings file was corrupt", autoload=False)
    qtbot.addWidget(w)
    assert not w.banner.isHidden() and "corrupt" in w.banner.text
    w.shutdown()
