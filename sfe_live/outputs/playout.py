"""Playout: turns bursty blocks of frames into a steady stream at a fixed fps.

The engine delivers frames in blocks (9 then 12 at a time for Wan) at uneven moments; a projector,
a virtual camera and NDI want one frame every 1/fps seconds. ``Playout`` is the pure part (no
threads, no clock of its own: every call gets ``now``), so it is tested with a fake clock.
``PlayoutThread`` runs it on its own thread against the real clock.

Policy (a small jitter buffer):

* Start after ``prebuffer`` frames are queued; then one frame per tick on a fixed grid
  ``t0 + k / fps``.
* **Underrun** (a tick finds the buffer empty): the last frame is shown again (``repeated``), the
  event is counted, and playback waits until ``prebuffer`` frames are queued again plus
  ``rebuffer_hold`` ticks. Each underrun so adds a little latency: a jittery engine settles after
  one hold instead of stuttering on every block.
* **Overrun** (more than ``max_buffer`` frames queued): the oldest are dropped and counted, which
  bounds the latency to ``max_buffer / fps``.
* A thread that wakes late emits the missed ticks (at most ``max_catchup``); beyond that it
  re-anchors the grid (``late_resyncs``) rather than sending a burst.
* **Pacing** (``pace``, on by default): an engine slower than ``fps`` (a laptop's CPU, a GPU
  under load) would otherwise run the buffer dry every block or two and show it as a freeze of
  ``prebuffer + rebuffer_hold`` ticks, then a burst at full speed. Instead the ticks stay on
  the ``fps`` grid and new frames are taken at the engine's measured rate, the rest of the ticks
  repeating the last frame evenly (``paced_repeats``; 12 fps shows as 3 new frames in every 4
  ticks, not a quarter-second stop every two seconds). The rate is the frames received over the
  last ``PACE_WINDOW`` blocks per second, lowered while the buffer's low point
  (its depth when a block arrives) is under ``prebuffer`` frames and raised while it is over, so
  the buffer neither runs dry nor grows. An engine within ``PACE_ENGAGE`` of ``fps`` or faster is
  played exactly as without pacing.
"""

from __future__ import annotations

import collections
import enum
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Deque, Iterable, Optional, Sequence, Union

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["LatestFrame", "Playout", "PlayoutConfig", "PlayoutStatus", "PlayoutThread", "Tick"]

Frames = Union[np.ndarray, Sequence[np.ndarray]]


@dataclass(frozen=True)
class PlayoutConfig:
    fps: float = 16.0  # Wan's native rate
    prebuffer: int = 4  # frames queued before (re)starting; 0.25 s at 16 fps
    rebuffer_hold: int = 4  # after an underrun, ticks to keep holding once frames are back
    max_buffer: int = 36  # frames; 3 Wan blocks; more and the oldest are dropped (2.25 s at 16 fps)
    max_catchup: int = 2  # late ticks emitted at once before the grid is re-anchored
    pace: bool = True  # a slower engine's frames spread evenly over the ticks instead of run-dry freezes

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError("fps must be > 0")
        if not 0 <= self.prebuffer <= self.max_buffer or self.max_buffer < 1:
            raise ValueError("need 0 <= prebuffer <= max_buffer and max_buffer >= 1")


class PlayState(str, enum.Enum):
    IDLE = "idle"  # nothing received yet
    BUFFERING = "buffering"  # waiting for prebuffer frames (showing the last frame again)
    PLAYING = "playing"


@dataclass(frozen=True)
class Tick:
    """One output frame: ``seq`` counts ticks; ``repeated`` marks a frame shown again (an underrun's
    hold, or pacing a slower engine), which sinks that only want new frames (the recorder) skip."""

    frame: np.ndarray
    seq: int
    t: float
    repeated: bool


@dataclass(frozen=True)
class PlayoutStatus:
    state: PlayState
    fps: float
    depth: int  # frames waiting
    latency_s: float  # depth / fps
    received: int  # frames pushed
    emitted: int  # ticks emitted (repeats included)
    repeats: int  # ticks that showed a held frame
    underruns: int  # times the buffer ran dry while playing
    overrun_frames: int  # frames dropped because the buffer was full
    late_resyncs: int  # times the grid was re-anchored because the thread was far behind
    displayed_fps: float  # ticks a second, measured over the last ~32 ticks
    content_fps: float = 0.0  # new frames a second the pacing takes (fps when not pacing)
    paced_repeats: int = 0  # ticks that repeated a frame on purpose to spread a slower engine's frames
    longest_still: int = 0  # the most ticks in a row that showed one frame (a freeze the audience saw)

    @property
    def health(self) -> str:
        """'ok', 'buffering', 'idle' — a word for the status bar."""
        return "ok" if self.state is PlayState.PLAYING else self.state.value


PACE_WINDOW = 8          # blocks over which the engine's frame rate is measured
PACE_GAP_S = 2.0         # a longer silence (a pause, a stall) starts the measurement again
PACE_GAIN = 0.5          # how hard a low buffer slows the taking of frames (per block of shortfall)
PACE_ENGAGE = 0.95       # pacing starts when the engine makes less than this share of fps
PACE_MIN = 0.05          # never take frames slower than this share of fps


