"""Compare NDI Python bindings on loopback: send 832x480 RGBX at 16 fps, receive, measure.

    python scripts/ndi_compare.py cyndilib --seconds 10
    python scripts/ndi_compare.py ndi-python --seconds 10

Runs sender and receiver in one process on 127.0.0.1 only (an NDI config in a temporary
NDI_CONFIG_DIR). Each frame carries its index in the first pixels' red/green channels, so the
receiver can match it to the send time: latency = receive time - send time (same clock).
Prints one JSON line: frames sent, delivered, median/p95 latency, process CPU % of one core.
This is a measurement tool, not part of the app.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time

import numpy as np


def loopback_config() -> None:
    if "NDI_CONFIG_DIR" in os.environ:
        return
    d = tempfile.mkdtemp(prefix="ndi-cmp-")
    with open(os.path.join(d, "ndi-config.v1.json"), "w") as fh:
        json.dump({"ndi": {"networks": {"ips": "127.0.0.1", "discovery": ""},
                           "adapters": {"allowed": ["127.0.0.1"]},
                           "multicast": {"send": {"enable": False}, "recv": {"enable": False}}}}, fh)
    os.environ["NDI_CONFIG_DIR"] = d


def make_frames(w: int, h: int, n: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (n, h, w, 4), dtype=np.uint8)  # noisy: the codec's worst case
    base[..., 3] = 255
    return [base[i] for i in range(n)]


def tag(frame: np.ndarray, i: int) -> np.ndarray:
    """Write ``i`` as 12 black/white 16x16 blocks in the top row (robust to NDI's lossy codec)."""
    for b in range(12):
        frame[:16, 16 * b : 16 * b + 16, :3] = 255 if (i >> b) & 1 else 0
    return frame


def read_tag(rgb: np.ndarray) -> int:
    return sum(1 << b for b in range(12) if rgb[4:12, 16 * b + 4 : 16 * b + 12, :3].mean() > 127)


def run(lib: str, seconds: float, w: int, h: int, fps: float) -> dict:
    name = f"cmp-{os.getpid()}"
    frames = make_frames(w, h)
    sent_at: dict[int, float] = {}
    got: dict[int, float] = {}
    received = [0]
    stop = threading.Event()

    if lib == "cyndilib":
        from fractions import Fraction
        import cyndilib as cy
        from cyndilib.receiver import ReceiveFrameType
        sender = cy.Sender(name, clock_video=False)
        vf = cy.VideoSendFrame()
        vf.set_resolution(w, h)
        vf.set_fourcc(cy.FourCC.RGBX)
        vf.set_frame_rate(Fraction(int(fps), 1))
        sender.set_video_frame(vf)
        sender.open()

        def send(arr: np.ndarray) -> None:
            sender.write_video(arr.ravel())

        finder = cy.Finder()
        finder.open()
        t_find = time.monotonic()
        src = None
        while src is None and time.monotonic() - t_find < 15:
            finder.wait_for_sources(0.2)
            finder.update_sources()
            for n in finder.get_source_names():
                if name in n:
                    src = finder.get_source(n)
        assert src is not None, "source not found"
        recv = cy.Receiver(color_format=cy.RecvColorFormat.RGBX_RGBA, bandwidth=cy.RecvBandwidth.highest)
        fvf = cy.VideoFrameSync()
        recv.frame_sync.set_video_frame(fvf)
        recv.set_source(src)

        def receive_loop() -> None:
            # FrameSync: the newest frame at each poll (what a v2v source wants); poll every 4 ms
            # copy only when the frame's timestamp changed, as sources/ndi.py does
            last_ts = None
            while not stop.is_set():
                recv.frame_sync.capture_video()
                ts = fvf.get_timestamp_posix()
                if min(fvf.xres, fvf.yres) > 0 and ts != last_ts:
                    last_ts = ts
                    t = time.monotonic()
                    received[0] += 1
                    got.setdefault(read_tag(fvf.get_array().reshape(fvf.yres, fvf.xres, 4)), t)
                time.sleep(0.004)

        def close() -> None:
            recv.disconnect()
            finder.close()
            sender.close()
    else:
        import NDIlib as ndi
        assert ndi.initialize()
        sc = ndi.SendCreate()
        sc.ndi_name = name
        sc.clock_video = False
        sender = ndi.send_create(sc)
        vfr = ndi.VideoFrameV2()
        vfr.FourCC = ndi.FOURCC_VIDEO_TYPE_RGBX
        vfr.frame_rate_N, vfr.frame_rate_D = int(fps), 1

        def send(arr: np.ndarray) -> None:
            vfr.data = arr
            ndi.send_send_video_v2(sender, vfr)

        fc = ndi.FindCreate()
        fc.show_local_sources = True
        finder = ndi.find_create_v2(fc)
        t_find = time.monotonic()
        src = None
        while src is None and time.monotonic() - t_find < 15:
            ndi.find_wait_for_sources(finder, 200)
            for s in ndi.find_get_current_sources(finder):
                if name in s.ndi_name:
                    src = s
        assert src is not None, "source not found"
        rc = ndi.RecvCreateV3()
        rc.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
        rc.bandwidth = ndi.RECV_BANDWIDTH_HIGHEST
        recv = ndi.recv_create_v3(rc)
        ndi.recv_connect(recv, src)

        def receive_loop() -> None:
            while not stop.is_set():
                kind, v, _a, _m = ndi.recv_capture_v2(recv, 100)
                if kind == ndi.FRAME_TYPE_VIDEO:
                    t = time.monotonic()
                    received[0] += 1
                    got.setdefault(read_tag(v.data), t)
                    ndi.recv_free_video_v2(recv, v)

        def close() -> None:
            ndi.recv_destroy(recv)
            ndi.find_destroy(finder)
            ndi.send_destroy(sender)

    discovery_s = time.monotonic() - t_find
    rx = threading.Thread(target=receive_loop, daemon=True)
    rx.start()
    # warm up until the first frame arrives, then start counting
    t0 = time.monotonic()
    i = 0
    while not got and time.monotonic() - t0 < 10:
        send(tag(frames[0].copy(), 4095))
        time.sleep(1 / fps)
    got.clear()
    received[0] = 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    period = 1.0 / fps
    next_t = time.monotonic()
    n = int(seconds * fps)
    for i in range(n):
        arr = tag(frames[i % len(frames)], i)
        sent_at[i] = time.monotonic()
        send(arr)
        next_t += period
        time.sleep(max(0.0, next_t - time.monotonic()))
    time.sleep(0.5)
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - wall0
    stop.set()
    rx.join(2)
    close()
    lat = sorted(1000 * (got[k] - sent_at[k]) for k in got if k in sent_at)
    return {"lib": lib, "size": f"{w}x{h}", "fps": fps, "sent": n, "delivered": len(lat), "received_frames": received[0],
            "latency_ms_median": round(statistics.median(lat), 2) if lat else None,
            "latency_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 2) if lat else None,
            "cpu_pct_of_one_core": round(100 * cpu / wall, 1), "discovery_s": round(discovery_s, 2),
            "loadavg": open("/proc/loadavg").read().split()[:3]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("lib", choices=["cyndilib", "ndi-python"])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--size", default="832x480")
    p.add_argument("--fps", type=float, default=16)
    a = p.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    loopback_config()
    print(json.dumps(run(a.lib, a.seconds, w, h, a.fps)))


if __name__ == "__main__":
    main()
