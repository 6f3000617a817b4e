"""NDI output: the show as a network video source for Resolume, TouchDesigner, OBS, vMix.

The runtime is ``ndi-python``'s, loaded once by ``sfe_live.ndi_runtime`` (an optional extra:
``pip install 'sfe-live[ndi]'``). The sender is not clocked by NDI (``clock_video=False``): the
playout already paces frames at the model's fps.

Discovery is NDI's own (mDNS on the LAN, or a discovery server / extra IPs from the NDI config
file that ``NDI_CONFIG_DIR`` points to).
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any, Optional

import numpy as np

from sfe_live import ndi_runtime
from sfe_live.availability import Availability
from sfe_live.ndi_runtime import NDIUnavailable, ndi_availability

from .sink import SinkError

log = logging.getLogger(__name__)

__all__ = ["NDISink"]


def load_ndi() -> Any:
    """The NDI runtime (``sfe_live.ndi_runtime``); raises SinkError when it cannot work here."""
    try:
        return ndi_runtime.load_ndi()
    except NDIUnavailable as exc:
        raise SinkError(str(exc)) from exc


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
        self._lib: Any = None
        self._sender: Any = None
        self._frame: Any = None
        self._buf: Optional[np.ndarray] = None

    def is_available(self) -> Availability:
        return ndi_availability()

    @property
    def source_name(self) -> Optional[str]:
        """The full NDI name receivers see (after open)."""
        if self._sender is None:
            return None
        return self._lib.send_get_source_name(self._sender).ndi_name

    def connections(self, timeout_ms: int = 0) -> int:
        """How many receivers are connected right now (0 when closed)."""
        if self._sender is None:
            return 0
        return int(self._lib.send_get_no_connections(self._sender, timeout_ms))

    def open(self, width: int, height: int, fps: float) -> None:
        lib = load_ndi()
        create = lib.SendCreate()
        create.ndi_name = self.ndi_name
        if self.groups:
            create.groups = self.groups
        create.clock_video = False
        create.clock_audio = False
        sender = lib.send_create(create)
        if sender is None:
            raise SinkError(f"could not create the NDI sender {self.ndi_name!r}")
        rate = Fraction(fps).limit_denominator(1001)
        frame = lib.VideoFrameV2()
        frame.FourCC = lib.FOURCC_VIDEO_TYPE_RGBX
        frame.frame_rate_N, frame.frame_rate_D = rate.numerator, rate.denominator
        self._buf = np.full((height, width, 4), 255, dtype=np.uint8)
        self._lib, self._sender, self._frame = lib, sender, frame
        log.info("NDI sender %s open: %dx%d at %s fps", self.source_name, width, height, rate)

    def send(self, frame: np.ndarray) -> None:
        assert self._buf is not None
        self._buf[..., :3] = frame
        self._frame.data = self._buf
        self._lib.send_send_video_v2(self._sender, self._frame)

    def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            self._lib.send_destroy(sender)
        self._buf = None
