"""The headless app end to end: a real process, real OSC over UDP loopback, a real recording."""

import os
import signal
import socket
import subprocess
import sys
import time

import av
import numpy as np
import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def osc(addr, *args):
    b = OscMessageBuilder(addr)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def query(sock, port, name, timeout=5.0):
    sock.sendto(osc(f"/sfe/get/{name}"), ("127.0.0.1", port))
    sock.settimeout(timeout)
    end = time.time() + timeout
    while time.time() < end:
        data, _ = sock.recvfrom(65536)
        msg = OscMessage(data)
        if msg.address == f"/sfe/{name}":
            return msg.params[0]
    raise TimeoutError(name)


def test_run_headless_osc_and_recording(tmp_path):
    port = free_udp_port()
    rec = tmp_path / "rec"
    env = {**os.environ, "SFE_LIVE_CONFIG_DIR": str(tmp_path / "cfg"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ui.entry", "run", "--headless", "--model", "tiny-random",
                             "--osc-port", str(port), "--record", str(rec), "--prompt", "a red ball"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        deadline = time.time() + 120
        block = None
        while time.time() < deadline:
            try:
                block = query(sock, port, "block", timeout=1.0)
                if block >= 1:
                    break
            except (TimeoutError, socket.timeout, ConnectionRefusedError):
                time.sleep(0.5)
        assert block is not None and block >= 1, "engine did not start"
        sock.sendto(osc("/sfe/prompt", "a blue square"), ("127.0.0.1", port))
        sock.sendto(osc("/sfe/purge", 2), ("127.0.0.1", port))
        sock.sendto(osc("/sfe/memory", 0.6), ("127.0.0.1", port))
        sock.sendto(b"\x00garbage\xff", ("127.0.0.1", port))             # malformed: ignored
        time.sleep(3.0)
        assert query(sock, port, "prompt") == "a blue square"
        assert abs(query(sock, port, "memory") - 0.6) < 1e-6
        time.sleep(2.0)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        sock.close()
        print(out[-4000:])                       # shown by pytest only when the test fails (e.g. no block)
    assert proc.returncode == 0, out
    assert "stopped cleanly" in out
    files = list(rec.glob("*.mp4"))
    assert len(files) == 1
    with av.open(str(files[0])) as c:
        n = sum(1 for _ in c.decode(video=0))
        assert c.streams.video[0].average_rate == 16
    assert n > 16


def test_blackout_and_freeze_handlers():
    from sfe_live.app import App, AppSettings
    app = App(AppSettings(model="tiny-random", osc=False, realtime=False)).load()
    try:
        app.start()
        deadline = time.time() + 60
        while app.latest_frame()[0] is None and time.time() < deadline:
            time.sleep(0.05)
        assert app.trigger("blackout", True)
        time.sleep(0.3)
        frame, _ = app.latest_frame()
        assert frame is not None and frame.max() == 0
        assert app.trigger("blackout", False)
        assert app.trigger("freeze", True)
        time.sleep(0.3)
        held, seq = app.latest_frame()
        time.sleep(0.6)
        assert app.latest_frame()[1] == seq or np.array_equal(app.latest_frame()[0], held)
    finally:
        app.stop()


def test_an_app_is_either_not_loaded_or_fully_built():
    from sfe_live.app import App, AppSettings
    from sfe_live.controls.keys import KeyMap
    from sfe_live.engine import commands as C
    from sfe_live.engine.runner import EngineStatus
    from sfe_live.show.cues import CuePlayer
    from ui.controller import Controller

    app = App(AppSettings(model="tiny-random", osc=False, realtime=False))
    assert not app.loaded and app.latest_frame() == (None, -1) and set(app.status()) == {"messages"}
    app.stop()                                                    # nothing to stop: no error
    with pytest.raises(RuntimeError, match="not loaded yet"):
        app.submit(C.Purge(1))
    with pytest.raises(RuntimeError, match="App.load"):
        Controller().attach(app)
    app.load()
    try:
        assert app.loaded and app.router is app.hub.router
        assert isinstance(app.hub.cues, CuePlayer) and isinstance(app.hub.keys, KeyMap)
        assert isinstance(app.engine_status(), EngineStatus)
        assert {"engine", "outputs", "model", "controls", "messages"} <= set(app.status())
        ctl = Controller()
        ctl.attach(app)
        assert ctl.cues is app.hub.cues and ctl.keymap is app.hub.keys and ctl.ready
    finally:
        app.stop()


def test_run_headless_exits_2_when_asked_parts_fail(tmp_path, capsys, monkeypatch):
    """Issue 11 item 10: a taken OSC port or a missing cue list is one line and exit status 2."""
    from sfe_live import cli

    monkeypatch.setenv("SFE_LIVE_CONFIG_DIR", str(tmp_path / "cfg"))
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        code = cli.main(["run", "--headless", "--model", "tiny-random", "--osc-port", str(port), "--duration", "30"])
    finally:
        taken.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(port) in err[0] and err[0].startswith("sfe-live: error:")
    code = cli.main(["run", "--headless", "--model", "tiny-random", "--osc-port", str(free_udp_port()),
                     "--cues", str(tmp_path / "no-such-list.toml"), "--duration", "30"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no-such-list" in err[0]


def test_a_stop_that_hangs_dumps_its_stacks_and_exits(tmp_path):
    """A part that never returns from stop (a driver, a socket) must not leave a headless show that cannot
    be quit: past the deadline every thread's stack goes to stderr and the process exits with status 1."""
    import subprocess
    import sys
    import textwrap
    import time
    code = textwrap.dedent("""
        import threading, time
        import sfe_live.app as A
        A.STOP_DEADLINE_S = 1.0
        class Hangs:
            def status(self):
                return {}
            def stop(self):
                threading.Event().wait()          # never returns
        A.run_until_stopped(Hangs(), 0.2, lambda st: "")
        print("returned")
    """)
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    assert "returned" not in p.stdout and "in stop" in p.stderr, p.stderr[-2000:]
    assert time.monotonic() - t0 < 30


def test_a_slow_part_is_named_when_the_app_stops(caplog, monkeypatch):
    """App.stop stops controls, engine, outputs and the log in turn; one slower than SLOW_STOP_S is named."""
    import logging
    import time
    import sfe_live.app as A
    app = A.App.__new__(A.App)
    order = []

    class Part:
        def __init__(self, name, pause=0.0):
            self.name, self.pause = name, pause

        def stop(self):
            time.sleep(self.pause)
            order.append(self.name)

    app.hub, app.runner, app.outputs = Part("hub"), Part("runner", 0.3), Part("outputs")
    app.loaded = True
    monkeypatch.setattr(A.App, "write_command_log", lambda self: order.append("log"))
    monkeypatch.setattr(A, "SLOW_STOP_S", 0.2)
    with caplog.at_level(logging.WARNING, logger="sfe_live.app"):
        app.stop()
    assert order == ["hub", "runner", "outputs", "log"]
    assert [r.getMessage() for r in caplog.records if "took" in r.getMessage()] == ["stopping engine took 0.3 s"]
