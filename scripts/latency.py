"""Prompt-to-screen latency, normal vs low-latency mode (a measurement, not a test).

Runs the real app headless on the demo model, sends a prompt over real OSC (python-osc, UDP) that
changes the colour on screen (red <-> blue, transition purge at reactivity 3, a hard cut), and
times from the send to the first frame the audience would see (the playout's output, what the
preview, recorder and virtual camera get) whose colour has flipped. Modes alternate trial by trial
so machine load hits both alike. Prints JSON.

    python scripts/latency.py --trials 12 --threads 1
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time

import numpy as np
from pythonosc.udp_client import SimpleUDPClient

from sfe_live.app import App, AppSettings

PROMPTS = {"red": "a red ball on a black background", "blue": "a blue square on a black background"}


def colour(frame: np.ndarray) -> str:
    f = frame.reshape(-1, 3).astype(np.float32)
    bright = f[f.max(axis=1) > 60]
    if len(bright) < 8:
        return "none"
    r, _, b = bright.mean(axis=0)
    return "red" if r > b * 1.3 else "blue" if b > r * 1.3 else "none"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(low: bool, threads: int) -> tuple[App, SimpleUDPClient]:
    port = free_port()
    app = App(AppSettings(model="demo", prompt=PROMPTS["red"], low_latency=low, threads=threads,
                          controls={"osc_port": port, "midi_enabled": False})).load()
    app.start()
    client = SimpleUDPClient("127.0.0.1", port)
    client.send_message("/sfe/transition", "purge")
    client.send_message("/sfe/reactivity", 3)
    return app, client


def trial(app: App, client: SimpleUDPClient, timeout: float = 10.0) -> float:
    frame, seq = app.latest_frame()
    now_colour = colour(frame) if frame is not None else "none"
    target = "blue" if now_colour == "red" else "red"
    t0 = time.perf_counter()
    client.send_message("/sfe/prompt", PROMPTS[target])
    while time.perf_counter() - t0 < timeout:
        frame, s = app.latest_frame()
        if s != seq and frame is not None:
            seq = s
            if colour(frame) == target:
                return time.perf_counter() - t0
        time.sleep(0.002)
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds between prompts")
    args = ap.parse_args()
    apps = {"normal": start(False, args.threads), "low_latency": start(True, args.threads)}
    try:
        time.sleep(4.0)
        out: dict[str, list[float]] = {k: [] for k in apps}
        for i in range(args.trials):
            for mode, (app, client) in apps.items():
                out[mode].append(trial(app, client))
                time.sleep(args.settle)
        res = {}
        for mode, xs in out.items():
            ok = [x for x in xs if x == x]
            app = apps[mode][0]
            st = app.status()
            res[mode] = {"median_s": round(statistics.median(ok), 3) if ok else None,
                         "min_s": round(min(ok), 3) if ok else None, "max_s": round(max(ok), 3) if ok else None,
                         "trials": len(xs), "missed": len(xs) - len(ok),
                         "frames_per_block": app.engine.stream.frames_per_block,
                         "generated_fps": round(st["engine"]["fps"], 1),
                         "underruns": st["outputs"]["playout"]["underruns"]}
        print(json.dumps({"loadavg": open("/proc/loadavg").read().split()[:3], **res}))
    finally:
        for app, _ in apps.values():
            app.stop()


if __name__ == "__main__":
    main()
