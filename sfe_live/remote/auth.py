"""The server's bearer token: generated once, stored owner-only, compared in constant time.

``load_or_create_token(path)`` returns ``(token, created)``; the file is created with mode 0600
(``O_CREAT | O_EXCL``, so no moment exists when another user could read it). ``TokenGate`` checks an
``Authorization: Bearer ...`` header with :func:`hmac.compare_digest` and rate-limits failures per
client address: after ``max_failures`` within ``window_s`` the address is refused (HTTP 429) until the
window has passed, and every failure is logged with the address.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Deque, Optional

log = logging.getLogger(__name__)

TOKEN_FILE = "remote-token"
ENV_TOKEN = "SFE_LIVE_TOKEN"


def default_token_path() -> Path:
    from sfe_live.show.presets import config_dir
    return config_dir() / TOKEN_FILE


def load_or_create_token(path: Optional[Path] = None) -> tuple[str, bool]:
    """The stored token, or a new random one written owner-only; ``created`` says which."""
    path = path or default_token_path()
    try:
        text = path.read_text(encoding="utf-8").strip()
        if text:
            if os.name == "posix" and path.stat().st_mode & 0o077:
                log.warning("%s is readable by other users: run 'chmod 600 %s'", path, path)
            return text, False
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    tmp.replace(path)
    return token, True


class Decision:
    OK = 200
    UNAUTHORIZED = 401
    TOO_MANY = 429


class TokenGate:
    """Constant-time bearer-token check with a per-address failure limit."""

    def __init__(self, token: str, max_failures: int = 5, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not token:
            raise ValueError("an empty token would let anyone in")
        self._token = token.encode("utf-8")
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, Deque[float]] = {}
        self.refused = 0

    def _recent(self, address: str, now: float) -> Deque[float]:
        q = self._failures.setdefault(address, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def check(self, authorization: Optional[str], address: str) -> int:
        """200, 401 (missing or wrong token) or 429 (too many recent failures from ``address``)."""
        now = self._clock()
        with self._lock:
            if len(self._recent(address, now)) >= self.max_failures:
                self.refused += 1
                return Decision.TOO_MANY
        given = b""
        if authorization and authorization[:7].lower() == "bearer ":
            given = authorization[7:].strip().encode("utf-8")
        if given and hmac.compare_digest(given, self._token):
            return Decision.OK
        with self._lock:
            self._recent(address, now).append(now)
            self.refused += 1
            n = len(self._failures[address])
        log.warning("remote: refused %s: %s token (%d failure(s) in %.0f s)", address,
                    "wrong" if given else "missing", n, self.window_s)
        return Decision.UNAUTHORIZED
