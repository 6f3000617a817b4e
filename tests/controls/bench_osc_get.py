"""Benchmark (not collected by pytest): the ``/sfe/get`` amplification of one hostile packet.

A 65 KB OSC bundle made only of ``/sfe/get`` requests is sent once over real UDP (python-osc) to
an :class:`OscServer` whose state holds a 60,000-character prompt (a prompt that long is legal).
Counts every reply datagram that comes back within 3 s and prints the amplification factor
(reply bytes / request bytes), plus how long a second client's ``/sfe/memory`` command and
``/sfe/get/block`` query waited while the server worked through the bundle.

    python tests/controls/bench_osc_get.py
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from sfe_live.controls.osc import OscServer
from sfe_live.controls.router import ActionRouter
from sfe_live.engine import commands as C


def msg(addr, *args):
    b = OscMessageBuilder(address=addr)
    for a in args:
        b.add_arg(a)
    return b.build()


def main() -> None:
    state = {"prompt": "x" * 60_000, "block": 1, "memory": 1.0, "fps": 16.0, "paused": False, "seed": 1,
             "reactivity": 3}
    got_cmd: list[float] = []

    def submit(cmd):
        if isinstance(cmd, C.SetMemory):
            got_cmd.append(time.monotonic())

    router = ActionRouter(submit, lambda: state)
    srv = OscServer(router, port=0)
    srv.start()
    names = ["", "/prompt", "/block", "/memory"]
    bb = OscBundleBuilder(IMMEDIATELY)
    size, n = 16, 0
    while True:
        m = msg("/sfe/get" + names[n % len(names)])
        if size + 4 + m.size > 65_000:
            break
        bb.add_content(m)
        size += 4 + m.size
        n += 1
    bundle = bb.build().dgram
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024 * 1024)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    counts = {"replies": 0, "bytes": 0, "last": time.monotonic()}
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            try:
                data = rx.recv(65536)
            except socket.timeout:
                continue
            counts["replies"] += 1
            counts["bytes"] += len(data)
            counts["last"] = time.monotonic()

    th = threading.Thread(target=drain, daemon=True)
    th.start()
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    other.settimeout(60)
    rx.sendto(bundle, ("127.0.0.1", srv.port))
    time.sleep(0.01)
    t_cmd = time.monotonic()
    other.sendto(msg("/sfe/memory", 0.5).dgram, ("127.0.0.1", srv.port))
    other.sendto(msg("/sfe/get/block").dgram, ("127.0.0.1", srv.port))
    try:
        other.recv(65536)
        query_wait = time.monotonic() - t_cmd
    except socket.timeout:
        query_wait = None
    while time.monotonic() - counts["last"] < 2.0 or srv.status()["messages"] < n + 2:
        time.sleep(0.2)
    stop.set()
    th.join()
    replies, nbytes = counts["replies"], counts["bytes"]
    status = srv.status()
    srv.stop()
    out = {"server": {k: status[k] for k in ("packets", "messages", "replies", "errors", "malformed")},"requests_in_bundle": n, "request_bytes": len(bundle), "replies_received": replies, "replies_sent": status["replies"], "reply_bytes": nbytes,
           "amplification_received": round(nbytes / len(bundle), 3),
           "other_client_command_wait_ms": round(1000 * (got_cmd[0] - t_cmd), 1) if got_cmd else None,
           "other_client_query_wait_ms": None if query_wait is None else round(1000 * query_wait, 1)}
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
