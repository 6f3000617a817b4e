"""Small Qt-free meters the GUI keeps: timer lateness, frame rate, the block clock.

* :class:`LatencyMeter`: how late each GUI timer tick fires compared to its period — a direct
  measure of how long the event loop was blocked (the budget is < 16 ms while generating).
* :class:`RateMeter`: events per second over a sliding window (frames the preview displayed).
* :class:`BlockClock`: when the next block should arrive, from the times the block index moved.

All take explicit timestamps so tests can drive them with a fake clock.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float

    def __str__(self) -> str:
        return f"p50 {self.p50_ms:.1f} / p95 {self.p95_ms:.1f} / max {self.max_ms:.1f} ms"


class LatencyMeter:
    """Lateness of a periodic timer: ``(t_i - t_{i-1}) - period``, clipped at 0."""

    def __init__(self, period_s: float, window: int = 4000) -> None:
        self.period = float(period_s)
        self._late: collections.deque[float] = collections.deque(maxlen=window)
        self._prev: Optional[float] = None

    def tick(self, now: float) -> float:
        late = 0.0
        if self._prev is not None:
            late = max(0.0, (now - self._prev) - self.period)
            self._late.append(late)
        self._prev = now
        return late

    def reset(self) -> None:
        self._late.clear()
        self._prev = None

    def stats(self) -> LatencyStats:
        if not self._late:
            return LatencyStats(0, 0.0, 0.0, 0.0)
        a = np.fromiter(self._late, dtype=np.float64) * 1000.0
        return LatencyStats(len(a), float(np.percentile(a, 50)), float(np.percentile(a, 95)), float(a.max()))


class RateMeter:
    """Events per second over the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window = float(window_s)
        self._t: collections.deque[float] = collections.deque()
        self.total = 0

    def add(self, now: float) -> None:
        self._t.append(now)
        self.total += 1
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._t and now - self._t[0] > self.window:
            self._t.popleft()

    def rate(self, now: float) -> float:
        self._trim(now)
        if len(self._t) < 2:
            return 0.0
        span = max(now - self._t[0], self._t[-1] - self._t[0])
        return (len(self._t) - 1) / span if span > 0 else 0.0


class BlockClock:
    """Estimates the time until the next block from the moments the block index changed."""

    def __init__(self, keep: int = 8) -> None:
        self._changes: collections.deque[float] = collections.deque(maxlen=keep)
        self._block: Optional[int] = None

    def update(self, block: int, now: float) -> None:
        if block != self._block:
            if self._block is not None:
                self._changes.append(now)
            self._block = block

    @property
    def period(self) -> Optional[float]:
        if len(self._changes) < 2:
            return None
        t = list(self._changes)
        return float(np.median(np.diff(t)))

    def eta(self, now: float) -> Optional[float]:
        """Seconds until the next block is expected (0 when overdue); None before two blocks."""
        p = self.period
        if p is None:
            return None
        return max(0.0, self._changes[-1] + p - now)
