"""The longest frozen span when a burst of prompts arrives at once (issue 11 item 3).

Runs the app in real time (the default demo model unless ``--model``), lets it settle, submits N
prompts at once and records when each new frame reaches the outputs (a sink that sees only new
frames, not the playout's repeats). Prints the longest gap between new frames in the burst's
window and in a calm window before it::

    python scripts/prompt_burst.py --prompts 200 1000
"""

from __future__ import annotations

import argparse
import os
import time

from sfe_live.app import App, AppSettings
from sfe_live.engine import commands as C
from sfe_live.outputs.sink import Availability


class FrameTimes:
    """A sink that notes the time of every new frame."""

    runner_options = {"accept_repeats": False, "queue_size": 256}

    def __init__(self) -> None:
        self.times: list[float] = []

    def is_available(self) -> Availability:
        return Availability(True)

    def open(self, width: int, height: int, fps: float) -> None:
        pass

    def send(self, frame) -> None:  # type: ignore[no-untyped-def]
        self.times.append(time.perf_counter())

    def close(self) -> None:
        pass


def max_gap(times: list[float], t0: float, t1: float) -> float:
    ts = [t0] + [t for t in times if t0 <= t <= t1] + [t1]     # no frame at all is one long freeze
    return max(b - a for a, b in zip(ts, ts[1:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="")
    ap.add_argument("--prompts", type=int, nargs="+", default=[200, 1000])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--window", type=float, default=25.0, help="seconds observed after the burst")
    args = ap.parse_args()
    print("load average:", open("/proc/loadavg").read().strip() if os.path.exists("/proc/loadavg") else "n/a")
    for n in args.prompts:
        app = App(AppSettings(model=args.model, osc=False, threads=args.threads)).load()
        sink = FrameTimes()
        app.outputs.add_sink(sink, name="times")
        app.outputs.enable("times")
        app.start()
        time.sleep(8.0)                                  # settle: the playout is playing
        calm0 = time.perf_counter()
        time.sleep(6.0)
        t_burst = time.perf_counter()
        for i in range(n):
            app.submit(C.SetPrompt(f"a {['red', 'green', 'blue', 'yellow'][i % 4]} ball number {i}"))
        time.sleep(args.window)
        prompt = app.status()["engine"]["prompt"]
        app.stop()
        print(f"{n} prompts: longest frozen span {max_gap(sink.times, t_burst, t_burst + args.window):.2f} s "
              f"(calm before: {max_gap(sink.times, calm0, t_burst):.2f} s); on air after: {prompt!r}", flush=True)


if __name__ == "__main__":
    main()
