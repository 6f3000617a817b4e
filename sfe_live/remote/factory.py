"""``make_app(settings)``: a local ``App``, or a ``RemoteApp`` when ``settings.remote`` names a server.

Imports the WebRTC parts only when they are needed, so a GUI without the ``remote`` extra still runs.
"""

from __future__ import annotations

from sfe_live.app import App, AppSettings

from . import NO_EXTRA


def make_app(settings: AppSettings) -> App:
    if settings.remote is None:
        return App(settings)
    try:
        from .client import RemoteApp
    except ImportError:
        raise RuntimeError(NO_EXTRA) from None
    return RemoteApp(settings)
