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

MAX_DEPTH = 32
"""The deepest nesting accepted; real files use three or four levels."""

_TOKEN_RE = re.compile(r'"""|\'\'\'|["\'#\[\]{}.=,\n]')
_BASIC_END = re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_ML_BASIC_END = re.compile(r'[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""', re.S)


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> tuple[int, int]:
    """(deepest nesting, its line) of TOML ``text``; stops scanning once ``limit`` is passed.

    Counts open arrays and inline tables plus the parts of dotted keys and table headers,
    outside strings and comments. A rough lexer, not a parser: ``tomllib`` still validates.
    """
    kinds: list[str] = []          # open brackets, innermost last: "[" or "{"
    dots: list[int] = []           # dotted-key parts per open bracket level
    base = 0                       # dotted-key parts of the current top-level key
    header = 0                     # parts of the current [table] header
    in_header = after_eq = False
    in_key = True
    line = 1
    deepest, deepest_line = 0, 1
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN_RE.search(text, pos)
        if m is None:
            break
        tok, pos = m.group(), m.end()
        if tok == "\n":
            line += 1
            if not kinds:
                base, in_header, after_eq, in_key = 0, False, False, True
            continue
        if tok == "#":
            nl = text.find("\n", pos)
            pos = n if nl < 0 else nl
            continue
        if tok in ('"', "'", '"""', "\'\'\'"):
            if tok == "'":
                end = text.find("'", pos)
                end = n if end < 0 else end + 1
            elif tok == "\'\'\'":
                end = text.find("\'\'\'", pos)
                end = n if end < 0 else end + 3
            else:
                sm = (_BASIC_END if tok == '"' else _ML_BASIC_END).match(text, pos)
                end = n if sm is None else sm.end()
            line += text.count("\n", pos, end)
            pos = end
            continue
        if tok == ".":
            if in_header:
                header += 1
            elif in_key:
                if dots:
                    dots[-1] += 1
                else:
                    base += 1
        elif tok == "=":
            in_key = False
            after_eq = not kinds
            continue
        elif tok == ",":
            if dots:
                dots[-1] = 0
                in_key = kinds[-1] == "{"
            continue
        elif tok == "[":
            if not kinds and not after_eq:
                if not in_header:
                    in_header, header = True, 1
                else:
                    header += 1       # [[array of tables]]
                continue
            kinds.append("[")
            dots.append(0)
            in_key = False
        elif tok == "{":
            kinds.append("{")
            dots.append(0)
            in_key = True
        elif tok in ("]", "}"):
            if kinds:
                kinds.pop()
                dots.pop()
            in_key = False
            continue
        depth = header + base + len(kinds) + sum(dots)
        if depth > deepest:
            deepest, deepest_line = depth, line
            if deepest > limit:
                break
    return deepest, deepest_line



def parse_toml(text: str, path: Optional[PathLike] = None) -> dict[str, Any]:
    """Parse TOML text; nesting past :data:`MAX_DEPTH` is refused before ``tomllib`` recurses into it
    (a file nested 100,000 deep aborted the process)."""
    depth, line = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise DataFileError(f"nested more than {MAX_DEPTH} levels deep (arrays, tables or dotted keys); "
                            "not a file this program writes", path, line)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = _LINE_RE.search(str(e))
        raise DataFileError(f"TOML syntax error: {e}", path, int(m.group(1)) if m else None) from None


def read_text(path: PathLike, max_bytes: int) -> str:
    """A UTF-8 text file of at most ``max_bytes`` (a larger regular file is not read at all, an endless
    one such as ``/dev/zero`` is cut off); errors are one :class:`DataFileError` line."""
    from sfe_live.boundedio import FileTooLarge, read_bytes_bounded
    p = Path(path)
    try:
        data = read_bytes_bounded(p, max_bytes)
    except FileTooLarge as e:
        raise DataFileError(f"{e}: is this the right file?", p) from None
    except OSError as e:
        raise DataFileError(f"cannot read: {e.strerror or e}", p) from None
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
