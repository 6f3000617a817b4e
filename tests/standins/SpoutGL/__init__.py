"""Stand-in for PyPI ``SpoutGL`` (Windows): senders and receivers share frames in this process."""

from __future__ import annotations

import threading
from typing import Any, Optional

import numpy as np

from . import enums  # noqa: F401  (SpoutGL.enums.GL_RGBA)

_cv = threading.Condition()
_senders: dict[str, dict[str, Any]] = {}  # name -> {"data": bytes, "w", "h", "frame"}
_active: list[str] = []


def reset() -> None:
    with _cv:
        _senders.clear()
        _active.clear()


class SpoutSender:
    def __init__(self) -> None:
        self._name = ""

    def __enter__(self) -> "SpoutSender":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.releaseSender()

    def setSenderName(self, name: str) -> bool:  # noqa: N802 - the real API's names
        self._name = name
        return True

    def sendImage(self, buf: Any, width: int, height: int, gl_format: int, invert: bool, host_fbo: int) -> bool:  # noqa: N802
        if gl_format != enums.GL_RGBA:
            raise ValueError("stand-in supports GL_RGBA only")
        data = np.frombuffer(memoryview(buf), dtype=np.uint8)
        if data.size != width * height * 4:
            return False
        with _cv:
            s = _senders.setdefault(self._name, {"frame": 0})
            if self._name not in _active:
                _active.append(self._name)
            s.update(data=data.copy(), w=width, h=height)
            s["frame"] += 1
            _cv.notify_all()
        return True

    def setFrameSync(self, name: str) -> None:  # noqa: N802
        with _cv:
            _cv.notify_all()

    def releaseSender(self) -> None:  # noqa: N802
        with _cv:
            _senders.pop(self._name, None)
            if self._name in _active:
                _active.remove(self._name)


class SpoutReceiver:
    def __init__(self) -> None:
        self._name = ""
        self._size = (0, 0)
        self._updated = False
        self._seen = 0

    def __enter__(self) -> "SpoutReceiver":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.releaseReceiver()

    def setReceiverName(self, name: str) -> None:  # noqa: N802
        self._name = name

    def _sender(self) -> Optional[dict[str, Any]]:
        name = self._name or (_active[-1] if _active else "")
        return _senders.get(name)

    def receiveImage(self, buf: Any, gl_format: int, invert: bool, host_fbo: int) -> bool:  # noqa: N802
        with _cv:
            s = self._sender()
            if s is None or "data" not in s:
                return False
            if (s["w"], s["h"]) != self._size:
                self._size = (s["w"], s["h"])
                self._updated = True
                return True
            if buf is None:
                return False
            np.frombuffer(memoryview(buf).cast("B"), dtype=np.uint8)[:] = s["data"]
            self._seen = s["frame"]
            return True

    def isUpdated(self) -> bool:  # noqa: N802
        updated, self._updated = self._updated, False
        return updated

    def getSenderWidth(self) -> int:  # noqa: N802
        return self._size[0]

    def getSenderHeight(self) -> int:  # noqa: N802
        return self._size[1]

    def waitFrameSync(self, name: str, timeout_ms: int) -> bool:  # noqa: N802
        with _cv:
            return _cv.wait_for(lambda: (self._sender() or {}).get("frame", 0) > self._seen, timeout_ms / 1000)

    def releaseReceiver(self) -> None:  # noqa: N802
        self._size = (0, 0)
