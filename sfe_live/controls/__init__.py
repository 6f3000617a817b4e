"""Live controls: one vocabulary of named actions driven by MIDI, OSC, keys, audio, tempo and cues.

Entry points: :class:`~sfe_live.controls.hub.ControlHub` (build with ``submit``, ``status`` and
settings; ``start()``/``stop()``) and :func:`~sfe_live.controls.doctor.doctor_lines`.
Imported lazily so ``import sfe_live.controls`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ControlHub", "ControlSettings", "doctor_lines"]


def __getattr__(name: str) -> Any:
    if name == "ControlHub":
        from .hub import ControlHub
        return ControlHub
    if name == "ControlSettings":
        from .settings import ControlSettings
        return ControlSettings
    if name == "doctor_lines":
        from .doctor import doctor_lines
        return doctor_lines
    raise AttributeError(name)
