"""Fixtures for the controls suite: a recording fake engine, routers, and a JACK dummy server."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from sfe_live.engine import commands as C



class FakeEngine:
    """Records every submitted command and keeps a status dict like the runner's."""

    def __init__(self) -> None:
        self.commands: list[C.Command] = []
        self.lock = threading.Lock()
        self.state: dict[str, Any] = {"prompt": "", "block": 0, "fps": 16.0, "reactivity": 3,
                                      "memory": 1.0, "paused": False, "seed": 7}

    def submit(self, cmd: C.Command) -> None:
        with self.lock:
            self.commands.append(cmd)
            s = self.state
            if isinstance(cmd, C.SetPrompt):
                s["prompt"] = cmd.text
            elif isinstance(cmd, C.SetReactivity):
                s["reactivity"] = cmd.strength
            elif isinstance(cmd, C.SetMemory):
                s["memory"] = cmd.value
            elif isinstance(cmd, C.SetPaused):
                s["paused"] = cmd.paused
            elif isinstance(cmd, C.TogglePause):
                s["paused"] = not s["paused"]
            elif isinstance(cmd, C.SetSeed):
                s["seed"] = cmd.seed
            elif isinstance(cmd, C.NewSeed):
                s["seed"] += 1

    def status(self) -> dict[str, Any]:
        with self.lock:
            return dict(self.state)

    def of(self, kind: type) -> list[Any]:
        with self.lock:
            return [c for c in self.commands if isinstance(c, kind)]


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def router(engine: FakeEngine):
    from sfe_live.controls.router import ActionRouter
    return ActionRouter(engine.submit, engine.status)


def wait_for(pred, timeout: float = 3.0, step: float = 0.005) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
