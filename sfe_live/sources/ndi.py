"""NDI input: a network video source (Resolume, TouchDesigner, OBS, a phone camera app) as a v2v
source, through ``ndi-python`` (optional extra ``sfe-live[ndi]``).

The source is found by name (NDI's discovery, plus ``extra_ips`` to look on hosts mDNS cannot
reach). Until it appears the state is WAITING, not failed: sources come and go during a show.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Optional, Sequence

from sfe_live.availability import Availability
from sfe_live.ndi_runtime import NDIUnavailable, load_ndi, ndi_availability

from .base import SourceError, SourceState, ThreadedSource

log = logging.getLogger(__name__)

__all__ = ["NDISource", "list_ndi_sources"]

def _load() -> Any:
    """The NDI runtime (``sfe_live.ndi_runtime``); raises SourceError when it cannot work here."""
    try:
        return load_ndi()
    except NDIUnavailable as exc:
        raise SourceError(str(exc)) from exc


def _finder(lib: Any, extra_ips: Optional[Sequence[str]]) -> Any:
    create = lib.FindCreate()
    create.show_local_sources = True
    if extra_ips:
        create.extra_ips = ",".join(extra_ips)
    return lib.find_create_v2(create)


def list_ndi_sources(timeout_s: float = 1.0, extra_ips: Optional[Sequence[str]] = None) -> list[str]:
    """Names of the NDI sources visible within ``timeout_s``."""
    lib = _load()
    finder = _finder(lib, extra_ips)
    try:
        lib.find_wait_for_sources(finder, int(timeout_s * 1000))
        return [s.ndi_name for s in lib.find_get_current_sources(finder)]
    finally:
        lib.find_destroy(finder)


class NDISource(ThreadedSource):
    """Receives the NDI source whose full name contains ``source_name`` (e.g. "HOST (Resolume)").

    Args:
        source_name: the full NDI name or a unique part of it.
        extra_ips: hosts to ask directly, beside mDNS discovery.
        mode: "fill" (default), "fit" or "stretch".
    """

    def __init__(
        self,
        source_name: str,
        *,
        extra_ips: Optional[Sequence[str]] = None,
        mode: str = "fill",
        name: str = "ndi-in",
    ) -> None:
        super().__init__(mode=mode)
        self.name = name
        self.source_name = source_name
        self.extra_ips = list(extra_ips or [])
        self.connected_name: Optional[str] = None
        self._lib: Any = None
        self._finder: Any = None
        self._recv: Any = None

    def is_available(self) -> Availability:
        return ndi_availability()

    def _open_media(self) -> None:
        self._lib = _load()
        self._finder = _finder(self._lib, self.extra_ips)

    def _close_media(self) -> None:
        lib = self._lib
        if lib is None:
            return
        if self._recv is not None:
            lib.recv_destroy(self._recv)
            self._recv = None
        if self._finder is not None:
            lib.find_destroy(self._finder)
            self._finder = None
        self.connected_name = None

    def _connect(self, stop: threading.Event) -> bool:
        lib = self._lib
        lib.find_wait_for_sources(self._finder, 200)
        for src in lib.find_get_current_sources(self._finder):
            if self.source_name in src.ndi_name:
                create = lib.RecvCreateV3()
                create.color_format = lib.RECV_COLOR_FORMAT_RGBX_RGBA
                create.bandwidth = lib.RECV_BANDWIDTH_HIGHEST
                create.ndi_recv_name = "sfe-live"
                recv = lib.recv_create_v3(create)
                if recv is None:
                    raise SourceError("could not create an NDI receiver")
                lib.recv_connect(recv, src)
                self._recv = recv
                self.connected_name = src.ndi_name
                log.info("NDI source %s connected", src.ndi_name)
                return True
        return False

    def _read(self, stop: threading.Event) -> Any:
        lib = self._lib
        while not stop.is_set():
            if self._recv is None:
                self._state = SourceState.WAITING
                if not self._connect(stop):
                    time.sleep(0.05)
                continue
            kind, video, audio, meta = lib.recv_capture_v2(self._recv, 100, True, False, False)
            if kind == lib.FRAME_TYPE_VIDEO:
                try:
                    return video.data[..., :3].copy()
                finally:
                    lib.recv_free_video_v2(self._recv, video)
            if kind == lib.FRAME_TYPE_ERROR:
                log.warning("NDI source %s lost; looking for it again", self.connected_name)
                lib.recv_destroy(self._recv)
                self._recv = None
        return None
