"""Helpers for the remote tests: real ``sfe-live serve`` and client processes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import pytest

pytest.importorskip("aiortc")

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A child process whose combined output is collected line by line on a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.p = subprocess.Popen([sys.executable, "-m", "ui.entry", *args], cwd=REPO, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def out(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(text in line for line in self.lines):
                return True
            if self.p.poll() is not None:
                time.sleep(0.2)
                return any(text in line for line in self.lines)
            time.sleep(0.1)
        return False

    def stop(self, sig: Optional[int] = None, timeout: float = 30) -> int:
        import signal
        if self.p.poll() is None:
            self.p.send_signal(sig or signal.SIGINT)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait(10)
        self._t.join(5)
        return rc


def env_for(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, SFE_LIVE_CONFIG_DIR=str(tmp / "cfg"), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("SFE_LIVE_TOKEN", None)
    return env


def serve(tmp: Path, port: int, *extra: str) -> Proc:
    p = Proc(["serve", "--model", "tiny-random", "--port", str(port), "--token", TOKEN, "--threads", "1", *extra],
             env_for(tmp))
    if not p.wait_for("listening on", 90):
        p.stop()
        pytest.fail(f"serve did not start:\n{p.out[-3000:]}")
    return p


def status(port: int, token: str = TOKEN) -> dict[str, Any]:
    from sfe_live.remote.signalling import request_json
    code, obj = request_json(f"http://127.0.0.1:{port}", "/status", token, timeout=5)
    assert code == 200, (code, obj)
    return obj


def wait_until(fn: Any, timeout: float, step: float = 0.2) -> Any:
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
            if last:
                return last
        except (OSError, AssertionError):
            pass
        time.sleep(step)
    return last


class InProcessServer:
    """A ``RemoteServer`` around a real tiny-random ``App`` on its own asyncio thread."""

    def __init__(self, port: int) -> None:
        from sfe_live.app import App, AppSettings
        from sfe_live.remote.server import RemoteServer
        self.app = App(AppSettings(model="tiny-random", osc=False, threads=1)).load()
        self.server = RemoteServer(self.app, TOKEN)
        self.server.attach_outputs()
        self.port = port
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._t = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        await self.server.run("127.0.0.1", self.port, None, self._stop, lambda p: self.ready.set())

    def start(self) -> "InProcessServer":
        self.app.start()
        self._t.start()
        assert self.ready.wait(20)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._t.join(10)
        self.app.stop()
