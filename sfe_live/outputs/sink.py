"""The Sink protocol and ``SinkRunner``: one thread and one bounded queue per output.

A *sink* is anything a picture leaves the app through (virtual camera, NDI, a recording, a test
collector). It implements four calls, all made from the runner's own thread::

    is_available() -> Availability     # cheap; ``reason`` says what to do when not
    open(width, height, fps) -> None   # may raise SinkError with a message for the user
    send(frame) -> None                # frame: np.uint8 [H, W, 3] RGB, C-contiguous
    close() -> None                    # always called once after a successful open

``SinkRunner`` wraps a sink so that it can never stall the producer or the other sinks:

* ``offer(frame)`` never blocks: when the queue is full the *oldest* queued frame is dropped and
  counted (``dropped``), so a slow sink falls behind alone and stays close to live.
* The runner optionally scales frames to the sink's output size on its own thread (``Scaler``).
* With ``clock_fps`` the runner sends at that rate, repeating the last frame when nothing new
  arrived (a webcam consumer such as Zoom drops a camera that stops sending).
* Any exception from ``open``/``send`` puts the runner in ``FAILED`` with the message; the thread
  closes the sink and ends. ``enable()`` starts it again. A ``send`` that blocks longer than
  ``stall_after_s`` shows as ``STALLED``; ``disable()`` never waits longer than ``join_timeout_s``.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, runtime_checkable

import numpy as np

from sfe_live.availability import Availability

from .scaling import FitMode, Scaler

log = logging.getLogger(__name__)

__all__ = [
    "Sink",
    "SinkError",
    "SinkRunner",
    "SinkState",
    "SinkStatus",
]


class SinkError(RuntimeError):
    """A sink cannot open or send; the message is meant for the user as it is."""


@runtime_checkable
class Sink(Protocol):
    """What every output implements. All calls come from the sink's own runner thread."""

    name: str

    def is_available(self) -> Availability: ...

    def open(self, width: int, height: int, fps: float) -> None: ...

    def send(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


class SinkState(str, enum.Enum):
    OFF = "off"
    STARTING = "starting"
    RUNNING = "running"
    STALLED = "stalled"  # a send() has been blocking longer than stall_after_s
    FAILED = "failed"


@dataclass(frozen=True)
class SinkStatus:
    """A snapshot for the Outputs panel and ``status()``; counters only grow while enabled."""

    name: str
    state: SinkState
    error: str
    size: tuple[int, int]  # (width, height) the sink receives
    fps: float
    offered: int  # frames handed to offer()
    sent: int  # frames the sink accepted (repeats included)
    repeated: int  # of which repeats made by clock_fps
    dropped: int  # frames dropped because this sink's queue was full
    queue_depth: int
    send_ms: float  # mean send() time over the last ~second of sends


_STOP = object()


class SinkRunner:
    """Owns one sink: its thread, its bounded queue, its counters and its failure state.

    Args:
        sink: the output.
        size: (width, height) sent to the sink; None keeps the producer's size.
        mode: how frames are scaled to ``size`` ("fit", "fill", "stretch").
        queue_size: frames held for this sink before the oldest is dropped.
        clock_fps: send at this rate, repeating the last frame between new ones (virtual camera).
        accept_repeats: False skips frames marked as repeats by the playout (a recording keeps
            each generated frame once, so an engine hiccup does not stutter the file).
        stall_after_s: a send() blocking this long turns the state to STALLED.
        join_timeout_s: the longest disable() waits for the thread; a stuck one is abandoned.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        size: Optional[tuple[int, int]] = None,
        mode: FitMode | str = FitMode.FIT,
        queue_size: int = 8,
        clock_fps: Optional[float] = None,
        accept_repeats: bool = True,
        stall_after_s: float = 2.0,
        join_timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be >= 1")
        self.sink = sink
        self.name: str = getattr(sink, "name", type(sink).__name__)
        self.size = size
        self.mode = FitMode(mode)
        self.clock_fps = clock_fps
        self.accept_repeats = accept_repeats
        self.stall_after_s = stall_after_s
        self.join_timeout_s = join_timeout_s
        self._clock = clock
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._gen = 0  # a thread abandoned by disable() must not overwrite a newer one's state
        self._stop = threading.Event()
        self._state = SinkState.OFF
        self._error = ""
        self._in_size: Optional[tuple[int, int]] = None
        self._fps = 0.0
        self._offered = 0
        self._sent = 0
        self._repeated = 0
        self._dropped = 0  # written by the producer thread only
        self._skipped = 0  # written by the sink thread only (clocked mode: superseded frames)
        self._send_started: Optional[float] = None
        self._send_times: list[float] = []

    # -- control (any thread) ---------------------------------------------------------------

    def enable(self, width: int, height: int, fps: float) -> None:
        """Start (or restart after a failure) with frames of ``width``×``height`` at ``fps``."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                if self._state in (SinkState.RUNNING, SinkState.STARTING, SinkState.STALLED):
                    return
            self._in_size = (width, height)
            self._fps = float(fps)
            self._error = ""
            self._state = SinkState.STARTING
            self._stop = threading.Event()
            self._queue = queue.Queue(maxsize=self._queue.maxsize)
            self._gen += 1
            self._thread = threading.Thread(
                target=self._run,
                args=(self._gen, self._stop, self._queue),
                name=f"sink-{self.name}",
                daemon=True,
            )
            self._thread.start()

    def disable(self) -> None:
        """Stop the thread and close the sink; never blocks longer than ``join_timeout_s``."""
        with self._lock:
            thread, stop, q = self._thread, self._stop, self._queue
            self._thread = None
            self._gen += 1
            self._state = SinkState.OFF  # the last error stays readable in status().error
        if thread is None:
            return
        stop.set()
        _put_dropping_oldest(q, _STOP)
        thread.join(self.join_timeout_s)
        if thread.is_alive():
            log.warning("sink %s did not stop within %.1f s; abandoned", self.name, self.join_timeout_s)

    @property
    def enabled(self) -> bool:
        return self._thread is not None

    def offer(self, frame: np.ndarray, repeated: bool = False) -> None:
        """Queue a frame for this sink without ever blocking; drops this sink's oldest when full."""
        if self._thread is None or self._state == SinkState.FAILED:
            return
        if repeated and not self.accept_repeats:
            return
        self._offered += 1
        if _put_dropping_oldest(self._queue, frame):
            self._dropped += 1

    def status(self) -> SinkStatus:
        state = self._state
        started = self._send_started
        if state == SinkState.RUNNING and started is not None:
            if self._clock() - started > self.stall_after_s:
                state = SinkState.STALLED
        times = self._send_times[-32:]
        return SinkStatus(
            name=self.name,
            state=state,
            error=self._error,
            size=self._out_size() or (0, 0),
            fps=self.clock_fps or self._fps,
            offered=self._offered,
            sent=self._sent,
            repeated=self._repeated,
            dropped=self._dropped + self._skipped,
            queue_depth=self._queue.qsize(),
            send_ms=1000.0 * (sum(times) / len(times)) if times else 0.0,
        )

    # -- the sink's thread ------------------------------------------------------------------

    def _out_size(self) -> Optional[tuple[int, int]]:
        return self.size or self._in_size

    def _set_state(self, gen: int, state: SinkState, error: Optional[str] = None) -> None:
        with self._lock:
            if gen != self._gen:
                return
            self._state = state
            if error is not None:
                self._error = error

    def _run(self, gen: int, stop: threading.Event, q: queue.Queue[Any]) -> None:
        assert self._in_size is not None
        w, h = self._out_size() or self._in_size
        scaler = None
        if (w, h) != self._in_size:
            scaler = Scaler(w, h, self.mode)
        opened = False
        try:
            avail = self.sink.is_available()
            if not avail:
                raise SinkError(avail.reason or f"{self.name} is not available here")
            self.sink.open(w, h, self.clock_fps or self._fps)
            opened = True
            if stop.is_set():
                return
            self._set_state(gen, SinkState.RUNNING)
            log.info("sink %s running at %dx%d", self.name, w, h)
            if self.clock_fps:
                self._loop_clocked(stop, q, scaler, self.clock_fps)
            else:
                self._loop_push(stop, q, scaler)
        except Exception as exc:  # a sink may fail in any way; the show goes on
            message = _message(exc)
            self._set_state(gen, SinkState.FAILED, message)
            log.error("sink %s failed: %s", self.name, message)
        finally:
            self._send_started = None
            if opened:
                try:
                    self.sink.close()
                except Exception as exc:
                    log.warning("sink %s: close failed: %s", self.name, _message(exc))

    def _loop_push(self, stop: threading.Event, q: queue.Queue[Any], scaler: Optional[Scaler]) -> None:
        while not stop.is_set():
            item = q.get()
            if item is _STOP:
                return
            self._send(scaler(item) if scaler else item, repeated=False)

    def _loop_clocked(
        self, stop: threading.Event, q: queue.Queue[Any], scaler: Optional[Scaler], fps: float
    ) -> None:
        period = 1.0 / fps
        last: Optional[np.ndarray] = None
        next_t = time.monotonic()
        while not stop.is_set():
            item = None
            # Take the newest queued frame; older ones this tick are dropped (sink slower than source).
            while True:
                try:
                    got = q.get_nowait()
                except queue.Empty:
                    break
                if got is _STOP:
                    return
                if item is not None:
                    self._skipped += 1
                item = got
            if item is not None:
                last = scaler(item) if scaler else item
                self._send(last, repeated=False)
            elif last is not None:
                self._send(last, repeated=True)
            next_t += period
            delay = next_t - time.monotonic()
            if delay < -period:  # far behind (slow sink): re-anchor instead of bursting
                next_t = time.monotonic()
                delay = 0.0
            if delay > 0:
                stop.wait(delay)

    def _send(self, frame: np.ndarray, repeated: bool) -> None:
        t0 = self._clock()
        self._send_started = t0
        self.sink.send(frame)
        self._send_started = None
        self._send_times.append(self._clock() - t0)
        if len(self._send_times) > 64:
            del self._send_times[:32]
        self._sent += 1
        if repeated:
            self._repeated += 1


def _put_dropping_oldest(q: queue.Queue[Any], item: Any) -> bool:
    """Put without blocking; if full, drop the oldest item first. Returns True if one was dropped."""
    dropped = False
    while True:
        try:
            q.put_nowait(item)
            return dropped
        except queue.Full:
            try:
                q.get_nowait()
                dropped = True
            except queue.Empty:
                pass


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if isinstance(exc, SinkError) and text else f"{type(exc).__name__}: {text}"
