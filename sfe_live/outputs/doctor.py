"""``sfe-live doctor`` lines for outputs: which sinks work here, and what to do when one does not.

Each line starts with ``ok`` or ``--`` then the output's name, so the CLI can print them as they are.
Checks are cheap: nothing is opened except the NDI runtime (initialised once, no sender made).
"""

from __future__ import annotations

import logging

from sfe_live.availability import doctor_line
from sfe_live.ndi_runtime import ndi_availability

log = logging.getLogger(__name__)

__all__ = ["doctor_lines"]


_line = doctor_line


def doctor_lines() -> list[str]:
    lines = [_recorder_line(), _png_line(), _vcam_line(), _ndi_line(), _scaling_line()]
    return lines


def _recorder_line() -> str:
    try:
        import av
    except ImportError as exc:
        return _line(False, "recording (mp4)", f"PyAV missing: {exc}")
    ok = "libx264" in av.codecs_available
    text = f"H.264 via PyAV {av.__version__} (fragmented MP4)" if ok else "this FFmpeg build has no libx264 encoder"
    return _line(ok, "recording (mp4)", text)


def _png_line() -> str:
    try:
        import av
    except ImportError as exc:
        return _line(False, "recording (png)", f"PyAV missing: {exc}")
    ok = "png" in av.codecs_available
    return _line(ok, "recording (png)", "PNG sequence" if ok else "this FFmpeg build has no png encoder")


def _vcam_line() -> str:
    from .virtualcam import VirtualCamSink

    avail = VirtualCamSink().is_available()
    if avail:
        import pyvirtualcam

        return _line(True, "virtual camera", f"pyvirtualcam {pyvirtualcam.__version__} (device checked when enabled)")
    return _line(False, "virtual camera", avail.reason)


def _ndi_line() -> str:
    avail = ndi_availability()
    if avail:
        import NDIlib

        version = NDIlib.version() if hasattr(NDIlib, "version") else "runtime"
        return _line(True, "NDI out", str(version))
    return _line(False, "NDI out", avail.reason)


def _scaling_line() -> str:
    text = "libswscale (CPU) for numpy frames"
    try:
        import torch

        if torch.cuda.is_available():
            text += f"; torch on {torch.cuda.get_device_name(0)} for GPU frames"
    except Exception as exc:  # torch broken is reported elsewhere
        log.debug("torch not usable for scaling: %s", exc)
    return _line(True, "scaling", text)
