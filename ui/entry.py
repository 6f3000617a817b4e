"""The ``sfe-live`` console script: the core CLI, with the GUI plugged in when Qt is present.

Lives in ``ui`` so that the core package never imports the GUI: the core's CLI receives
the window launcher as a callable.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional, Sequence

from sfe_live import cli


def _no_display() -> bool:
    """Linux without X11/Wayland and no explicit Qt platform: the window cannot open."""
    return (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
            and not os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"))


def _run_gui(settings: Any, argv: Sequence[str]) -> int:
    if _no_display():
        raise cli.UserError("no display to open the window on: run 'xvfb-run sfe-live' for a virtual one, "
                            "or 'sfe-live run --headless' (OSC, MIDI, recording, no window)")
    try:
        from ui.main import run_gui
    except ImportError as exc:
        raise cli.UserError(f"the GUI cannot start ({exc}); try 'sfe-live run --headless'") from None
    return run_gui(settings, list(argv))


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(argv, gui=_run_gui)


if __name__ == "__main__":
    sys.exit(main())
