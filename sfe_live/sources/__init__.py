"""Sources: pictures coming in for video-to-video, each behind the ``Source`` protocol.

``FileSource`` (a video file, looping, seekable), ``CameraSource`` (v4l2 / avfoundation / dshow
through PyAV), ``StillImageSource`` and ``NDISource`` (optional extra). Every source fits its frames
to the model's size and keeps the newest; the engine calls ``latest(n)`` for a block's worth.
"""

from .base import FrameRing, Source, SourceError, SourceState, SourceStatus, fit_frame
from .camera import CameraSource, camera_format, list_cameras
from .file import FileSource
from .ndi import NDISource, list_ndi_sources
from .still import StillImageSource

__all__ = [
    "CameraSource",
    "FileSource",
    "FrameRing",
    "NDISource",
    "Source",
    "SourceError",
    "SourceState",
    "SourceStatus",
    "StillImageSource",
    "camera_format",
    "doctor_lines",
    "fit_frame",
    "list_cameras",
    "list_ndi_sources",
]


def doctor_lines() -> list[str]:
    """One line per source kind: available or not, and why."""
    from .doctor import doctor_lines as _lines

    return _lines()
