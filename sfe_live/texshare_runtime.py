"""The one check for Spout (Windows, ``SpoutGL``) and Syphon (macOS, ``syphon-python``), shared by
their sinks (``outputs.texshare``) and sources (``sources.texshare``).

``spout_problem()`` / ``syphon_problem()`` return "" when the package can be used here, else one
line: "not available on this OS (...)" elsewhere, or the extra to install. Neither is tested on
hardware yet (``UNTESTED``); the tests drive them through stand-ins with the packages' API.
"""

from __future__ import annotations

import platform

__all__ = ["SPOUT_INSTALL", "SYPHON_INSTALL", "UNTESTED", "spout_problem", "syphon_problem", "system"]

UNTESTED = "not tested on hardware"
SPOUT_INSTALL = "Spout needs the optional extra: pip install 'sfe-live[spout]' (SpoutGL)"
SYPHON_INSTALL = "Syphon needs the optional extra: pip install 'sfe-live[syphon]' (syphon-python)"


def system() -> str:
    """The OS name as ``platform.system()`` says it (tests replace this)."""
    return platform.system()


def _problem(os_name: str, label: str, module: str, install: str) -> str:
    if system() != os_name:
        return f"not available on this OS ({label} is {'macOS' if os_name == 'Darwin' else os_name}-only)"
    try:
        __import__(module)
    except ImportError:
        return install
    except Exception as exc:  # a broken binary: one line, not a traceback
        return f"{module} does not load: {type(exc).__name__}: {exc}"
    return ""


def spout_problem() -> str:
    return _problem("Windows", "Spout", "SpoutGL", SPOUT_INSTALL)


def syphon_problem() -> str:
    return _problem("Darwin", "Syphon", "syphon", SYPHON_INSTALL)
