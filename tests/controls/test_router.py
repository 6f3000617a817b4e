"""ActionRouter: engine commands, app handlers, toggles, state and listeners."""

from __future__ import annotations

import pytest

from sfe_live.controls.actions import UnknownActionError
from sfe_live.controls.router import ActionRouter
from sfe_live.engine import commands as C
from sfe_live.engine.runner import EngineStatus


def test_engine_actions_become_commands(router, engine):
    router.trigger("prompt.set", "a cat walking")
    router.trigger("purge", 2)
    router.trigger("memory.set", 0.4)
    router.trigger("seed.new")
    assert engine.commands == [C.SetPrompt("a cat walking"), C.Purge(2), C.SetMemory(0.4), C.NewSeed()]


def test_transition_setting_shapes_prompt(router, engine):
    router.trigger("transition.set", "purge")
    router.trigger("blend.blocks", 8)
    router.trigger("prompt.set", "rocket")
    assert engine.commands[-1] == C.SetPrompt("rocket", "purge", None, 8, "linear")
    assert router.state()["transition"] == "purge"
    assert len(engine.commands) == 1  # settings are not engine commands


def test_unknown_and_bad_values(router, engine):
    with pytest.raises(UnknownActionError):
        router.trigger("explode")
    assert router.try_trigger("explode") is False
    assert router.trigger("memory.set", "loud") is False
    assert engine.commands == []


def test_app_handlers_and_toggles(router):
    got = []
    router.register_handler("record.toggle", got.append)
    router.trigger("record.toggle")
    router.trigger("record.toggle")
    router.trigger("record.toggle", True)
    assert got == [True, False, True]
    assert router.state()["recording"] is True
    router.set_local("recording", False)  # the app reports a change made elsewhere
    router.trigger("record.toggle")
    assert got[-1] is True


def test_missing_handler_is_not_fatal(router):
    assert router.trigger("blackout") is False


def test_handler_exception_is_contained(router):
    def boom(v):
        raise RuntimeError("x")
    router.register_handler("freeze", boom)
    assert router.trigger("freeze", True) is False
    assert router.errors == 1


def test_pause_toggle_flips_in_engine(router, engine):
    router.trigger("pause.toggle")
    router.trigger("pause.toggle", True)
    assert engine.commands == [C.TogglePause(), C.SetPaused(True)]


def test_state_merges_status_providers_and_strength(router, engine):
    router.add_state_provider("cues", lambda: {"cue": 2})
    st = router.state()
    assert st["cue"] == 2 and st["memory"] == 1.0 and st["strength"] == 3 and st["fps"] == 16.0
    router.trigger("reactivity.set", 1)
    assert router.get("strength") == 1


def test_the_runners_status_is_accepted(engine):
    r = ActionRouter(engine.submit, lambda: EngineStatus(prompt="x", block=4))
    assert r.state()["block"] == 4 and r.state()["prompt"] == "x"


def test_listeners_see_every_action(router):
    seen = []
    router.add_listener(lambda a, v, s: seen.append((a, v, s)))
    router.trigger("purge", 1, source="midi")
    assert seen == [("purge", 1, "midi")]
    assert router.counts == {"midi": 1}


def test_current_prefers_last_routed_value(router, engine):
    assert router.current("memory.set") == 1.0
    router.trigger("memory.set", 0.2)
    assert router.current("memory.set") == 0.2


def test_purge_mode_action(router, engine):
    """purge.mode (OSC /sfe/purge/mode, MIDI) sets what purges keep; a bad mode never reaches the engine."""
    router.trigger("purge.mode", "keep-last")
    router.trigger("purge", 3)
    assert engine.commands == [C.SetPurgeMode("keep-last"), C.Purge(3)]
    assert router.trigger("purge.mode", "keep-most") is False
    assert len(engine.commands) == 2
