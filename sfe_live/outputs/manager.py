"""``OutputManager``: from the engine's blocks to every enabled output, none able to stall another.

::

    engine thread ──on_block(i, frames)──► PlayoutThread (fixed fps) ──► LatestFrame (preview)
                                                                     └──► SinkRunner × n (own
                                                                          thread + bounded queue)

``on_block`` only appends to the playout buffer (microseconds), so it is safe as the engine's
listener. Sinks are added once and enabled/disabled live; a sink enabled before the first frame
starts when the frame size is known, and restarts if the model's size changes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

import numpy as np

from .playout import LatestFrame, PlayoutConfig, PlayoutStatus, PlayoutThread, Tick
from .scaling import FitMode
from .sink import Sink, SinkRunner, SinkState, SinkStatus

log = logging.getLogger(__name__)

__all__ = ["OutputManager", "OutputsStatus"]


@dataclass(frozen=True)
class OutputsStatus:
    playout: PlayoutStatus
    sinks: tuple[SinkStatus, ...]
    frame_size: Optional[tuple[int, int]]  # (width, height) of the engine's frames, once known
    last_block: int  # index of the last block received, -1 before any
    blocks: int  # blocks received

    def sink(self, name: str) -> SinkStatus:
        for s in self.sinks:
            if s.name == name:
                return s
        raise KeyError(name)


class OutputManager:
    """Paces the engine's blocks and fans every shown frame out to the enabled sinks.

    Args:
        fps: the model's nominal frame rate (16 for Wan); the playout runs at it.
        playout: jitter-buffer settings; ``fps`` here wins over ``playout.fps``.
        copy_blocks: copy each block on arrival (only if the engine reuses its output buffer).
    """

    def __init__(
        self,
        fps: float = 16.0,
        playout: Optional[PlayoutConfig] = None,
        *,
        copy_blocks: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        cfg = replace(playout or PlayoutConfig(), fps=fps)
        self.fps = float(fps)
        self.copy_blocks = copy_blocks
        self.preview = LatestFrame()
        self._playout = PlayoutThread(self._on_tick, cfg, clock)
        self._lock = threading.Lock()
        self._runners: dict[str, SinkRunner] = {}
        self._wanted: set[str] = set()
        self._in_size: Optional[tuple[int, int]] = None
        self._last_block = -1
        self._blocks = 0
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> "OutputManager":
        self._playout.start()
        self._started = True
        return self

    def stop(self) -> None:
        """Stop the playout and close every sink (a recording is finalised)."""
        self._playout.stop()
        for runner in list(self._runners.values()):
            runner.disable()
        with self._lock:
            self._in_size = None  # enabled sinks start again with the next frame after start()
        self._started = False

    def __enter__(self) -> "OutputManager":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the engine's listener (engine thread: enqueue only) -------------------------------

    def on_block(self, block_index: int, frames: np.ndarray) -> None:
        """Engine listener: ``frames`` is ``uint8 [N, H, W, 3]``; the engine must not reuse it."""
        self._last_block = block_index
        self._blocks += 1
        self._playout.push(frames.copy() if self.copy_blocks else frames)

    def ahead_s(self) -> float:
        """Seconds of frames waiting in the playout: the engine may pause while this exceeds a
        block's duration (back-pressure), so an engine faster than real time does not overrun."""
        return self._playout.status().latency_s

    def clear(self) -> None:
        """Drop frames waiting in the playout (a hard cut); the last frame stays on screen."""
        self._playout.clear()

    def set_freeze(self, on: bool) -> None:
        """Every output shows the frame on screen now while frames keep flowing at the fixed rate."""
        self._playout.freeze(on)

    def set_hold(self, paused: bool) -> None:
        """The engine paused (True) or resumed: while paused the last frame stays without counting
        underruns or repeats."""
        self._playout.hold(paused)

    # -- sinks (any thread) -----------------------------------------------------------------

    def add_sink(
        self,
        sink: Sink,
        *,
        name: Optional[str] = None,
        enabled: bool = False,
        size: Optional[tuple[int, int]] = None,
        mode: Optional[FitMode | str] = None,
        queue_size: Optional[int] = None,
        clock_fps: Optional[float] = None,
        accept_repeats: Optional[bool] = None,
    ) -> SinkRunner:
        """Register a sink. Options left None come from ``sink.runner_options`` (if any)."""
        opts: dict[str, Any] = dict(getattr(sink, "runner_options", {}) or {})
        for key, value in (
            ("size", size),
            ("mode", mode),
            ("queue_size", queue_size),
            ("clock_fps", clock_fps),
            ("accept_repeats", accept_repeats),
        ):
            if value is not None:
                opts[key] = value
        runner = SinkRunner(sink, **opts)
        key = name or runner.name
        runner.name = key
        with self._lock:
            if key in self._runners:
                raise ValueError(f"a sink named {key!r} is already added")
            self._runners[key] = runner
        if enabled:
            self.enable(key)
        return runner

    def remove_sink(self, name: str) -> None:
        if name not in self._runners:
            return
        self.disable(name)
        with self._lock:
            self._runners.pop(name, None)

    def enable(self, name: str) -> None:
        """Start a sink (or restart a failed one); before the first frame it starts on arrival."""
        with self._lock:
            runner = self._runners[name]
            self._wanted.add(name)
            size = self._in_size
        if size is not None:
            runner.enable(size[0], size[1], self.fps)

    def disable(self, name: str) -> None:
        with self._lock:
            runner = self._runners[name]
            self._wanted.discard(name)
        runner.disable()

    def wanted(self, name: str) -> bool:
        """True while ``name`` is switched on (running, starting, or waiting for the first frame)."""
        with self._lock:
            return name in self._wanted

    def runner(self, name: str) -> SinkRunner:
        return self._runners[name]

    @property
    def sink_names(self) -> list[str]:
        return list(self._runners)

    # -- reading ----------------------------------------------------------------------------

    def latest(self) -> tuple[Optional[np.ndarray], int]:
        """The frame the audience sees now and its sequence number (for the preview)."""
        return self.preview.get()

    def status(self) -> OutputsStatus:
        sinks = []
        for key, runner in list(self._runners.items()):
            st = runner.status()
            if key in self._wanted and st.state is SinkState.OFF:
                st = replace(st, state=SinkState.STARTING)
            sinks.append(st)
        return OutputsStatus(
            playout=self._playout.status(),
            sinks=tuple(sinks),
            frame_size=self._in_size,
            last_block=self._last_block,
            blocks=self._blocks,
        )

    # -- the playout thread -----------------------------------------------------------------

    def _on_tick(self, tick: Tick) -> None:
        frame = tick.frame
        size = (int(frame.shape[1]), int(frame.shape[0]))
        if size != self._in_size:
            self._resize(size)
        self.preview.set(frame, tick.seq)
        for runner in list(self._runners.values()):
            runner.offer(frame, tick.repeated)

    def _resize(self, size: tuple[int, int]) -> None:
        with self._lock:
            old, self._in_size = self._in_size, size
            wanted = [self._runners[n] for n in self._wanted if n in self._runners]
        if old is not None:
            log.info("frame size changed %s -> %s: restarting %d sinks", old, size, len(wanted))
        for runner in wanted:
            if old is not None:
                runner.disable()
            runner.enable(size[0], size[1], self.fps)
