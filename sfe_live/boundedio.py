"""Reading small input files with a size bound checked before (and while) reading.

Cue lists, key maps, bindings, model ``config.json`` files and replay logs are small; a wrong
path (``/dev/zero``, a FIFO, a 5 GB video picked by mistake) must cost one line, not gigabytes.
:func:`read_bytes_bounded` refuses a regular file whose size is over the limit without reading it
and stops any other file (devices, pipes) after ``limit`` bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]


class FileTooLarge(ValueError):
    """The input is larger than its limit; the message says both sizes and names no path."""


def _human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def read_bytes_bounded(path: PathLike, limit: int) -> bytes:
    """The bytes of ``path`` (at most ``limit``); raises :class:`FileTooLarge` beyond, OSError as usual."""
    with open(Path(path), "rb") as f:
        st = os.fstat(f.fileno())
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise FileTooLarge(f"too large ({_human(st.st_size)}; the limit is {_human(limit)})")
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "is a folder", str(path))
        data = f.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"too large (more than {_human(limit)}, the limit; not a regular file?)")
    return data
