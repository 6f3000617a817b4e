"""The ``sfe-live`` console script: the core CLI, with the GUI plugged in when Qt is present.

Lives in ``ui`` so that the core package never imports the GUI: the core's CLI receives
the window launcher as a callable.
"""

from __future__ import annotations

import sys
from typing import Any, Optional, Sequence

from sfe_live import cli


def _run_gui(settings: Any, argv: Sequence[str]) -> int:
    try:
        from ui.main import run_gui
    except ImportError as exc:
        raise cli.UserError(f"the GUI cannot start ({exc}); try 'sfe-live run --headless'") from None
    return run_gui(settings, list(argv))


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(argv, gui=_run_gui)


if __name__ == "__main__":
    sys.exit(main())