class Playout:
    """The pure jitter buffer. Not thread-safe; ``PlayoutThread`` serialises access."""

    def __init__(self, config: PlayoutConfig = PlayoutConfig()) -> None:
        self.config = config
        self.period = 1.0 / config.fps
        self._buf: Deque[np.ndarray] = collections.deque()
        self._state = PlayState.IDLE
        self._next: Optional[float] = None
        self._last: Optional[np.ndarray] = None
        self._hold_left: Optional[int] = None
        self._seq = 0
        self._received = 0
        self._repeats = 0
        self._underruns = 0
        self._overrun_frames = 0
        self._late_resyncs = 0
        self._emit_times: Deque[float] = collections.deque(maxlen=32)
        self._held = False
        self._frozen: Optional[np.ndarray] = None    # the frame every tick shows while frozen
        self._arrivals: Deque[tuple[float, int, int]] = collections.deque(maxlen=PACE_WINDOW + 1)  # (t, n, low)
        self._phase = 0.0          # share of a new frame owed; a frame is taken when it reaches 1
        self._ratio = 1.0          # share of the ticks that take a new frame (``pace_ratio``)
        self._paced_repeats = 0
        self._still = 0            # ticks in a row on the current frame
        self._longest_still = 0

    # -- input ------------------------------------------------------------------------------

    def push(self, frames: Frames, now: float) -> None:
        """Queue a block (``[N, H, W, 3]`` or a sequence of ``[H, W, 3]``); frames are not copied."""
        low, before = len(self._buf), self._received
        for f in _iter_frames(frames):
            self._buf.append(f)
            self._received += 1
        excess = len(self._buf) - self.config.max_buffer
        if excess > 0:
            for _ in range(excess):
                self._buf.popleft()
            self._overrun_frames += excess
            log.debug("playout overrun: dropped %d oldest frames", excess)
        if self._arrivals and now - self._arrivals[-1][0] > PACE_GAP_S:
            self._arrivals.clear()
        if self._received > before:
            self._arrivals.append((now, self._received - before, low))
        self._ratio = self._measure_ratio()
        if self._state is PlayState.IDLE:
            self._state = PlayState.BUFFERING
        if self._state is PlayState.BUFFERING and self._next is None and self._ready():
            self._next = now  # first start: anchor the grid at the moment we have enough

    def clear(self) -> None:
        """Drop queued frames (e.g. a hard cut); keeps showing the last frame."""
        self._buf.clear()
        self._arrivals.clear()
        self._ratio = 1.0

    def freeze(self, on: bool) -> None:
        """Show the current frame on every tick while frames keep being consumed at the fixed rate
        (the pacing of the engine and the sinks' clocks stay as they are)."""
        self._frozen = self._last if on else None

    def hold(self, on: bool) -> None:
        """The producer paused on purpose: an empty buffer then repeats the last frame without counting
        underruns or repeats (a paused show is not a glitch); released, it rebuffers uncounted."""
        self._held = bool(on)
        self._arrivals.clear()
        self._ratio = 1.0
        if not on and not self._buf and self._state is PlayState.PLAYING:
            self._state = PlayState.BUFFERING

    # -- output -----------------------------------------------------------------------------

    def next_due(self) -> Optional[float]:
        """When ``advance`` should next be called; None while there is nothing to show."""
        return self._next

    def advance(self, now: float) -> list[Tick]:
        """Emit every tick due at ``now`` (normally 0 or 1)."""
        if self._next is None:
            return []
        behind = now - self._next
        if behind > self.config.max_catchup * self.period:
            missed = int(behind / self.period)
            self._next += missed * self.period
            self._late_resyncs += 1
            log.debug("playout late by %.3f s: skipped %d ticks", behind, missed)
        ticks: list[Tick] = []
        while self._next is not None and self._next <= now + 1e-9:
            tick = self._tick(self._next)
            if tick is not None:
                ticks.append(tick)
                self._emit_times.append(now)
            self._next += self.period
        return ticks

    def _ready(self) -> bool:
        return len(self._buf) >= max(1, self.config.prebuffer)

    def pace_ratio(self) -> float:
        """Share of the ticks that take a new frame (measured when a block arrives)."""
        return self._ratio

    def _measure_ratio(self) -> float:
        """1 when pacing is off, not yet measured (under four blocks since the start, a pause or a
        cut) or the engine keeps up; else the engine's measured rate over ``fps``, lowered while
        the buffer's low point is under ``prebuffer`` and raised while it is over (so a backlog
        drains and a short buffer refills)."""
        arr = self._arrivals
        if not self.config.pace or self._held or len(arr) < 4:
            return 1.0
        span = arr[-1][0] - arr[0][0]
        if span <= 0:
            return 1.0
        frames = sum(n for _, n, _ in list(arr)[1:])
        rate = frames / span / self.config.fps     # over several blocks: one block's jitter is a few %
        if rate >= PACE_ENGAGE:
            return 1.0                             # keeping up, jitter aside: the plain jitter buffer
        block = frames / (len(arr) - 1)
        low = arr[-1][2]                           # the newest low point: its error halves every block
        margin = max(1, self.config.prebuffer)
        correction = 1.0 + PACE_GAIN * (low - margin) / max(block, 1.0)   # a full buffer catches up
        return float(min(1.0, max(PACE_MIN, rate * max(0.5, correction))))

    def _tick(self, t: float) -> Optional[Tick]:
        repeated = paced = False
        if self._state is PlayState.PLAYING:
            self._phase += self._ratio             # < 2: one frame a tick at most, the rest carried
            if self._phase < 1.0 - 1e-9 and self._last is not None:
                repeated = paced = True            # spread a slower engine's frames evenly
            elif self._buf:
                self._phase -= 1.0
                self._last = self._buf.popleft()
            elif self._held:
                repeated = True
            else:
                self._underruns += 1
                self._state = PlayState.BUFFERING
                repeated = True
        elif self._state is PlayState.BUFFERING:
            if self._ready() and self._last is not None and self._hold_left is None:
                self._hold_left = self.config.rebuffer_hold
            if self._ready() and not self._hold_left:
                self._state = PlayState.PLAYING
                self._hold_left = None
                self._phase = 0.0
                self._last = self._buf.popleft()
            else:
                if self._hold_left:
                    self._hold_left -= 1
                repeated = True
        if self._last is None:
            return None
        if paced:
            self._paced_repeats += 1
        elif repeated and not self._held:
            self._repeats += 1
        if self._held or self._frozen is not None:
            self._still = 0                        # a pause or a freeze on purpose is not a glitch
        else:
            self._still = self._still + 1 if repeated else 1
            self._longest_still = max(self._longest_still, self._still)
        self._seq += 1
        return Tick(self._last if self._frozen is None else self._frozen, self._seq, t, repeated)

    def status(self) -> PlayoutStatus:
        times = self._emit_times
        fps = 0.0
        if len(times) >= 2 and times[-1] > times[0]:
            fps = (len(times) - 1) / (times[-1] - times[0])
        return PlayoutStatus(
            state=self._state,
            fps=self.config.fps,
            depth=len(self._buf),
            latency_s=len(self._buf) * self.period,
            received=self._received,
            emitted=self._seq,
            repeats=self._repeats,
            underruns=self._underruns,
            overrun_frames=self._overrun_frames,
            late_resyncs=self._late_resyncs,
            displayed_fps=fps,
            content_fps=self._ratio * self.config.fps,
            paced_repeats=self._paced_repeats,
            longest_still=self._longest_still,
        )


