"""The command log set during a show: complete from the show's start, or one line saying why not."""

from sfe_live.app import LIVE_LOG_LIMIT, App, AppSettings
from sfe_live.engine import commands as C


def test_log_set_after_the_show_trimmed_its_memory_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("SFE_LIVE_CONFIG_DIR", str(tmp_path / "cfg"))
    app = App(AppSettings(model="tiny-random", osc=False, controls={"midi_enabled": False})).load()
    assert app.engine.log_limit == LIVE_LOG_LIMIT                     # no log asked for: bounded memory
    assert app.set_command_log(str(tmp_path / "early.jsonl")) == "" and app.engine.log_limit is None
    assert app.set_command_log(None) == "" and app.engine.log_limit == LIVE_LOG_LIMIT
    for _ in range(2 * LIVE_LOG_LIMIT + 1):                            # a long show's faders
        app.engine.apply(C.SetMemory(value=0.5))
    assert app.engine.log_dropped > 0
    path = tmp_path / "late.jsonl"
    why = app.set_command_log(str(path))
    assert why.startswith("command log: the first") and "next start" in why
    app.stop()                                                         # never raises; one line instead
    assert not path.exists()
    assert any(m.startswith(f"command log not written to {path}") for m in app.messages)
