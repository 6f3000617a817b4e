"""Tempo: a beat clock fed by tap tempo, MIDI clock, audio BPM or Ableton Link, and a scheduler.

:class:`TempoClock` holds ``bpm`` and the time of a beat (the phase); :meth:`TempoClock.next_boundary`
gives the next beat or bar, which quantised cue GO uses with a latency look-ahead.
:class:`Scheduler` runs callbacks at given monotonic times on one timer thread.
:class:`LinkClock` follows an Ableton Link session when the optional ``aalink``
package (an optional GPL extra) is installed; without it Link reports itself unavailable.

All times are ``time.monotonic()`` seconds unless a clock function is injected (tests).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from collections import deque
from typing import Any, Callable, Optional

log = logging.getLogger(__name__)

MIN_BPM, MAX_BPM = 20.0, 300.0
TAP_RESET_S = 2.0       # a pause this long starts a new tap sequence
TAP_WINDOW = 8          # taps averaged
MIDI_PPQN = 24
MIDI_TIMEOUT_S = 0.5    # no clock tick for this long: MIDI clock is "waiting"


class TempoClock:
    """Beats per minute and phase. Thread-safe."""

    def __init__(self, bpm: float = 120.0, beats_per_bar: int = 4,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._bpm = float(bpm)
        self._origin = clock()           # time of beat 0
        self.beats_per_bar = int(beats_per_bar)
        self.source = "internal"         # internal | tap | midi | link | audio
        self._taps: deque[float] = deque(maxlen=TAP_WINDOW)
        self._ticks: deque[float] = deque(maxlen=MIDI_PPQN * 2 + 1)
        self._tick_count = 0
        self._midi_running = False
        self.midi_ticks_total = 0
        self.playing: Optional[bool] = None  # transport start/stop when a source knows it (Link)

    # ------------------------------------------------------------------ reading
    @property
    def bpm(self) -> float:
        return self._bpm

    @property
    def period(self) -> float:
        """Seconds per beat."""
        return 60.0 / self._bpm

    def now(self) -> float:
        return self._clock()

    def beat_at(self, t: Optional[float] = None) -> float:
        """Beats since the origin at time ``t`` (fractional)."""
        t = self._clock() if t is None else t
        with self._lock:
            return (t - self._origin) / (60.0 / self._bpm)

    def time_of_beat(self, beat: float) -> float:
        with self._lock:
            return self._origin + beat * 60.0 / self._bpm

    def next_boundary(self, unit: str = "beat", t: Optional[float] = None, lookahead: float = 0.0) -> float:
        """The time to act so that an effect ``lookahead`` seconds later lands on a beat/bar.

        ``unit``: ``beat``, ``bar`` or ``none`` (now). The returned time is never in the past.
        """
        t = self._clock() if t is None else t
        if unit in ("none", "", None):
            return t
        size = 1 if unit == "beat" else self.beats_per_bar
        with self._lock:
            b = self.beat_at(t + lookahead)
            target = math.ceil(b / size - 1e-9) * size
            when = self.time_of_beat(target) - lookahead
            while when < t - 1e-6:
                target += size
                when = self.time_of_beat(target) - lookahead
            return when

    def status(self) -> dict[str, Any]:
        t = self._clock()
        b = self.beat_at(t)
        return {"bpm": round(self._bpm, 2), "beat": int(math.floor(b)) % self.beats_per_bar + 1,
                "bar": int(math.floor(b / self.beats_per_bar)) + 1, "beat_phase": b - math.floor(b),
                "tempo_source": self.source, "playing": self.playing,
                "midi_clock": "running" if self.midi_running(t) else "waiting"}

    # ------------------------------------------------------------------ setting
    def set_bpm(self, bpm: float, source: str = "internal", t: Optional[float] = None) -> None:
        """Change tempo keeping the current beat position continuous."""
        bpm = min(max(float(bpm), MIN_BPM), MAX_BPM)
        t = self._clock() if t is None else t
        with self._lock:
            b = self.beat_at(t)
            self._bpm = bpm
            self._origin = t - b * 60.0 / bpm
            self.source = source

    def sync(self, t: Optional[float] = None) -> None:
        """Make ``t`` (now) the first beat of a bar."""
        t = self._clock() if t is None else t
        with self._lock:
            self._origin = t

    def nudge(self, seconds: float) -> None:
        with self._lock:
            self._origin += seconds

    def tap(self, t: Optional[float] = None) -> Optional[float]:
        """Register a tap; from the second tap on the tempo follows the average interval.

        The latest tap becomes a beat. Returns the new bpm or None (first tap).
        """
        t = self._clock() if t is None else t
        with self._lock:
            if self._taps and t - self._taps[-1] > TAP_RESET_S:
                self._taps.clear()
            self._taps.append(t)
            if len(self._taps) < 2:
                return None
            n = len(self._taps) - 1
            interval = (self._taps[-1] - self._taps[0]) / n
            if interval <= 0:
                return None
            bpm = min(max(60.0 / interval, MIN_BPM), MAX_BPM)
            self._bpm = bpm
            # the latest tap is a beat; the first tap of the sequence was a downbeat
            b_prev = round((t - self._taps[0]) / interval)
            self._origin = t - (b_prev % self.beats_per_bar) * 60.0 / bpm
            self.source = "tap"
            return bpm

    # ------------------------------------------------------------------ MIDI clock
    def midi_tick(self, t: Optional[float] = None) -> None:
        """One MIDI clock tick (24 per quarter note). Tempo follows a least-squares fit."""
        t = self._clock() if t is None else t
        with self._lock:
            if self._ticks and t - self._ticks[-1] > MIDI_TIMEOUT_S:
                self._ticks.clear()
            self._ticks.append(t)
            self._tick_count += 1
            self.midi_ticks_total += 1
            n = len(self._ticks)
            if n >= 7:
                bpm = 60.0 / (_slope(self._ticks) * MIDI_PPQN)
                if MIN_BPM <= bpm <= MAX_BPM:
                    if self._midi_running:  # the tick count since Start is the beat position
                        self._origin = t - (self._tick_count / MIDI_PPQN) * 60.0 / bpm
                    else:  # free-running clock: keep the beat position continuous
                        self._origin = t - self.beat_at(t) * 60.0 / bpm
                    self._bpm = bpm
                    self.source = "midi"

    def midi_start(self, t: Optional[float] = None) -> None:
        """MIDI Start: the next tick is beat 0 of bar 1."""
        t = self._clock() if t is None else t
        with self._lock:
            self._midi_running = True
            self._tick_count = -1   # the first tick after Start is position 0
            self._origin = t

    def midi_continue(self) -> None:
        with self._lock:
            self._midi_running = True

    def midi_stop(self) -> None:
        with self._lock:
            self._midi_running = False

    def midi_song_position(self, sixteenths: int) -> None:
        with self._lock:
            self._tick_count = sixteenths * (MIDI_PPQN // 4) - 1

    def midi_running(self, t: Optional[float] = None) -> bool:
        t = self._clock() if t is None else t
        with self._lock:
            return bool(self._ticks) and t - self._ticks[-1] <= MIDI_TIMEOUT_S


def _slope(ts: "deque[float]") -> float:
    """Least-squares seconds per tick of evenly spaced ticks (robust to jitter)."""
    n = len(ts)
    mx = (n - 1) / 2.0
    my = sum(ts) / n
    num = sum((i - mx) * (y - my) for i, y in enumerate(ts))
    den = sum((i - mx) ** 2 for i in range(n))
    return num / den


class Scheduler:
    """Runs ``fn()`` at monotonic time ``when`` on a single timer thread; cancellable."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, name: str = "sfe-scheduler") -> None:
        self._clock = clock
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count(1)
        self._stop = False
        self._thread: Optional[threading.Thread] = None
        self._name = name

    def start(self) -> None:
        if self._thread is None:
            self._stop = False
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def call_at(self, when: float, fn: Callable[[], None]) -> int:
        with self._cv:
            job = next(self._ids)
            heapq.heappush(self._heap, (when, job, fn))
            self._cv.notify_all()
        if self._thread is None:
            self.start()
        return job

    def cancel(self, job: int) -> None:
        with self._cv:
            self._cancelled.add(job)
            self._cv.notify_all()

    def pending(self) -> int:
        with self._cv:
            return sum(1 for _, j, _ in self._heap if j not in self._cancelled)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop:
                    if self._heap and self._heap[0][1] in self._cancelled:
                        _, j, _ = heapq.heappop(self._heap)
                        self._cancelled.discard(j)
                        continue
                    if self._heap:
                        delay = self._heap[0][0] - self._clock()
                        if delay <= 0:
                            break
                        self._cv.wait(min(delay, 0.05))
                    else:
                        self._cv.wait(0.5)
                if self._stop:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:
                log.exception("scheduled job failed")


