"""Two Ableton Link peers (aalink, through sfe-live's LinkClock) in one process on this machine:
time to find each other, time for a tempo change to reach the other, and the beat-phase difference
between their TempoClocks over ``--seconds``. Prints one JSON line.

    python scripts/link_peers.py --seconds 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    from sfe_live.controls.tempo import LinkClock, TempoClock

    ta, tb = TempoClock(bpm=120), TempoClock(bpm=90)
    la, lb = LinkClock(ta), LinkClock(tb)
    t0 = time.monotonic()
    la.enable()
    lb.enable()
    while la.peers() < 1 or lb.peers() < 1:
        time.sleep(0.01)
    found = time.monotonic() - t0
    la.push_tempo(133.0)
    t1 = time.monotonic()
    while True:
        lb.poll()
        if abs(tb.bpm - 133.0) < 0.01:
            break
        time.sleep(0.001)
    tempo_s = time.monotonic() - t1
    diffs = []
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        la.poll()
        lb.poll()
        t = time.monotonic()
        d = (ta.beat_at(t) - tb.beat_at(t)) % 4.0
        diffs.append(min(d, 4.0 - d))
        time.sleep(1 / 30)  # the hub polls at 30 Hz
    la.disable()
    lb.disable()
    ms_per_beat = 60000 / 133.0
    print(json.dumps({"peers_found_s": round(found, 3), "tempo_change_reached_s": round(tempo_s, 4),
                      "bpm": [round(ta.bpm, 3), round(tb.bpm, 3)], "samples": len(diffs),
                      "phase_diff_beats_median": round(statistics.median(diffs), 5),
                      "phase_diff_beats_max": round(max(diffs), 5),
                      "phase_diff_ms_max": round(max(diffs) * ms_per_beat, 3),
                      "loadavg": open("/proc/loadavg").read().split()[:3]}))


if __name__ == "__main__":
    main()
