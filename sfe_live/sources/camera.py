"""A camera as a v2v source, through PyAV's device inputs: v4l2 (Linux), avfoundation (macOS),
dshow (Windows). The camera paces itself; a missing camera is a clear message, never a crash."""

from __future__ import annotations

import glob
import logging
import platform
import threading
from typing import Any, Optional

from sfe_live.availability import Availability

from .base import SourceError, ThreadedSource

log = logging.getLogger(__name__)

__all__ = ["CameraSource", "camera_format", "list_cameras"]

_FORMATS = {"Linux": "v4l2", "Darwin": "avfoundation", "Windows": "dshow"}


def camera_format(system: Optional[str] = None) -> Optional[str]:
    """The FFmpeg input format for cameras on ``system`` (default: this OS), or None."""
    return _FORMATS.get(system or platform.system())


def list_cameras() -> list[str]:
    """Camera device names that can be listed cheaply (Linux ``/dev/video*``; elsewhere empty)."""
    if platform.system() == "Linux":
        return sorted(glob.glob("/dev/video*"), key=lambda p: (len(p), p))
    return []


def no_camera_message(system: Optional[str] = None) -> str:
    system = system or platform.system()
    if system == "Linux":
        return (
            "No camera found: there is no /dev/video* device. Plug a camera in; if it is plugged in, "
            "check `v4l2-ctl --list-devices` and that your user is in the 'video' group."
        )
    if system == "Darwin":
        return (
            "No camera could be opened. Plug a camera in and allow camera access for this terminal or "
            "app in System Settings → Privacy & Security → Camera."
        )
    if system == "Windows":
        return (
            'No camera could be opened. Name it as "video=<camera name>"; list cameras with: '
            "ffmpeg -list_devices true -f dshow -i dummy"
        )
    return f"Cameras are not supported on {system}."


class CameraSource(ThreadedSource):
    """Reads a camera.

    Args:
        device: "/dev/video0" (Linux), "0" (macOS index), "video=Integrated Camera" (Windows);
            None picks the first camera on Linux and index 0 on macOS.
        capture_size: (width, height) asked of the camera; None leaves the camera's default.
        fps: frame rate asked of the camera; None leaves the default.
    """

    def __init__(
        self,
        device: Optional[str] = None,
        *,
        capture_size: Optional[tuple[int, int]] = None,
        fps: Optional[float] = None,
        mode: str = "fill",
        name: str = "camera",
    ) -> None:
        super().__init__(mode=mode, capacity=32)
        self.name = name
        self.device = device
        self.capture_size = capture_size
        self.fps = fps
        self._container: Any = None
        self._frames: Any = None

    def _resolve_device(self) -> str:
        if self.device:
            return self.device
        system = platform.system()
        if system == "Linux":
            cams = list_cameras()
            if not cams:
                raise SourceError(no_camera_message("Linux"))
            return cams[0]
        if system == "Darwin":
            return "0"
        raise SourceError(no_camera_message(system))

    def is_available(self) -> Availability:
        fmt = camera_format()
        if fmt is None:
            return Availability(False, no_camera_message())
        try:
            import av
        except ImportError as exc:
            return Availability(False, f"PyAV is not importable: {exc}")
        if not any(fmt in name.split(",") for name in av.formats_available):
            return Availability(False, f"this FFmpeg build has no {fmt} input for cameras")
        if platform.system() == "Linux" and not self.device and not list_cameras():
            return Availability(False, no_camera_message("Linux"))
        return Availability(True)

    def _open_media(self) -> None:
        import av

        avail = self.is_available()
        if not avail:
            raise SourceError(avail.reason)
        device = self._resolve_device()
        options: dict[str, str] = {}
        if self.capture_size:
            options["video_size"] = f"{self.capture_size[0]}x{self.capture_size[1]}"
        if self.fps:
            options["framerate"] = f"{self.fps:g}"
        try:
            container = av.open(device, format=camera_format(), options=options)
        except (av.error.FFmpegError, OSError) as exc:
            found = list_cameras()
            hint = f"cameras found: {', '.join(found)}" if found else no_camera_message()
            raise SourceError(f"cannot open camera {device}: {exc}\n{hint}") from exc
        if not container.streams.video:
            container.close()
            raise SourceError(f"camera {device} gives no video stream")
        self._container = container
        self._frames = container.decode(container.streams.video[0])
        log.info("camera %s open", device)

    def _close_media(self) -> None:
        container, self._container = self._container, None
        self._frames = None
        if container is not None:
            container.close()

    def _read(self, stop: threading.Event) -> Any:
        for frame in self._frames:
            return frame
        raise SourceError("the camera stopped sending frames (unplugged?)")
