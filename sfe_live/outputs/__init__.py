"""Outputs: every way a picture leaves the app, each a sink on its own thread.

``OutputManager`` takes the engine's blocks, paces them (``playout``) and fans the frames out to
sinks (``virtualcam``, ``ndi``, ``recorder``, or anything with the ``Sink`` protocol), scaling per
sink (``scaling``). ``doctor_lines()`` says which outputs work on this machine and why not.
Heavy imports (torch, pyvirtualcam, NDI) happen only when a sink is used.
"""

from .manager import OutputManager, OutputsStatus
from .ndi import NDISink
from .playout import LatestFrame, Playout, PlayoutConfig, PlayoutStatus, Tick
from .recorder import Recorder
from .scaling import FitMode, Placement, Scaler, placement, scale_frame
from .sink import Sink, SinkError, SinkRunner, SinkState, SinkStatus
from .virtualcam import VirtualCamSink

__all__ = [
    "FitMode",
    "LatestFrame",
    "NDISink",
    "OutputManager",
    "OutputsStatus",
    "Placement",
    "Playout",
    "PlayoutConfig",
    "PlayoutStatus",
    "Recorder",
    "Scaler",
    "Sink",
    "SinkError",
    "SinkRunner",
    "SinkState",
    "SinkStatus",
    "Tick",
    "VirtualCamSink",
    "doctor_lines",
    "placement",
    "scale_frame",
]


def doctor_lines() -> list[str]:
    """One line per output: available or not, and why (see ``doctor.py``)."""
    from .doctor import doctor_lines as _lines

    return _lines()
