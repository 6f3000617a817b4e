"""A private Xvfb X server for tests, screenshots and headless GUI benchmarks.

``with xvfb() as display:`` starts ``Xvfb -displayfd`` (the server picks a free display number),
yields ``":N"`` and stops the server afterwards. Raises :class:`XvfbUnavailable` when the
``Xvfb`` binary is missing (Debian/Ubuntu: ``apt-get install xvfb``; Qt's xcb plugin also needs
``libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import subprocess
from typing import Iterator

log = logging.getLogger(__name__)


class XvfbUnavailable(RuntimeError):
    pass


@contextlib.contextmanager
def xvfb(width: int = 1600, height: int = 1000, depth: int = 24, timeout: float = 15.0) -> Iterator[str]:
    exe = shutil.which("Xvfb")
    if exe is None:
        raise XvfbUnavailable("Xvfb is not installed (apt-get install xvfb libxcb-icccm4 libxcb-keysyms1 "
                              "libxcb-cursor0)")
    r, w = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(w), "-screen", "0", f"{width}x{height}x{depth}",
                             "-nolisten", "tcp", "-noreset"], pass_fds=(w,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], timeout)
        number = os.read(r, 64).decode().strip() if ready else ""
        if not number:
            raise XvfbUnavailable(f"Xvfb did not report a display within {timeout:.0f} s")
        display = f":{number}"
        log.info("Xvfb %s started (pid %d)", display, proc.pid)
        yield display
    finally:
        os.close(r)
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
