"""A long-show soak (issue 11 item 11): one command per second with unique prompts; RSS per minute.

Runs the app in real time (the default demo model unless ``--model``) for ``--minutes`` and
sends, every second, a new unique prompt (every other second a fader value as well). Prints the
process RSS at every minute and the growth from minute 1 to the end. Not a test: run it once::

    nice python scripts/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import os
import time

import psutil

from sfe_live.app import App, AppSettings
from sfe_live.engine import commands as C


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print("load average at start:", open("/proc/loadavg").read().strip() if os.path.exists("/proc/loadavg") else "n/a")
    proc = psutil.Process()
    app = App(AppSettings(model=args.model, osc=False, threads=args.threads)).load()
    app.start()
    t0 = time.monotonic()
    rss: dict[int, float] = {}
    i = 0
    try:
        while time.monotonic() - t0 < args.minutes * 60:
            i += 1
            app.submit(C.SetPrompt(f"a {['red', 'green', 'blue'][i % 3]} ball, take {i} at {time.time():.3f}"))
            if i % 2:
                app.submit(C.SetMemory((i % 10) / 10))
            minute = int((time.monotonic() - t0) // 60)
            if minute >= 1 and minute not in rss:
                rss[minute] = proc.memory_info().rss / 2 ** 20
                st = app.status()["engine"]
                print(f"minute {minute}: RSS {rss[minute]:.1f} MB, block {st['block']}, {st['fps']:.1f} fps, "
                      f"log {len(app.engine.log)} entries, load {os.getloadavg()[0]:.2f}", flush=True)
            time.sleep(1.0)
        end = proc.memory_info().rss / 2 ** 20
        st = app.status()["engine"]
    finally:
        app.stop()
    print(f"end ({args.minutes:g} min, {i} prompts): RSS {end:.1f} MB; minute 1 -> end: "
          f"{end - rss.get(1, end):+.1f} MB; {app.summary()}; superseded {st['prompts_superseded']}")


if __name__ == "__main__":
    main()
