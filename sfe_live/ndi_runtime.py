"""The NDI runtime, loaded once per process for NDI output and NDI input alike.

``ndi-python`` (module ``NDIlib``, MIT; it bundles Vizrt's NDI runtime, free to redistribute
under the NDI SDK licence) is an optional extra: ``pip install 'sfe-live[ndi]'``.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from sfe_live.availability import Availability

__all__ = ["INSTALL_NDI_MESSAGE", "NDIUnavailable", "load_ndi", "ndi_availability"]

INSTALL_NDI_MESSAGE = "NDI needs the optional extra: pip install 'sfe-live[ndi]' (ndi-python)"

_init_lock = threading.Lock()
_initialised: Optional[bool] = None


class NDIUnavailable(RuntimeError):
    """NDI cannot work here; the message says what to do."""


def load_ndi() -> Any:
    """Import NDIlib and initialise the runtime once per process; raises NDIUnavailable when impossible."""
    global _initialised
    try:
        import NDIlib
    except ImportError as exc:
        raise NDIUnavailable(INSTALL_NDI_MESSAGE) from exc
    with _init_lock:
        if _initialised is None:
            _initialised = bool(NDIlib.is_supported_CPU() and NDIlib.initialize())
        if not _initialised:
            raise NDIUnavailable("the NDI runtime did not start on this machine (unsupported CPU?)")
    return NDIlib


def ndi_availability() -> Availability:
    try:
        load_ndi()
    except NDIUnavailable as exc:
        return Availability(False, str(exc))
    return Availability(True)
