"""NDI input: a network video source (Resolume, TouchDesigner, OBS, a phone camera app) as a v2v
source, through ``cyndilib`` (the one loader ``sfe_live.ndi_runtime``; extra ``sfe-live[ndi]``).

The source is found by name with NDI's discovery (``list_ndi_sources`` lists what is visible; hosts
mDNS cannot reach go in the NDI config file's ``ndi.networks.ips``). Until it appears the state is
WAITING, not failed: sources come and go during a show. Frames are read with NDI's frame-sync
(the newest frame whenever asked), so a slow engine never builds a queue of old frames.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Optional

from sfe_live.availability import Availability
from sfe_live.ndi_runtime import NDIUnavailable, load_ndi, ndi_availability

from .base import SourceError, SourceState, ThreadedSource

log = logging.getLogger(__name__)

__all__ = ["NDISource", "list_ndi_sources", "ndi_in_availability"]

POLL_S = 0.004  # frame-sync poll interval: well under a frame at 60 fps


def ndi_in_availability() -> Availability:
    return ndi_availability()


def _lib() -> Any:
    try:
        return load_ndi()
    except NDIUnavailable as exc:
        raise SourceError(str(exc)) from exc


def _finder() -> Any:
    """A new NDI finder that its caller's thread alone drives (``wait_for_sources`` then
    ``update_sources``). cyndilib's own finder thread (``Finder.open``) is never started: it
    refreshes the SDK's source array while another thread reads it, which the library documents
    as unsupported (a ``Source`` holds a pointer into that array; a receiver connecting from a
    stale one reads freed memory). Discovery runs in the SDK from creation on."""
    return _lib().Finder()


def list_ndi_sources(timeout_s: float = 1.0) -> list[str]:
    """Full names ("HOST (stream)") of the NDI sources visible within ``timeout_s``."""
    finder = _finder()
    end = time.monotonic() + timeout_s
    while True:
        finder.update_sources()
        names = finder.get_source_names()
        left = end - time.monotonic()
        if names and left <= timeout_s / 2 or left <= 0:
            return sorted(names)
        finder.wait_for_sources(min(0.1, max(0.001, left)))


class NDISource(ThreadedSource):
    """Receives the NDI source whose full name contains ``source_name`` (e.g. "HOST (Resolume)").

    Args:
        source_name: the full NDI name or a unique part of it.
        mode: "fill" (default), "fit" or "stretch".
    """

    def __init__(self, source_name: str, *, mode: str = "fill", name: str = "ndi-in") -> None:
        super().__init__(mode=mode)
        self.name = name
        self.source_name = source_name
        self.connected_name: Optional[str] = None
        self._lib: Any = None
        self._finder: Any = None
        self._recv: Any = None
        self._frame: Any = None
        self._last_ts: Optional[float] = None

    def is_available(self) -> Availability:
        return ndi_in_availability()

    def _open_media(self) -> None:
        self._lib = _lib()
        self._finder = _finder()          # driven by the reader thread only (see _finder)

    def _close_media(self) -> None:
        if self._recv is not None:
            self._recv.disconnect()
            self._recv = None
        self._finder = None
        self.connected_name = None

    def _connect(self) -> bool:
        lib, finder = self._lib, self._finder
        finder.update_sources()
        for full in finder.get_source_names():
            if self.source_name in full:
                recv = lib.Receiver(color_format=lib.RecvColorFormat.RGBX_RGBA,
                                    bandwidth=lib.RecvBandwidth.highest, recv_name="sfe-live")
                frame = lib.VideoFrameSync()
                recv.frame_sync.set_video_frame(frame)
                recv.set_source(finder.get_source(full))
                self._recv, self._frame, self._last_ts = recv, frame, None
                self.connected_name = full
                log.info("NDI source %s connected", full)
                return True
        return False

    def _read(self, stop: threading.Event) -> Any:
        while not stop.is_set():
            if self._recv is None:
                self._state = SourceState.WAITING
                if not self._connect():
                    self._finder.wait_for_sources(0.2)
                continue
            self._recv.frame_sync.capture_video()
            f = self._frame
            w, h = f.xres, f.yres
            ts = f.get_timestamp_posix()
            if w > 0 and h > 0 and ts != self._last_ts:
                self._last_ts = ts
                return f.get_array().reshape(h, w, 4)[..., :3]
            stop.wait(POLL_S)
        return None
