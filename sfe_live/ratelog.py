"""Rate-limited logging for per-message warnings (OSC, MIDI, cues, actions).

A fuzzer or a stuck controller can send thousands of bad messages a second; one warning line
each would bury the log (and cost more than the messages). :class:`RateLimitedLog` writes the
first ``burst`` lines of a kind, then at most one line per ``interval`` seconds, which says how
many were left out since the last line. Thread-safe; kinds are independent.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

MAX_KINDS = 256


class RateLimitedLog:
    """``rl(kind, "fmt %s", arg)`` logs like ``logger.warning`` but at most ``burst`` + 1/``interval`` s."""

    def __init__(self, logger: logging.Logger, burst: int = 10, interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.burst = int(burst)
        self.interval = float(interval)
        self._clock = clock
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, kind: str, msg: str, *args: Any, level: int = logging.WARNING,
                 exc_info: bool = False) -> bool:
        """Log (or count) one event; True when a line was written."""
        now = self._clock()
        with self._lock:
            if kind not in self.counts and len(self.counts) >= MAX_KINDS:
                kind = "other"
            n = self.counts.get(kind, 0) + 1
            self.counts[kind] = n
            if n > self.burst and now - self._last.get(kind, -1e18) < self.interval:
                self._held[kind] = self._held.get(kind, 0) + 1
                return False
            held = self._held.pop(kind, 0)
            self._last[kind] = now
        if held:
            msg = msg + f" ({held} more like this not logged)"
        elif n == self.burst + 1:
            msg = msg + " (further ones are summarised)"
        self.logger.log(level, msg, *args, exc_info=exc_info)
        return True
