"""Cue auto-advance timing in real time (a measurement, not a test): the control hub's cue player,
tempo clock and scheduler (the live path), a shipped cue list, fire times printed as JSON.

    python scripts/cue_timing.py --cues neon_club_set --bpm 120 --cycles 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

from sfe_live.controls import ControlHub


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cues", default="neon_club_set")
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--cycles", type=int, default=5, help="auto-advances to time")
    args = ap.parse_args()
    fired: list[tuple[float, str]] = []
    done = threading.Event()

    def submit(cmd) -> None:  # type: ignore[no-untyped-def]
        fired.append((time.monotonic(), getattr(cmd, "text", "")))
        if len(fired) > args.cycles:
            done.set()

    hub = ControlHub(submit, lambda: {}, {"osc_enabled": False, "midi_enabled": False, "bpm": args.bpm,
                                          "cues": args.cues})
    hub.start()
    try:
        hub.trigger("cue.go", 1)
        beats = hub.cues.cue_list.cues[0].advance_beats if hub.cues.cue_list else None
        done.wait(timeout=(args.cycles + 2) * 60.0 * (beats or 16) / args.bpm + 5)
        gaps = [b[0] - a[0] for a, b in zip(fired, fired[1:])]
        phase = [hub.tempo.beat_at(t) % hub.tempo.beats_per_bar for t, _ in fired]
        print(json.dumps({"bpm": args.bpm, "advance_beats": beats,
                          "expected_s": None if beats is None else 60.0 * beats / args.bpm,
                          "gaps_s": [round(g, 4) for g in gaps],
                          "mean_gap_s": round(statistics.mean(gaps), 4) if gaps else None,
                          "bar_phase_beats": [round(p, 3) for p in phase],
                          "loadavg": open("/proc/loadavg").read().split()[:3]}))
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
