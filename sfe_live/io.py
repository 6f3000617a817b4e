"""Core file I/O: atomic writes, bounded TOML reads with line-aware errors, the config folder.

Every file the app saves (cue lists, profiles, bindings, settings, logs, weights) goes through
:func:`atomic_path`: the data is written to a temporary file in the same folder, flushed to
disk and renamed over the target, so a crash or a full disk never leaves half a file.

``tomllib`` keeps no positions, so :func:`table_lines` and :func:`key_line` scan the text for
``[[name]]`` headers and ``key =`` lines; validation errors can then say ``file:line``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import tomli_w

PathLike = Union[str, "os.PathLike[str]"]

MAX_TOML_BYTES = 2 * 1024 * 1024     # cue lists, profiles and bindings are a few KiB


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


# -- the config folder --------------------------------------------------------------------------

def config_dir() -> Path:
    """The user's sfe-live folder: ``$SFE_LIVE_CONFIG_DIR`` or the platform's user config folder."""
    env = os.environ.get("SFE_LIVE_CONFIG_DIR")
    if env:
        return Path(env)
    try:
        from platformdirs import user_config_dir
        return Path(user_config_dir("sfe-live"))
    except Exception:  # pragma: no cover - platformdirs is a dependency
        return Path.home() / ".config" / "sfe-live"


# -- atomic writes ------------------------------------------------------------------------------

@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without an error the file is
    flushed to disk and renamed over ``path``, otherwise it is removed and ``path`` is untouched."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)


# -- TOML ---------------------------------------------------------------------------------------

_LINE_RE = re.compile(r"at line (\d+)")


def parse_toml(text: str, path: Optional[PathLike] = None) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = _LINE_RE.search(str(e))
        raise DataFileError(f"TOML syntax error: {e}", path, int(m.group(1)) if m else None) from None


def read_text(path: PathLike, max_bytes: int) -> str:
    """A UTF-8 text file of at most ``max_bytes``; errors are one :class:`DataFileError` line."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise DataFileError(f"file is {size:,} bytes, more than the {max_bytes:,} allowed: "
                                    f"is this the right file?", p)
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise DataFileError(f"cannot read: {e.strerror or e}", p) from None
    if len(data) > max_bytes:
        raise DataFileError(f"file grew past the {max_bytes:,} bytes allowed while reading", p)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataFileError(f"not UTF-8 text: {e}", p) from None


def load_toml(path: PathLike, max_bytes: int = MAX_TOML_BYTES) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML file of at most ``max_bytes``; returns (data, text). Errors name the
    file and line."""
    text = read_text(path, max_bytes)
    return parse_toml(text, path), text


def save_toml(path: PathLike, data: dict[str, Any], header: str = "") -> None:
    """Write ``data`` as TOML atomically, after ``header`` as ``#`` comment lines."""
    text = tomli_w.dumps(data)
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + "\n" + text
    atomic_write_text(path, text)


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
