"""Spout (Windows) and Syphon (macOS) senders: the show as a GPU-shared texture for Resolume,
TouchDesigner, MadMapper and OBS on the same machine.

* ``SpoutSink`` uses ``SpoutGL`` (PyPI ``SpoutGL``, BSD-2; extra ``sfe-live[spout]``):
  ``SpoutSender.setSenderName`` then ``sendImage(RGBA, w, h, GL_RGBA, flip, fbo)`` per frame and
  ``setFrameSync`` so receivers can wait for it.
* ``SyphonSink`` uses ``syphon-python`` (PyPI ``syphon-python``, MIT; extra ``sfe-live[syphon]``):
  a ``SyphonMetalServer`` publishing one Metal texture that each frame is copied into.

**Not tested on hardware**: this Linux project tests both against stand-in modules that have the
real packages' API (``tests/standins``). On another OS each reports one line, "not available on
this OS", never an error.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np

from sfe_live.texshare_runtime import UNTESTED, spout_problem, syphon_problem

from sfe_live.availability import Availability

from .sink import SinkError

log = logging.getLogger(__name__)

__all__ = ["SpoutSink", "SyphonSink", "spout_availability", "syphon_availability", "UNTESTED"]


def spout_availability() -> Availability:
    problem = spout_problem()
    return Availability(not problem, problem)


def syphon_availability() -> Availability:
    problem = syphon_problem()
    return Availability(not problem, problem)


class SpoutSink:
    """Publishes frames as the Spout sender ``sender_name``."""

    def __init__(self, sender_name: str = "sfe-live", *, name: str = "spout") -> None:
        self.name = name
        self.sender_name = sender_name
        self.runner_options: dict[str, Any] = {"queue_size": 4}
        self._sender: Any = None
        self._gl_rgba = 0
        self._buf: Optional[np.ndarray] = None

    def is_available(self) -> Availability:
        return spout_availability()

    def open(self, width: int, height: int, fps: float) -> None:
        import SpoutGL
        from SpoutGL.enums import GL_RGBA

        sender = SpoutGL.SpoutSender()
        if sender.setSenderName(self.sender_name) is False:
            raise SinkError(f"Spout refused the sender name {self.sender_name!r}")
        self._sender, self._gl_rgba = sender, GL_RGBA
        self._buf = np.full((height, width, 4), 255, dtype=np.uint8)
        log.info("Spout sender %r open: %dx%d", self.sender_name, width, height)

    def send(self, frame: np.ndarray) -> None:
        assert self._buf is not None
        self._buf[..., :3] = frame
        h, w = self._buf.shape[:2]
        if not self._sender.sendImage(self._buf, w, h, self._gl_rgba, False, 0):
            raise SinkError("Spout did not take the frame (no OpenGL context or shared texture?)")
        self._sender.setFrameSync(self.sender_name)

    def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.releaseSender()
        self._buf = None


class SyphonSink:
    """Publishes frames as the Syphon server ``server_name`` (Metal)."""

    def __init__(self, server_name: str = "sfe-live", *, name: str = "syphon") -> None:
        self.name = name
        self.server_name = server_name
        self.runner_options: dict[str, Any] = {"queue_size": 4}
        self._server: Any = None
        self._texture: Any = None
        self._copy: Any = None
        self._buf: Optional[np.ndarray] = None

    def is_available(self) -> Availability:
        return syphon_availability()

    def open(self, width: int, height: int, fps: float) -> None:
        import syphon
        from syphon.utils.numpy import copy_image_to_mtl_texture
        from syphon.utils.raw import create_mtl_texture

        server = syphon.SyphonMetalServer(self.server_name)
        self._texture = create_mtl_texture(server.device, width, height)
        self._server, self._copy = server, copy_image_to_mtl_texture
        self._buf = np.full((height, width, 4), 255, dtype=np.uint8)
        log.info("Syphon server %r open: %dx%d", self.server_name, width, height)

    def send(self, frame: np.ndarray) -> None:
        assert self._buf is not None
        self._buf[..., :3] = frame
        self._copy(self._buf, self._texture)
        self._server.publish_frame_texture(self._texture)

    @property
    def has_clients(self) -> bool:
        return bool(self._server is not None and self._server.has_clients)

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        self._texture = self._buf = None
