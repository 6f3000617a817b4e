"""The one NDI loader: imports ``cyndilib`` (MIT; its wheels bundle the NDI 6 runtime) for both the
NDI sink (``outputs.ndi``) and the NDI source (``sources.ndi``).

Why cyndilib and not ``ndi-python``: both bundle the runtime on Linux and Windows and both sent and
received 160/160 frames at 832x480/16 fps on loopback here, but ``ndi-python`` publishes no macOS
wheel at all (a Mac user would have to build it against the NDI SDK), while cyndilib ships macOS
arm64 wheels. See ``scripts/ndi_compare.py`` and the README's NDI section for the figures.

Discovery is NDI's own: mDNS on the LAN, or a discovery server / extra IPs in the NDI config file
that ``NDI_CONFIG_DIR`` points to (``ndi-config.v1.json``, key ``ndi.networks.ips``).
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Optional

from sfe_live.availability import Availability

__all__ = ["INSTALL_NDI_MESSAGE", "NDIUnavailable", "load_ndi", "ndi_availability", "ndi_problem", "ndi_version"]

INSTALL_NDI_MESSAGE = "NDI needs the optional extra: pip install 'sfe-live[ndi]' (cyndilib)"

_lock = threading.Lock()
_problem: Optional[str] = None
_module: Optional[ModuleType] = None


class NDIUnavailable(RuntimeError):
    """NDI cannot work here; the message says what to do."""


def load_ndi() -> ModuleType:
    """Import cyndilib once per process (it loads the bundled NDI runtime); raises NDIUnavailable."""
    global _problem, _module
    with _lock:
        if _module is None and _problem is None:
            try:
                import cyndilib
            except ImportError:
                _problem = INSTALL_NDI_MESSAGE
            except OSError as exc:  # the bundled runtime failed to load (unsupported CPU / OS)
                _problem = f"the NDI runtime did not load on this machine ({exc})"
            else:
                _module = cyndilib
        if _module is None:
            raise NDIUnavailable(_problem or INSTALL_NDI_MESSAGE)
        return _module


def ndi_problem() -> str:
    """"" when NDI works here, else the one-line reason (the text ``doctor`` prints)."""
    try:
        load_ndi()
    except NDIUnavailable as exc:
        return str(exc)
    return ""


def ndi_availability() -> Availability:
    problem = ndi_problem()
    return Availability(not problem, problem)


def ndi_version() -> str:
    """E.g. "cyndilib 0.1.3 · NDI SDK LINUX ... 6.3.2.0" (raises NDIUnavailable)."""
    load_ndi()
    from importlib.metadata import version

    from cyndilib.wrapper import ndi_version as runtime  # the bundled runtime's version string

    return f"cyndilib {version('cyndilib')} · {runtime}"
