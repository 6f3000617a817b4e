"""Frames between the outputs and WebRTC: the server's fan-out sink and its video track.

``FrameFanout`` is an ordinary output :class:`~sfe_live.outputs.sink.Sink` added to the server's
``OutputManager``: it sees every frame the playout shows (once; no repeats) and hands it to each
connected peer's :class:`FrameTrack`. A track keeps at most ``QUEUE`` frames; when a peer's encoder
falls behind the oldest frame is dropped and counted, so one slow link never stalls the engine.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import threading
from typing import Optional

import av
import numpy as np
from aiortc import MediaStreamTrack

from sfe_live.outputs.sink import Availability

log = logging.getLogger(__name__)

CLOCK = 90000
QUEUE = 8


class FrameTrack(MediaStreamTrack):
    """A video track fed from another thread with ``put(frame)``; pts count frames at ``fps``."""

    kind = "video"

    def __init__(self, loop: asyncio.AbstractEventLoop, fps: float) -> None:
        super().__init__()
        self._loop = loop
        self._queue: asyncio.Queue[np.ndarray] = asyncio.Queue(maxsize=QUEUE)
        self.step = int(round(CLOCK / max(1.0, fps)))
        self.count = 0
        self.dropped = 0

    def put(self, frame: np.ndarray) -> None:
        """Any thread: queue a frame for this peer (drop the oldest when full)."""
        try:
            self._loop.call_soon_threadsafe(self._put, frame)
        except RuntimeError:        # the server's loop has closed (shutting down)
            self.dropped += 1

    def _put(self, frame: np.ndarray) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(frame)

    async def recv(self) -> av.VideoFrame:
        frame = await self._queue.get()
        h, w = frame.shape[0] & ~1, frame.shape[1] & ~1       # the encoders need even sizes
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="rgb24")
        vf.pts = self.count * self.step
        vf.time_base = fractions.Fraction(1, CLOCK)
        self.count += 1
        return vf


class FrameFanout:
    """An output sink that forwards each shown frame to every attached track."""

    name = "remote"
    runner_options = {"accept_repeats": False, "queue_size": 4}

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tracks: list[FrameTrack] = []
        self.sent = 0
        self.size: Optional[tuple[int, int]] = None

    def attach(self, track: FrameTrack) -> None:
        with self._lock:
            self._tracks.append(track)

    def detach(self, track: FrameTrack) -> None:
        with self._lock:
            if track in self._tracks:
                self._tracks.remove(track)

    # -- the Sink protocol (the runner's thread) ---------------------------------------------
    def is_available(self) -> Availability:
        return Availability(True)

    def open(self, width: int, height: int, fps: float) -> None:
        self.size = (width, height)

    def send(self, frame: np.ndarray) -> None:
        self.sent += 1
        with self._lock:
            tracks = list(self._tracks)
        for t in tracks:
            t.put(frame)

    def close(self) -> None:
        pass
