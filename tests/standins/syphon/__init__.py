"""Stand-in for PyPI ``syphon-python`` (macOS): servers and clients share textures in this process."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any, Optional

_lock = threading.Lock()
_servers: dict[str, "SyphonMetalServer"] = {}
_ids = itertools.count(1)


def reset() -> None:
    with _lock:
        _servers.clear()


class MTLDevice:
    def name(self) -> str:
        return "stand-in Metal device"


@dataclass(frozen=True)
class SyphonServerDescription:
    uuid: str
    name: str
    app_name: str


class SyphonMetalServer:
    def __init__(self, name: str, device: Optional[Any] = None, command_queue: Optional[Any] = None) -> None:
        self.name = name
        self.device = device or MTLDevice()
        self.uuid = f"stand-in-{next(_ids)}"
        self.frame: Any = None  # the last published texture's pixels (RGBA)
        self.count = 0
        self.clients = 0
        with _lock:
            _servers[self.uuid] = self

    def publish_frame_texture(self, texture: Any, region: Any = None, size: Any = None,
                              is_flipped: bool = False) -> None:
        with _lock:
            self.frame = texture.data.copy()
            self.count += 1

    @property
    def has_clients(self) -> bool:
        return self.clients > 0

    def stop(self) -> None:
        with _lock:
            _servers.pop(self.uuid, None)


class SyphonServerDirectory:
    def __init__(self) -> None:
        self.run_loop_interval = 1.0

    def update_run_loop(self) -> None:
        pass

    @property
    def servers(self) -> list[SyphonServerDescription]:
        with _lock:
            return [SyphonServerDescription(s.uuid, s.name, "python") for s in _servers.values()]

    def servers_matching_name(self, name: Optional[str] = None, app_name: Optional[str] = None):
        return [d for d in self.servers if (name is None or d.name == name)
                and (app_name is None or d.app_name == app_name)]


class SyphonMetalClient:
    """Gives BGRA textures, as a Metal client of Syphon does by default."""

    def __init__(self, description: SyphonServerDescription, device: Optional[Any] = None) -> None:
        self._uuid = description.uuid
        self._seen = 0
        with _lock:
            server = _servers.get(self._uuid)
            if server is not None:
                server.clients += 1

    def _server(self) -> Optional[SyphonMetalServer]:
        return _servers.get(self._uuid)

    @property
    def is_valid(self) -> bool:
        return self._server() is not None

    @property
    def has_new_frame(self) -> bool:
        s = self._server()
        return s is not None and s.count > self._seen

    @property
    def new_frame_image(self) -> Any:
        from .utils.raw import MTLTexture

        with _lock:
            s = self._server()
            if s is None or s.frame is None:
                return None
            self._seen = s.count
            rgba = s.frame
            tex = MTLTexture(rgba.shape[1], rgba.shape[0])
            tex.data[...] = rgba[..., [2, 1, 0, 3]]
            return tex

    def stop(self) -> None:
        with _lock:
            s = self._server()
            if s is not None:
                s.clients -= 1
        self._uuid = ""
