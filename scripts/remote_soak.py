#!/usr/bin/env python3
"""Measure the remote engine on loopback: delivery, bitrate, CPU, command latency, reconnect time.

Starts a real ``sfe-live serve`` (a child process) and connects to it with the real client link
(``sfe_live.remote.client.RemoteApp`` in this process: link, decoder, playout, controls). Phases:

1. **idle**: the server generates with nobody connected (its CPU per second = generation alone);
2. **soak**: a client receives for ``--seconds``; frames delivered / frames the server sent and
   generated, RTT, jitter, bitrate; server CPU minus the idle figure = WebRTC + encode; this
   process's CPU = receive + decode;
3. **latency**: ``--trials`` prompt switches red <-> blue (purge 3) with the demo model; time from
   triggering the action to the first preview frame (``app.latest_frame()``, after the laptop's
   playout) whose colour flipped. The same with a local in-process ``App`` gives the added latency;
4. **restart**: SIGKILL the server, start it again; time from its "listening" line (and from the
   kill) to the first frame received again.

Prints one JSON object. Example (10 minutes, the demo model, video scaled up to 832x480)::

    python scripts/remote_soak.py --seconds 600 --video-size 832x480
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TOKEN = "soak-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, args: argparse.Namespace, port: int) -> None:
        cmd = [sys.executable, "-m", "ui.entry", "serve", "--model", args.model, "--port", str(port),
               "--token", TOKEN, "--threads", str(args.threads), "--prompt", RED]
        if args.video_size:
            cmd += ["--video-size", args.video_size]
        env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   SFE_LIVE_CONFIG_DIR=str(Path(args.tmp) / "cfg"))
        self.p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.ready_at: Optional[float] = None
        self._lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        end = time.monotonic() + 180
        while self.ready_at is None and time.monotonic() < end and self.p.poll() is None:
            time.sleep(0.05)
        if self.ready_at is None:
            raise SystemExit("serve did not start:\n" + "\n".join(self._lines[-30:]))
        self.ps = psutil.Process(self.p.pid)

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self._lines.append(line.rstrip())
            if "listening on" in line and self.ready_at is None:
                self.ready_at = time.monotonic()

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(10)


def _caption(c: str) -> str:
    from sfe_live.demo.world import all_captions
    return all_captions(c, "circle", "right", "black")[0]


RED, BLUE = _caption("red"), _caption("blue")


def colour(frame: np.ndarray) -> str:
    """The demo object's colour in a frame (the demo's own evaluator), '?' when none."""
    from sfe_live.demo.evaluate import frame_colours
    return frame_colours(frame[None])[0] or "?"


def flip_latency(send: Any, latest: Any, trials: int, timeout: float = 15.0) -> list[float]:
    """Prompt switches red <-> blue; seconds from send to the first new frame of the new colour."""
    out = []
    want = "blue"
    for _ in range(trials):
        _, seq0 = latest()
        t0 = time.monotonic()
        send(BLUE if want == "blue" else RED)
        while time.monotonic() - t0 < timeout:
            frame, seq = latest()
            if frame is not None and seq != seq0 and colour(frame) == want:
                out.append(time.monotonic() - t0)
                break
            time.sleep(0.002)
        time.sleep(1.5)
        want = "red" if want == "blue" else "blue"
    return out


def stats(xs: list[float]) -> dict[str, Any]:
    if not xs:
        return {"n": 0}
    a = np.array(xs) * 1000
    return {"n": len(xs), "median_ms": round(float(np.median(a)), 1), "p90_ms": round(float(np.percentile(a, 90)), 1),
            "min_ms": round(float(a.min()), 1), "max_ms": round(float(a.max()), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="demo")
    ap.add_argument("--seconds", type=float, default=600.0, help="soak length (default 600)")
    ap.add_argument("--idle-seconds", type=float, default=20.0)
    ap.add_argument("--video-size", help="scale the video the server sends, e.g. 832x480")
    ap.add_argument("--trials", type=int, default=8, help="prompt switches for the latency phase (0 = skip)")
    ap.add_argument("--no-local", action="store_true", help="skip the local latency comparison")
    ap.add_argument("--no-restart", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tmp", default="/tmp/sfe-remote-soak")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    torch.set_num_threads(args.threads)
    from sfe_live.remote.signalling import request_json

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    res: dict[str, Any] = {"model": args.model, "video_size": args.video_size or "native", "seconds": args.seconds,
                           "loadavg_start": os.getloadavg()}
    me = psutil.Process()

    def server_status() -> dict[str, Any]:
        code, obj = request_json(url, "/status", TOKEN, timeout=10)
        return obj if code == 200 else {}

    server = Server(args, port)
    try:
        # 1. idle
        time.sleep(3.0)
        c0, t0 = server.cpu(), time.monotonic()
        time.sleep(args.idle_seconds)
        idle_cpu = (server.cpu() - c0) / (time.monotonic() - t0)
        # 2. soak: the laptop's app (RemoteApp: link, playout, controls), as `sfe-live --remote` runs it
        from sfe_live.app import AppSettings
        from sfe_live.config import RemoteConfig
        from sfe_live.remote.client import RemoteApp
        app = RemoteApp(AppSettings(osc=False, remote=RemoteConfig(url=url, token=TOKEN)))
        app.load()
        app.start()
        link = app.link
        assert link is not None

        class _Count:
            def get(self) -> tuple[None, int]:
                return None, link.stats().frames
        frames = _Count()
        while frames.get()[1] < 16:
            time.sleep(0.05)
        time.sleep(2.0)
        s0, n0 = server_status(), frames.get()[1]
        sc0, mc0, t0 = server.cpu(), sum(me.cpu_times()[:2]), time.monotonic()
        kbps, rtts, jit = [], [], []
        end = t0 + args.seconds
        while time.monotonic() < end:
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
            st = link.stats()
            kbps.append(st.kbps)
            rtts.append(st.rtt_ms)
            jit.append(st.jitter_ms)
        s1, n1 = server_status(), frames.get()[1]
        wall = time.monotonic() - t0
        soak_server_cpu = (server.cpu() - sc0) / wall
        client_cpu = (sum(me.cpu_times()[:2]) - mc0) / wall
        sent = s1["frames_sent"] - s0["frames_sent"]
        e0, e1 = s0["engine"], s1["engine"]
        got = n1 - n0
        st = link.stats()
        res["soak"] = {
            "wall_s": round(wall, 1), "frames_received": got, "frames_sent_by_server": sent,
            "blocks_generated": e1["block"] - e0["block"],
            "delivered_over_sent_pct": round(100 * got / sent, 2) if sent else None,
            "received_fps": round(got / wall, 2), "lost_pts_gaps": st.dropped,
            "server_track_dropped": (s1.get("client") or {}).get("dropped"),
            "kbps_median": round(float(np.median(kbps)), 1) if kbps else None,
            "rtt_ms_median": round(float(np.median(rtts)), 2) if rtts else None,
            "jitter_ms_median": round(float(np.median(jit)), 2) if jit else None,
            "server_cpu_idle_pct": round(100 * idle_cpu, 1), "server_cpu_streaming_pct": round(100 * soak_server_cpu, 1),
            "server_cpu_for_webrtc_encode_pct": round(100 * (soak_server_cpu - idle_cpu), 1),
            "client_cpu_receive_decode_pct": round(100 * client_cpu, 1),
            "engine_fps": round(float(e1.get("fps") or 0), 2),
        }
        # 3. latency over the link
        if args.trials:
            res["latency_remote"] = stats(flip_latency(lambda p: (app.trigger("transition.set", "purge"),
                                                                  app.trigger("prompt.set", p)),
                                                       app.latest_frame, args.trials))
        # 4. restart
        if not args.no_restart:
            n_before = frames.get()[1]
            t_kill = time.monotonic()
            server.stop(signal.SIGKILL)
            server = Server(args, port)
            while frames.get()[1] <= n_before and time.monotonic() - t_kill < 120:
                time.sleep(0.01)
            t_frame = time.monotonic()
            time.sleep(2.0)
            res["restart"] = {"kill_to_first_frame_s": round(t_frame - t_kill, 2),
                              "kill_to_server_listening_s": round((server.ready_at or t_frame) - t_kill, 2),
                              "server_listening_to_first_frame_s": round(t_frame - (server.ready_at or t_frame), 2),
                              "reconnects": link.stats().reconnects}
        app.stop()
    finally:
        server.stop()
    if args.trials and not args.no_local and args.model == "demo":
        from sfe_live.app import App, AppSettings
        app = App(AppSettings(model=args.model, prompt=RED, osc=False, threads=args.threads)).load()
        app.start()
        try:
            while app.latest_frame()[0] is None:
                time.sleep(0.05)
            time.sleep(2.0)
            res["latency_local"] = stats(flip_latency(lambda p: (app.trigger("transition.set", "purge"),
                                                                 app.trigger("prompt.set", p)),
                                                      app.latest_frame, args.trials))
        finally:
            app.stop()
        if res["latency_local"].get("n") and res.get("latency_remote", {}).get("n"):
            res["latency_added_median_ms"] = round(res["latency_remote"]["median_ms"]
                                                   - res["latency_local"]["median_ms"], 1)
    res["loadavg_end"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
