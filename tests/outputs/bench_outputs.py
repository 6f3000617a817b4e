"""Benchmark (not collected by pytest): engine block time with the outputs off vs on.

A stand-in engine does a fixed amount of torch CPU work per block of 12 frames (832×480) and hands
the block to ``OutputManager.on_block``; it waits while the playout holds more than a block (the
back-pressure the runner should apply). Outputs on: fragmented-MP4 recording, the virtual camera
(1280×720 @ 30 fps through the real pyvirtualcam.Camera with an in-memory backend) and NDI.

    python tests/outputs/bench_outputs.py [blocks]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from conftest import MemoryCamBackend, synthetic_frame  # noqa: E402  (sets the NDI loopback config)

from sfe_live.outputs import OutputManager  # noqa: E402
from sfe_live.ndi_runtime import ndi_availability  # noqa: E402
from sfe_live.outputs.ndi import NDISink  # noqa: E402
from sfe_live.outputs.recorder import Recorder  # noqa: E402
from sfe_live.outputs.virtualcam import VirtualCamSink  # noqa: E402


def run(blocks: int, sinks_on: bool) -> dict:
    import pyvirtualcam

    pyvirtualcam.register_backend("bench-memory", MemoryCamBackend)
    torch.set_num_threads(1)
    a = torch.randn(1024, 1024)
    src = np.stack([synthetic_frame(i) for i in range(12)])
    om = OutputManager(fps=16.0)
    if sinks_on:
        om.add_sink(Recorder(tempfile.mkdtemp(), stem="bench"), enabled=True)
        om.add_sink(VirtualCamSink(backend="bench-memory"), enabled=True)
        if ndi_availability():
            om.add_sink(NDISink(f"bench-{os.getpid()}"), enabled=True)
    times = []
    with om:
        for b in range(blocks):
            while om.status().playout.depth > 12:
                time.sleep(0.005)
            t0 = time.perf_counter()
            for _ in range(12):  # ~the per-block CPU work of a small model
                a @ a
            frames = src.copy()
            om.on_block(b, frames)
            times.append(time.perf_counter() - t0)
        time.sleep(0.5)
        st = om.status()
    MemoryCamBackend.instances.clear()
    return {
        "sinks": "on" if sinks_on else "off",
        "block_ms_mean": round(1000 * statistics.mean(times[2:]), 1),
        "block_ms_p95": round(1000 * sorted(times[2:])[int(0.95 * (len(times) - 2)) - 1], 1),
        "playout": {"underruns": st.playout.underruns, "displayed_fps": round(st.playout.displayed_fps, 2)},
        "sink_stats": {s.name: {"sent": s.sent, "dropped": s.dropped, "send_ms": round(s.send_ms, 2), "state": s.state.value}
                       for s in st.sinks},
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    print(json.dumps([run(n, False), run(n, True)], indent=1))
