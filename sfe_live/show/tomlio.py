"""Small TOML file helpers: load with line-aware errors, find table lines, save atomically.

``tomllib`` keeps no positions, so :func:`table_lines` and :func:`key_line` scan the text for
``[[name]]`` headers and ``key =`` lines; validation errors can then say ``file:line``.
Used by cue lists, controller profiles and binding files.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import tomli_w

PathLike = Union[str, "os.PathLike[str]"]


class DataFileError(ValueError):
    """A problem in a data file; ``str()`` reads ``path:line: message``."""

    def __init__(self, message: str, path: Optional[PathLike] = None, line: Optional[int] = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<data>"
        if self.line:
            where += f":{self.line}"
        return f"{where}: {self.message}"


_LINE_RE = re.compile(r"at line (\d+)")


def parse_toml(text: str, path: Optional[PathLike] = None) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = _LINE_RE.search(str(e))
        raise DataFileError(f"TOML syntax error: {e}", path, int(m.group(1)) if m else None) from None


def load_toml(path: PathLike) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML file; returns (data, text). Errors name the file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise DataFileError(f"cannot read: {e.strerror or e}", p) from None
    except UnicodeDecodeError as e:
        raise DataFileError(f"not UTF-8 text: {e}", p) from None
    return parse_toml(text, p), text


def table_lines(text: str, name: str) -> list[int]:
    """1-based line numbers of every ``[[name]]`` header, in order."""
    pat = re.compile(r"^\s*\[\[\s*" + re.escape(name) + r"\s*\]\]")
    return [i + 1 for i, line in enumerate(text.splitlines()) if pat.match(line)]


def key_line(text: str, start: Optional[int], key: str) -> Optional[int]:
    """The line of ``key = ...`` in the table whose header is line ``start``.

    ``start=None`` searches the top-level keys before the first table. Falls back to
    ``start`` when the key is not written in that table.
    """
    lines = text.splitlines()
    pat = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    for i in range(start or 0, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if pat.match(lines[i]):
            return i + 1
    return start


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def dumps(data: dict[str, Any]) -> str:
    return tomli_w.dumps(data)


def save_toml(path: PathLike, data: dict[str, Any], header: str = "") -> None:
    text = dumps(data)
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + "\n" + text
    atomic_write_text(path, text)
