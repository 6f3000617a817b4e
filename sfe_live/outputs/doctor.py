"""``sfe-live doctor`` lines for outputs: which sinks work here, and what to do when one does not.

Each line starts with ``ok`` or ``--`` then the output's name, so the CLI can print them as they are.
Checks are cheap: nothing is opened except the NDI runtime (initialised once, no sender made).
"""

from __future__ import annotations

import logging

from sfe_live.availability import doctor_line

log = logging.getLogger(__name__)

__all__ = ["doctor_lines", "sink_reason"]


_line = doctor_line


def doctor_lines() -> list[str]:
    lines = [_recorder_line(), _png_line(), _vcam_line(), _ndi_line(), *_texshare_lines(), _scaling_line()]
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
    from sfe_live.ndi_runtime import ndi_problem, ndi_version

    problem = ndi_problem()
    return _line(not problem, "NDI out", problem or ndi_version())


def _texshare_lines() -> list[str]:
    """Spout and Syphon: the same one-line reason the Outputs panel shows (``sink_reason``)."""
    from .texshare import SpoutSink, SyphonSink

    return [_line(bool(s.is_available()), label, sink_reason(s))
            for label, s in (("Spout out", SpoutSink()), ("Syphon out", SyphonSink()))]


def sink_reason(sink: object) -> str:
    """What ``doctor`` and the Outputs panel say about a sink: its availability, and for Spout and
    Syphon that they are not tested on hardware."""
    from sfe_live.texshare_runtime import UNTESTED

    from .texshare import SpoutSink, SyphonSink

    avail = sink.is_available()  # type: ignore[attr-defined]
    text = avail.reason if not avail else "available"
    if isinstance(sink, (SpoutSink, SyphonSink)):
        text += f" · {UNTESTED}"
    return text


def _scaling_line() -> str:
    text = "libswscale (CPU) for numpy frames"
    try:
        import torch

        if torch.cuda.is_available():
            text += f"; torch on {torch.cuda.get_device_name(0)} for GPU frames"
    except Exception as exc:  # torch broken is reported elsewhere
        log.debug("torch not usable for scaling: %s", exc)
    return _line(True, "scaling", text)
