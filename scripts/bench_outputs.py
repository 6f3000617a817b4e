"""Engine block time with every available output attached vs none, interleaved in one run.

    python scripts/bench_outputs.py --model demo --rounds 6 --chunk 8 --threads 1

Alternates chunks of ``--chunk`` blocks: outputs on (every output that is available here, fed
through the OutputManager exactly as the app does) and outputs off (sinks disabled, nothing fed).
Prints one JSON line: median block wall/CPU time per condition, the sinks used, their counters,
and the load average. A measurement tool; the app's own bench is ``sfe-live bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="demo")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--chunk", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    import torch

    from sfe_live.config import StreamConfig
    from sfe_live.engine.engine import Engine
    from sfe_live.model.bundle import load_model
    from sfe_live.outputs import OutputManager
    from sfe_live.outputs.options import OutputOptions, build_sinks

    torch.set_num_threads(a.threads)
    bundle = load_model(a.model, device="cpu")
    stream = StreamConfig(height=bundle.config.default_height, width=bundle.config.default_width)
    engine = Engine(bundle, stream, prompt="a red ball bouncing", seed=0)
    om = OutputManager(fps=stream.fps)
    folder = tempfile.mkdtemp(prefix="sfe-bench-outputs-")
    used = []
    for spec in build_sinks(OutputOptions(record=folder, name="sfe-live-bench")):
        if spec.sink.is_available():
            om.add_sink(spec.sink, name=spec.key)
            used.append(spec.key)
    om.start()
    times: dict[str, list[float]] = {"on": [], "off": []}
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    engine.next_block()  # warm-up
    for r in range(2 * a.rounds):
        cond = "on" if r % 2 == 0 else "off"
        for key in used:
            (om.enable if cond == "on" else om.disable)(key)
        for _ in range(a.chunk):
            b = engine.next_block()
            if cond == "on":
                om.on_block(b.index, b.frames)
            times[cond].append(b.timings["block_s"])
            cpu[cond].append(b.timings.get("block_cpu_s", 0.0))
    st = om.status()
    om.stop()
    out = {"model": bundle.name, "size": f"{stream.width}x{stream.height}", "threads": a.threads,
           "blocks_per_condition": len(times["on"]), "sinks": used,
           "block_ms_median_outputs_on": round(1000 * statistics.median(times["on"]), 2),
           "block_ms_median_outputs_off": round(1000 * statistics.median(times["off"]), 2),
           "block_cpu_ms_median_outputs_on": round(1000 * statistics.median(cpu["on"]), 2),
           "block_cpu_ms_median_outputs_off": round(1000 * statistics.median(cpu["off"]), 2),
           "sink_counters": {s.name: {"sent": s.sent, "dropped": s.dropped, "error": s.error} for s in st.sinks
                             if s.name in used},
           "loadavg": open("/proc/loadavg").read().split()[:3]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
