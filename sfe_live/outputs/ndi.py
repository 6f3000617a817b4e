"""NDI output: the show as a network video source for Resolume, TouchDesigner, OBS, vMix.

Uses ``cyndilib`` through the one loader ``sfe_live.ndi_runtime`` (optional extra
``pip install 'sfe-live[ndi]'``; MIT, bundles Vizrt's NDI runtime under the NDI SDK licence).
The sender is not clocked by NDI (``clock_video=False``): the playout already paces frames.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any, Optional

import numpy as np

from sfe_live.availability import Availability
from sfe_live.ndi_runtime import INSTALL_NDI_MESSAGE, NDIUnavailable, load_ndi, ndi_availability

from .sink import SinkError

log = logging.getLogger(__name__)

__all__ = ["NDISink", "ndi_availability", "INSTALL_NDI_MESSAGE"]


class NDISink:
    """A sink that publishes frames as the NDI source ``"<machine> (<ndi_name>)"``.

    Args:
        ndi_name: the stream's name on the network.
        groups: NDI groups (comma-separated) or None for the default group.
        size, mode: optional output size and scaling (default: the model's size).
    """

    def __init__(
        self,
        ndi_name: str = "sfe-live",
        *,
        groups: Optional[str] = None,
        size: Optional[tuple[int, int]] = None,
        mode: str = "fit",
        name: str = "ndi",
    ) -> None:
        self.name = name
        self.ndi_name = ndi_name
        self.groups = groups
        self.runner_options: dict[str, Any] = {"queue_size": 4, "mode": mode}
        if size is not None:
            self.runner_options["size"] = (int(size[0]), int(size[1]))
        self._sender: Any = None
        self._buf: Optional[np.ndarray] = None

    def is_available(self) -> Availability:
        return ndi_availability()

    @property
    def source_name(self) -> Optional[str]:
        """The full NDI name receivers see, "HOST (name)" (after open)."""
        if self._sender is None:
            return None
        src = self._sender.source
        return src.name if src is not None else self.ndi_name

    def connections(self, timeout_s: float = 0.0) -> int:
        """How many receivers are connected right now (0 when closed)."""
        if self._sender is None:
            return 0
        return int(self._sender.get_num_connections(timeout_s))

    def open(self, width: int, height: int, fps: float) -> None:
        try:
            lib = load_ndi()
        except NDIUnavailable as exc:
            raise SinkError(str(exc)) from exc
        kwargs: dict[str, Any] = {"clock_video": False, "clock_audio": False}
        if self.groups:
            kwargs["ndi_groups"] = self.groups
        sender = lib.Sender(self.ndi_name, **kwargs)
        frame = lib.VideoSendFrame()
        frame.set_resolution(width, height)
        frame.set_fourcc(lib.FourCC.RGBX)
        frame.set_frame_rate(Fraction(fps).limit_denominator(1001))
        sender.set_video_frame(frame)
        try:
            sender.open()
        except Exception as exc:
            raise SinkError(f"could not create the NDI sender {self.ndi_name!r}: {exc}") from exc
        self._buf = np.full((height, width, 4), 255, dtype=np.uint8)
        self._sender = sender
        log.info("NDI sender %s open: %dx%d at %.3g fps", self.source_name, width, height, fps)

    def send(self, frame: np.ndarray) -> None:
        assert self._buf is not None and self._sender is not None
        self._buf[..., :3] = frame
        if not self._sender.write_video(self._buf.reshape(-1)):
            raise SinkError("the NDI sender stopped")

    def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()
        self._buf = None
