"""Spout (Windows) and Syphon (macOS) receivers as video-to-video sources.

* ``SpoutSource`` receives the Spout sender ``sender_name`` ("" = the active sender) with
  ``SpoutGL.SpoutReceiver``: ``receiveImage`` into an RGBA buffer, re-sized when ``isUpdated()``,
  then ``waitFrameSync`` until the sender's next frame.
* ``SyphonSource`` finds a server by name in ``syphon.SyphonServerDirectory`` and reads its Metal
  texture (``SyphonMetalClient.new_frame_image``, BGRA) with ``copy_mtl_texture_to_image``.

**Not tested on hardware** (see ``sfe_live.texshare_runtime``): the tests use stand-ins with the
packages' API. Elsewhere each is "not available on this OS".
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

import numpy as np

from sfe_live.texshare_runtime import spout_problem, syphon_problem

from sfe_live.availability import Availability

from .base import SourceError, SourceState, ThreadedSource

log = logging.getLogger(__name__)

__all__ = ["SpoutSource", "SyphonSource", "list_syphon_servers"]

WAIT_MS = 100


class SpoutSource(ThreadedSource):
    """Receives a Spout sender by name ("" follows the active sender)."""

    def __init__(self, sender_name: str = "", *, mode: str = "fill", name: str = "spout-in") -> None:
        super().__init__(mode=mode)
        self.name = name
        self.sender_name = sender_name
        self._recv: Any = None
        self._gl_rgba = 0
        self._buf: Optional[np.ndarray] = None

    def is_available(self) -> Availability:
        problem = spout_problem()
        return Availability(not problem, problem)

    def _open_media(self) -> None:
        problem = spout_problem()
        if problem:
            raise SourceError(problem)
        import SpoutGL
        from SpoutGL.enums import GL_RGBA

        self._recv, self._gl_rgba, self._buf = SpoutGL.SpoutReceiver(), GL_RGBA, None
        if self.sender_name:
            self._recv.setReceiverName(self.sender_name)

    def _close_media(self) -> None:
        recv, self._recv = self._recv, None
        if recv is not None:
            recv.releaseReceiver()

    def _read(self, stop: threading.Event) -> Any:
        recv = self._recv
        while not stop.is_set():
            ok = recv.receiveImage(self._buf, self._gl_rgba, False, 0)
            if recv.isUpdated():  # first connection or the sender's size changed
                w, h = recv.getSenderWidth(), recv.getSenderHeight()
                self._buf = np.zeros((h, w, 4), np.uint8) if w > 0 and h > 0 else None
                continue
            if ok and self._buf is not None:
                return self._buf[..., :3].copy()
            self._state = SourceState.WAITING
            recv.waitFrameSync(self.sender_name, WAIT_MS)
        return None


def list_syphon_servers() -> list[str]:
    """"app: name" of each Syphon server visible now (empty elsewhere than macOS)."""
    if syphon_problem():
        return []
    import syphon

    directory = syphon.SyphonServerDirectory()
    directory.update_run_loop()
    return [f"{d.app_name}: {d.name}" for d in directory.servers]


class SyphonSource(ThreadedSource):
    """Receives the Syphon server whose "app: name" contains ``server_name``."""

    def __init__(self, server_name: str = "", *, mode: str = "fill", name: str = "syphon-in") -> None:
        super().__init__(mode=mode)
        self.name = name
        self.server_name = server_name
        self._dir: Any = None
        self._client: Any = None
        self._to_image: Any = None

    def is_available(self) -> Availability:
        problem = syphon_problem()
        return Availability(not problem, problem)

    def _open_media(self) -> None:
        problem = syphon_problem()
        if problem:
            raise SourceError(problem)
        import syphon
        from syphon.utils.numpy import copy_mtl_texture_to_image

        self._dir, self._to_image = syphon.SyphonServerDirectory(), copy_mtl_texture_to_image

    def _close_media(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.stop()

    def _connect(self) -> bool:
        import syphon

        self._dir.update_run_loop()
        for d in self._dir.servers:
            if self.server_name in f"{d.app_name}: {d.name}":
                self._client = syphon.SyphonMetalClient(d)
                log.info("Syphon server %s: %s connected", d.app_name, d.name)
                return True
        return False

    def _read(self, stop: threading.Event) -> Any:
        while not stop.is_set():
            if self._client is None or not self._client.is_valid:
                self._client = None
                self._state = SourceState.WAITING
                if not self._connect():
                    stop.wait(0.2)
                continue
            self._dir.update_run_loop()
            if self._client.has_new_frame:
                image = self._to_image(self._client.new_frame_image)  # BGRA rows
                return np.ascontiguousarray(image[..., 2::-1])
            stop.wait(0.004)
        return None