def add_link_arguments(parser: Any) -> None:
    """``--link``: follow (and lead) an Ableton Link session's tempo, phase and start/stop."""
    parser.add_argument("--link", action="store_true",
                        help="join the Ableton Link session on the local network (aalink extra)")


LINK_INSTALL = ("install the optional extra: pip install 'sfe-live[link]' (aalink, GPL-3.0-or-later, "
                "so it is never installed by default; see the README's licence section)")


class LinkClock:
    """Follows an Ableton Link session (tempo, beat phase, start/stop) through ``aalink``.

    aalink (an optional extra, GPL) runs on an asyncio loop; this class keeps one on its own
    thread, so the rest of the app stays synchronous. ``poll()`` copies Link's tempo and beat into
    the :class:`TempoClock` (the hub calls it ~30x/s) and ``tempo.playing`` follows Link's
    start/stop. Enabling Link joins the local network session (UDP multicast), so it is off unless
    asked (``--link``).
    """

    def __init__(self, tempo: TempoClock, quantum: float = 4.0) -> None:
        self.tempo = tempo
        self.quantum = float(quantum)
        self.error: Optional[str] = None
        self._link: Any = None
        self._loop: Any = None
        self._thread: Optional[threading.Thread] = None
        try:
            import aalink
            self._mod: Any = aalink
        except Exception as e:  # ImportError, or a broken binary
            self._mod = None
            self.error = f"Ableton Link unavailable ({type(e).__name__}: {e}); {LINK_INSTALL}"

    @property
    def available(self) -> bool:
        return self._mod is not None

    @property
    def enabled(self) -> bool:
        return self._link is not None and bool(self._link.enabled)

    def enable(self) -> bool:
        if self._mod is None:
            return False
        if self._link is None:
            import asyncio
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name="ableton-link", daemon=True)
            self._thread.start()

            async def make() -> Any:  # aalink binds to the running loop
                link = self._mod.Link(self.tempo.bpm)
                link.quantum = self.quantum
                link.start_stop_sync_enabled = True
                return link

            self._loop = loop
            self._link = asyncio.run_coroutine_threadsafe(make(), loop).result(5)
        self._link.enabled = True
        return True

    def disable(self) -> None:
        link, loop, thread = self._link, self._loop, self._thread
        self._link = self._loop = self._thread = None
        if link is not None:
            link.enabled = False
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(2)

    def peers(self) -> int:
        return int(self._link.num_peers) if self._link is not None else 0

    def poll(self) -> None:
        link = self._link
        if link is None or not link.enabled:
            return
        bpm = min(max(float(link.tempo), MIN_BPM), MAX_BPM)
        beat = float(link.beat)  # on the session's timeline, phase-aligned to the quantum
        now = self.tempo.now()
        with self.tempo._lock:  # noqa: SLF001 - one clock adopting another's phase
            self.tempo._bpm = bpm
            self.tempo._origin = now - beat * 60.0 / bpm
            self.tempo.source = "link"
            self.tempo.playing = bool(link.playing)

    def push_tempo(self, bpm: float) -> None:
        if self._link is not None:
            self._link.tempo = float(bpm)
