"""The virtual camera: the show as a webcam in OBS, Zoom, Teams, a browser.

Uses pyvirtualcam (GPL-2.0, so an optional extra: ``pip install 'sfe-live[vcam]'``): v4l2loopback
on Linux, the OBS virtual camera on Windows and macOS. Frames are scaled to a standard webcam size
(1280×720 by default; macOS shows a green picture for odd sizes) and sent at a steady camera rate,
repeating the last frame between the model's blocks: consumers drop a camera that goes quiet.

Without a device, ``open`` raises ``SinkError`` with the exact steps for this OS
(``no_device_message``).
"""

from __future__ import annotations

import glob
import logging
import platform
from typing import Any, Optional

import numpy as np

from sfe_live.availability import Availability

from .sink import SinkError

log = logging.getLogger(__name__)

__all__ = ["STANDARD_SIZES", "VirtualCamSink", "no_device_message", "INSTALL_EXTRA_MESSAGE"]

STANDARD_SIZES: tuple[tuple[int, int], ...] = ((640, 480), (1280, 720), (1920, 1080))
DEFAULT_SIZE = (1280, 720)
DEFAULT_FPS = 30.0

INSTALL_EXTRA_MESSAGE = (
    "The virtual camera needs pyvirtualcam, an optional extra (GPL-2.0): "
    "pip install 'sfe-live[vcam]'"
)

_LINUX = (
    "No virtual camera device found (v4l2loopback). Install and load it once:\n"
    "  sudo apt install v4l2loopback-dkms\n"
    '  sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="sfe-live"\n'
    "then enable the virtual camera again. (To load it at every boot, add v4l2loopback to "
    "/etc/modules-load.d/ and the options to /etc/modprobe.d/.)"
)
_WINDOWS = (
    "The OBS virtual camera was not found. Install OBS Studio 30 or newer, open it, click "
    '"Start Virtual Camera" once, then "Stop Virtual Camera" (OBS must not be running its own '
    "virtual camera while sfe-live uses it); then enable the virtual camera again."
)
_MACOS = (
    "The OBS virtual camera was not found. Install OBS Studio 30 or newer, open it, click "
    '"Start Virtual Camera" once and approve the system extension if macOS asks (System '
    "Settings → Privacy & Security), then stop it; then enable the virtual camera again."
)


def no_device_message(system: Optional[str] = None) -> str:
    """What the user must do to get a virtual camera device on ``system`` (default: this OS)."""
    system = system or platform.system()
    if system == "Linux":
        return _LINUX
    if system == "Windows":
        return _WINDOWS
    if system == "Darwin":
        return _MACOS
    return f"Virtual cameras are not supported on {system}."


class VirtualCamSink:
    """A sink that feeds a virtual webcam.

    Args:
        size: (width, height) of the camera; a standard size is strongly advised.
        fps: the camera's steady rate; the last frame is repeated between new ones.
        mode: how the model's picture is scaled into ``size`` ("fit" letterboxes).
        device, backend: passed to ``pyvirtualcam.Camera`` (None: the first that works).
    """

    def __init__(
        self,
        size: tuple[int, int] = DEFAULT_SIZE,
        fps: float = DEFAULT_FPS,
        *,
        mode: str = "fit",
        device: Optional[str] = None,
        backend: Optional[str] = None,
        name: str = "virtualcam",
    ) -> None:
        if tuple(size) not in STANDARD_SIZES:
            log.warning("virtual camera size %sx%s is not a standard webcam size %s", *size, STANDARD_SIZES)
        self.name = name
        self.size = (int(size[0]), int(size[1]))
        self.fps = float(fps)
        self.device = device
        self.backend = backend
        # The runner's own clock holds the camera rate, so the playout's held frames are not needed.
        self.runner_options: dict[str, Any] = {
            "size": self.size,
            "mode": mode,
            "clock_fps": self.fps,
            "queue_size": 4,
            "accept_repeats": False,
        }
        self._cam: Any = None

    @property
    def camera(self) -> Any:
        """The open ``pyvirtualcam.Camera`` (None when closed)."""
        return self._cam

    def is_available(self) -> Availability:
        try:
            import pyvirtualcam
        except ImportError:
            return Availability(False, INSTALL_EXTRA_MESSAGE)
        if self.backend is not None and self.backend not in ("v4l2loopback", "obs", "unitycapture"):
            ok = self.backend in pyvirtualcam.camera.BACKENDS
            return Availability(ok, "" if ok else f"no pyvirtualcam backend named {self.backend!r}")
        if platform.system() == "Linux" and not glob.glob("/dev/video*"):
            return Availability(False, _LINUX)
        return Availability(True)

    def open(self, width: int, height: int, fps: float) -> None:
        try:
            import pyvirtualcam
        except ImportError as exc:
            raise SinkError(INSTALL_EXTRA_MESSAGE) from exc
        try:
            self._cam = pyvirtualcam.Camera(
                width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=self.device, backend=self.backend
            )
        except RuntimeError as exc:
            raise SinkError(f"{no_device_message()}\n(pyvirtualcam: {exc})") from exc
        log.info("virtual camera %s open: %dx%d at %.1f fps", self._cam.device, width, height, fps)

    def send(self, frame: np.ndarray) -> None:
        self._cam.send(frame)

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            cam.close()
