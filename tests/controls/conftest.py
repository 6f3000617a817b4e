"""Fixtures for the controls suite: a recording fake engine, routers, and a JACK dummy server."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from typing import Any, Iterator

import pytest

from sfe_live.engine import commands as C

os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never let a client autostart jackd


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


@pytest.fixture(scope="session")
def jack_server() -> Iterator[str]:
    """A JACK dummy server (real virtual MIDI ports and an audio device); skipped without jackd."""
    jackd = shutil.which("jackd")
    if jackd is None:
        pytest.skip("jackd not installed (apt-get install --no-install-recommends jackd2)")
    name = f"sfe-test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    proc = subprocess.Popen([jackd, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "512"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    lsp = shutil.which("jack_lsp")
    ok = False
    for _ in range(100):
        if proc.poll() is not None:
            break
        if lsp and subprocess.run([lsp], env=env, capture_output=True).returncode == 0:
            ok = True
            break
        time.sleep(0.05)
    if not ok:
        proc.kill()
        pytest.skip("jackd did not start")
    try:
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
