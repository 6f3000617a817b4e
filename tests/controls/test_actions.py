"""The action registry: ids, kinds, value coercion, and the commands actions become."""

from __future__ import annotations

import pytest

from sfe_live.controls.actions import (DEFAULT_REGISTRY, KINDS, ActionValueError, Perform, UnknownActionError,
                                       steps_for, to_bool)
from sfe_live.engine import commands as C

REQUIRED = ["cue.go", "cue.next", "cue.prev", "prompt.set", "purge", "reactivity.set", "memory.set",
            "transition.set", "blend.blocks", "seed.new", "seed.lock", "pause.toggle", "driftguard.toggle",
            "record.toggle", "vcam.toggle", "output.fullscreen", "blackout", "freeze", "tempo.tap"]


def test_registry_has_the_issue_vocabulary():
    for a in REQUIRED:
        assert a in DEFAULT_REGISTRY
    for spec in DEFAULT_REGISTRY:
        assert spec.kind in KINDS and spec.title and spec.description
        assert spec.osc is None or spec.osc.startswith("/sfe/")


def test_unknown_action_lists_valid_ids():
    with pytest.raises(UnknownActionError) as e:
        DEFAULT_REGISTRY.get("purge.now")
    msg = str(e.value)
    assert "purge.now" in msg and "memory.set" in msg and "cue.go" in msg


@pytest.mark.parametrize("action,value,expected", [
    ("memory.set", 0.25, 0.25), ("memory.set", 1, 1.0), ("memory.set", 7.5, 1.0), ("memory.set", "0.5", 0.5),
    ("reactivity.set", 2.4, 2), ("reactivity.set", 2.6, 3), ("reactivity.set", -3, 0),
    ("purge", None, None), ("purge", 2, 2), ("purge", 1.0, 1),
    ("pause.toggle", True, True), ("pause.toggle", 0, False), ("pause.toggle", 0.7, True), ("pause.toggle", "F", False),
    ("transition.set", "PURGE", "purge"), ("transition.set", 2, "blend"), ("transition.set", 0.99, "recache"),
    ("transition.set", 0.0, "cut"), ("prompt.set", "  a cat ", "a cat"), ("cue.go", 3, 3), ("cue.next", 1, None),
])
def test_coerce(action, value, expected):
    assert DEFAULT_REGISTRY.get(action).coerce(value) == expected


@pytest.mark.parametrize("action,value", [("prompt.set", ""), ("prompt.set", None), ("memory.set", "loud"),
                                          ("memory.set", float("nan")), ("transition.set", "wipe"),
                                          ("pause.toggle", "maybe"), ("cue.go", None)])
def test_coerce_rejects(action, value):
    with pytest.raises(ActionValueError):
        DEFAULT_REGISTRY.get(action).coerce(value)


def test_to_bool_conventions():
    assert to_bool("T") and to_bool("true") and to_bool(1) and to_bool(0.51)
    assert not to_bool("F") and not to_bool(0) and not to_bool(0.5) and not to_bool("off")


def test_engine_commands():
    p = Perform(transition="blend", blend_blocks=6, blend_mode="slerp")
    r = DEFAULT_REGISTRY
    assert r.get("prompt.set").command("a cat", p) == C.SetPrompt("a cat", "blend", None, 6, "slerp")
    assert r.get("purge").command(None, p) == C.Purge(None)
    assert r.get("purge").command(2, p) == C.Purge(2)
    assert r.get("memory.set").command(0.3, p) == C.SetMemory(0.3)
    assert r.get("pause.toggle").command(None, p) == C.TogglePause()
    assert r.get("pause.toggle").command(True, p) == C.SetPaused(True)
    assert r.get("seed.lock").command(False, p) == C.LockSeed(False)
    assert r.get("steps.set").command(4, p) == C.SetSteps((1000, 750, 500, 250))
    assert steps_for(2) == (1000, 500)
    for spec in r:
        assert (spec.command is None) or spec.group == "engine"


def test_osc_addresses_are_unique_and_cover_the_issue():
    osc = DEFAULT_REGISTRY.osc_map()
    for addr, action in [("/sfe/prompt", "prompt.set"), ("/sfe/purge", "purge"), ("/sfe/reactivity", "reactivity.set"),
                         ("/sfe/memory", "memory.set"), ("/sfe/cue/go", "cue.go"), ("/sfe/cue/next", "cue.next"),
                         ("/sfe/cue/prev", "cue.prev"), ("/sfe/seed/new", "seed.new"), ("/sfe/pause", "pause.toggle")]:
        assert osc[addr].id == action
