"""Frames dropped with and without a 30 Hz OSC fader (issue 11 item 2), measured end to end.

Runs ``sfe-live run --headless`` (the default demo model unless ``--model``) for ``--seconds``,
alternately without and with a python-osc client sending ``/sfe/memory`` at 30 Hz, and prints the
run's own summary line (blocks, frames generated, dropped and repeated by the playout)::

    python scripts/fader_run.py --seconds 20 --rounds 1
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import subprocess
import sys
import threading
import time

from pythonosc.udp_client import SimpleUDPClient


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_run(model: str, seconds: float, fader: bool, threads: int, size: str = "") -> str:
    port = free_port()
    cmd = [sys.executable, "-m", "ui.entry", "run", "--headless", "--osc-port", str(port),
           "--duration", str(seconds), "--threads", str(threads)] + (["--model", model] if model else []) + (["--size", size] if size else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    stop = threading.Event()
    sent = [0]

    def move() -> None:
        client = SimpleUDPClient("127.0.0.1", port)
        t0 = time.perf_counter()
        while not stop.is_set():
            client.send_message("/sfe/memory", 0.5 + 0.5 * math.sin(2 * math.pi * 0.5 * (time.perf_counter() - t0)))
            sent[0] += 1
            stop.wait(1 / 30)

    summary = ""
    fader_thread = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if "running headless" in line and fader:
            fader_thread = threading.Thread(target=move, daemon=True)
            fader_thread.start()
        if "stopped cleanly" in line:
            summary = line.split("stopped cleanly:", 1)[-1].strip()
    proc.wait()
    stop.set()
    return f"fader {'ON ' if fader else 'off'} ({sent[0]} OSC messages): {summary or 'no summary (exit %d)' % proc.returncode}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", default="", help="WIDTHxHEIGHT (default: the model's)")
    args = ap.parse_args()
    with open("/proc/loadavg") if os.path.exists("/proc/loadavg") else open(os.devnull) as fh:
        print("load average:", fh.read().strip() or "n/a")
    for _ in range(args.rounds):
        for fader in (False, True):
            print(one_run(args.model, args.seconds, fader, args.threads, args.size), flush=True)


if __name__ == "__main__":
    main()
