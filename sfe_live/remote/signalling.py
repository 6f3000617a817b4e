"""The one HTTP endpoint that sets up a WebRTC session (stdlib only, asyncio server + urllib client).

``POST /offer`` with ``Authorization: Bearer TOKEN`` and a JSON body ``{"sdp", "type", "client"}``
answers ``{"sdp", "type"}``; ``GET /status`` answers the engine's status (same token). Requests are
small (bodies over 256 KiB are refused before reading), replies are short and never echo input.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: str


Reply = tuple[int, dict[str, Any]]
Handler = Callable[[Request], Awaitable[Reply]]


async def _read_request(reader: asyncio.StreamReader, peer: str) -> Optional[Request]:
    line = await reader.readline()
    if not line:
        return None
    try:
        method, target, _ = line.decode("latin-1").split(" ", 2)
    except ValueError:
        raise _HTTPError(400) from None
    headers: dict[str, str] = {}
    for _ in range(100):
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    else:
        raise _HTTPError(400)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _HTTPError(400) from None
    if length < 0 or length > MAX_BODY:
        raise _HTTPError(413)
    body = await reader.readexactly(length) if length else b""
    return Request(method.upper(), target.split("?", 1)[0], headers, body, peer)


class _HTTPError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _response(status: int, obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj).encode("utf-8")
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n")
    return head.encode("latin-1") + body


async def serve_http(handler: Handler, host: str, port: int,
                     tls: Optional[ssl.SSLContext] = None) -> asyncio.AbstractServer:
    """Start the endpoint; one request per connection (``Connection: close``)."""

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_info = writer.get_extra_info("peername") or ("?", 0)
        peer = str(peer_info[0])
        try:
            try:
                req = await asyncio.wait_for(_read_request(reader, peer), timeout=10)
                if req is None:
                    return
                status, obj = await handler(req)
            except _HTTPError as exc:
                status, obj = exc.status, {"error": REASONS.get(exc.status, "error").lower()}
            except (asyncio.TimeoutError, asyncio.IncompleteReadError):
                return
            except Exception:
                log.exception("remote: request failed")
                status, obj = 500, {"error": "internal error"}
            writer.write(_response(status, obj))
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    return await asyncio.start_server(on_conn, host, port, ssl=tls)


def server_tls(cert: Optional[str], key: Optional[str]) -> Optional[ssl.SSLContext]:
    """An SSL context for ``--tls-cert/--tls-key`` (both or neither); errors name the file."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise ValueError("--tls-cert and --tls-key go together: give both files")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"--tls-cert {cert} / --tls-key {key}: cannot load ({exc})") from None
    return ctx


def client_tls(url: str, ca_file: Optional[str]) -> Optional[ssl.SSLContext]:
    if not url.lower().startswith("https://"):
        return None
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(ca_file)
    return ctx


def request_json(url: str, path: str, token: Optional[str], body: Optional[dict[str, Any]] = None,
                 timeout: float = 10.0, tls: Optional[ssl.SSLContext] = None) -> Reply:
    """(status, JSON object) of one request; a network failure raises ``OSError``."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=tls) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            obj = json.loads(exc.read() or b"{}")
        except ValueError:
            obj = {}
        return exc.code, obj if isinstance(obj, dict) else {}