def _iter_frames(frames: Frames) -> Iterable[np.ndarray]:
    if isinstance(frames, np.ndarray):
        if frames.ndim == 3:
            return (frames,)
        if frames.ndim != 4:
            raise ValueError(f"expected [N, H, W, 3] or [H, W, 3], got shape {frames.shape}")
        return (frames[i] for i in range(frames.shape[0]))
    return frames


class LatestFrame:
    """A one-frame slot for the preview: the playout writes, the UI timer polls (never a callback)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Optional[np.ndarray] = None
        self._seq = 0

    def set(self, frame: np.ndarray, seq: int) -> None:
        with self._lock:
            self._frame, self._seq = frame, seq

    def get(self) -> tuple[Optional[np.ndarray], int]:
        """(frame, seq); ``seq`` changes when a new frame is shown, so a poller can skip redraws."""
        with self._lock:
            return self._frame, self._seq


class PlayoutThread:
    """Runs a ``Playout`` against the real clock and hands each tick to ``on_tick``.

    ``push`` (called on the engine's thread) only appends under a lock and wakes the thread.
    """

    def __init__(
        self,
        on_tick: Callable[[Tick], None],
        config: PlayoutConfig = PlayoutConfig(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.playout = Playout(config)
        self._on_tick = on_tick
        self._clock = clock
        self._cond = threading.Condition()
        self._stop = False
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="playout", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def push(self, frames: Frames) -> None:
        with self._cond:
            self.playout.push(frames, self._clock())
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self.playout.clear()

    def hold(self, on: bool) -> None:
        with self._cond:
            self.playout.hold(on)

    def freeze(self, on: bool) -> None:
        with self._cond:
            self.playout.freeze(on)

    def status(self) -> PlayoutStatus:
        with self._cond:
            return self.playout.status()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                ticks = self.playout.advance(self._clock())
                due = self.playout.next_due()
                if not ticks:
                    timeout = None if due is None else max(0.0, due - self._clock())
                    if timeout is None or timeout > 0:
                        self._cond.wait(timeout if timeout is not None else 0.5)
                    continue
            for tick in ticks:
                try:
                    self._on_tick(tick)
                except Exception:  # a bad listener must not stop the show
                    log.exception("playout listener failed")
