"""``sfe-live doctor`` lines for sources (v2v inputs): which work here and what to do if not."""

from __future__ import annotations

from sfe_live.availability import doctor_line
from sfe_live.ndi_runtime import ndi_availability

__all__ = ["doctor_lines"]


_line = doctor_line


def doctor_lines() -> list[str]:
    from .camera import CameraSource, camera_format, list_cameras

    lines = []
    try:
        import av

        lines.append(_line(True, "video file", f"PyAV {av.__version__} (loops, seek)"))
        ok = all(c in av.codecs_available for c in ("png", "mjpeg"))
        lines.append(_line(ok, "still image", "PNG, JPEG" if ok else "this FFmpeg build lacks png/mjpeg decoders"))
    except ImportError as exc:
        lines.append(_line(False, "video file", f"PyAV missing: {exc}"))
    cam = CameraSource().is_available()
    cams = list_cameras()
    detail = f"{camera_format()}: {', '.join(cams)}" if cams else f"{camera_format()} input"
    lines.append(_line(bool(cam), "camera", detail if cam else cam.reason))
    from sfe_live.ndi_runtime import ndi_version
    from sfe_live.texshare_runtime import UNTESTED, spout_problem, syphon_problem

    ndi = ndi_availability()
    lines.append(_line(bool(ndi), "NDI in", ndi_version() if ndi else ndi.reason))
    for label, problem in (("Spout in", spout_problem()), ("Syphon in", syphon_problem())):
        lines.append(_line(not problem, label, f"{problem or 'available'} · {UNTESTED}"))
    return lines
