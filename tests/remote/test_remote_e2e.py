"""A real ``sfe-live serve`` and a real ``sfe-live run --headless --remote`` over 127.0.0.1.

One show, end to end: frames arrive, decode and are recorded by the laptop side; ``/sfe/prompt``,
cue GO and purge sent by OSC to the *client* land on the *server* at its next block (read back from
the server's command log); a wrong or missing token and a second controlling client are refused
(one line, exit 2); the server is killed and restarted mid-show and the client reconnects by itself
and frames resume.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import av
import numpy as np
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from sfe_live.remote.link import RemoteLink

from .conftest import TOKEN, Proc, env_for, free_port, serve, status, wait_until

pytestmark = pytest.mark.slow

CUES = """schema = 1
name = "remote test"
quantize = "none"

[[cue]]
name = "one"
prompt = "cue one: a green circle"
transition = "cut"

[[cue]]
name = "two"
prompt = "cue two: a yellow square"
transition = "cut"
"""


def osc(addr: str, *args: object) -> bytes:
    b = OscMessageBuilder(addr)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def client(tmp, port: int, *extra: str) -> Proc:
    return Proc(["run", "--headless", "--remote", f"http://127.0.0.1:{port}", *extra], env_for(tmp))


def refused(tmp, port: int, *extra: str) -> tuple[int, list[str]]:
    p = client(tmp, port, "--duration", "5", *extra)
    try:
        rc = p.p.wait(180)                  # python + torch start slowly on a loaded machine
    except subprocess.TimeoutExpired:
        p.stop()
        pytest.fail(f"the refused client did not exit:\n{p.out[-2000:]}")
    p._t.join(5)
    return rc, [line for line in p.lines if "error:" in line]


def test_remote_show_end_to_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port, osc_port = free_port(), free_port(socket.SOCK_DGRAM)
    cues = tmp_path / "remote-test.toml"
    cues.write_text(CUES)
    rec = tmp_path / "rec"
    server = serve(tmp_path, port, "--cues", str(cues))
    bridge = client(tmp_path, port, "--token", TOKEN, "--record", str(rec), "--duration", "120",
                    "--osc-port", str(osc_port))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        st = wait_until(lambda: (s := status(port))["client"] and s["client"]["frames"] > 8 and s, 90)
        assert st, f"no frames reached the client:\n{bridge.out[-3000:]}"
        assert bridge.wait_for("OSC listening", 30), bridge.out[-2000:]

        # OSC to the laptop -> actions over the data channel -> the server's router -> its next block
        b0 = int(status(port)["engine"]["block"])
        for msg in (osc("/sfe/prompt", "a blue square"), osc("/sfe/cue/go", 2), osc("/sfe/purge", 2)):
            sock.sendto(msg, ("127.0.0.1", osc_port))

        def landed() -> list[dict]:
            log = [e for e in status(port)["log"] if e["block"] > 0]
            # a prompt replaced before its block edge is logged as superseded: it arrived, in order
            want = [e for e in log if (e["command"] in ("SetPrompt", "SupersededPrompt") and e["args"]["text"] in
                                       ("a blue square", "cue two: a yellow square")) or e["command"] == "Purge"]
            return want if len(want) >= 3 else []
        entries = wait_until(landed, 20)
        assert entries, f"commands did not reach the server: {status(port)['log']}\n{bridge.out[-3000:]}"
        assert [e["args"].get("text", e["command"]) for e in entries] == \
            ["a blue square", "cue two: a yellow square", "Purge"]       # FIFO, as sent
        assert entries[2]["args"]["strength"] == 2
        for e in entries:                                                 # the next block(s), not later
            assert b0 <= e["block"] <= b0 + 3, (b0, entries)
        assert wait_until(lambda: status(port)["engine"]["prompt"] == "cue two: a yellow square", 10)

        # refused: wrong token, missing token, a second controlling client (one line, exit 2)
        rc, errs = refused(tmp_path, port, "--token", "not-the-token")
        assert rc == 2 and len(errs) == 1 and "wrong token" in errs[0], errs
        for token, reason in ((None, "--token"), (TOKEN, "another client is in control")):
            link = RemoteLink(f"http://127.0.0.1:{port}", token, lambda f: None).start()  # in-process: quicker
            assert not link.wait_connected(15) and link.done.is_set()
            assert reason in link.error and link.refused_status in (401, 409), link.error
        assert status(port)["refused"] >= 2

        # kill the server mid-show, start it again: the client reconnects by itself, frames resume
        frames_before = status(port)["client"]["frames"]
        assert frames_before > 0
        server.stop(signal.SIGKILL)
        t_kill = time.monotonic()
        assert bridge.wait_for("reconnecting", 15), bridge.out[-2000:]
        server = serve(tmp_path, port, "--cues", str(cues))
        st = wait_until(lambda: (s := status(port))["client"] and s["client"]["frames"] > 8 and s, 60)
        assert st, f"frames did not resume after the restart:\n{bridge.out[-3000:]}"
        print(f"killed -> frames again after {time.monotonic() - t_kill:.1f} s (includes the server's start)")
        assert bridge.wait_for("reconnected to", 5)
        time.sleep(1.0)
    finally:
        sock.close()
        rc = bridge.stop()
        server.stop()
    assert rc == 0, bridge.out[-3000:]
    assert "stopped cleanly" in bridge.out
    files = list(rec.glob("*.mp4"))
    assert len(files) == 1, files
    with av.open(str(files[0])) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) > 32
    assert frames[0].shape == (64, 64, 3)
    assert float(np.std(np.stack(frames[-10:]))) > 2.0, "the recording is uniform"
