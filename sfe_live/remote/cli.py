"""The remote parts of the command line: ``sfe-live serve`` and ``--remote URL`` for ``run``/``gui``.

``sfe_live.cli`` calls :func:`add_serve_parser` and :func:`add_remote_arguments` while building its
parser, :func:`apply_remote` when it builds ``AppSettings`` and :func:`run_headless` for
``sfe-live run --headless --remote URL``. Mistakes print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

from sfe_live.config import RemoteConfig

if TYPE_CHECKING:
    from sfe_live.app import AppSettings

from .auth import ENV_TOKEN, default_token_path, load_or_create_token
from . import NO_EXTRA

log = logging.getLogger("sfe_live")

DEFAULT_PORT = 8765


def _fail(message: str) -> int:
    print(f"sfe-live: error: {message}", file=sys.stderr)
    return 2


def add_remote_arguments(p: argparse.ArgumentParser) -> None:
    """``--remote URL`` and its options (``run`` and ``gui``)."""
    g = p.add_argument_group("remote engine (the model runs on a 'sfe-live serve' elsewhere)")
    g.add_argument("--remote", metavar="URL", help="e.g. http://127.0.0.1:8765 (an SSH tunnel) or https://gpu-box:8765")
    g.add_argument("--token", help=f"the server's token (default: ${ENV_TOKEN})")
    g.add_argument("--command-ttl", type=float, default=3.0, metavar="S",
                   help="discrete actions issued while the link is down wait this long, then are dropped "
                        "and reported (default 3)")
    g.add_argument("--tls-ca", metavar="FILE", help="trust this certificate (a self-signed server's)")
    _ice_arguments(g)


def _ice_arguments(g: Any) -> None:
    g.add_argument("--ice-server", action="append", default=[], metavar="URL",
                   help="STUN/TURN server, e.g. stun:stun.example.org:3478 or turn:turn.example.org:3478 "
                        "(repeatable; none by default)")
    g.add_argument("--ice-username", help="TURN username")
    g.add_argument("--ice-credential", help="TURN password")


def apply_remote(args: argparse.Namespace, settings: AppSettings) -> AppSettings:
    """``settings`` with ``remote`` set from ``--remote`` (unchanged without it)."""
    url = getattr(args, "remote", None)
    if not url:
        return settings
    try:
        cfg = RemoteConfig(url=url, token=args.token or os.environ.get(ENV_TOKEN) or None, ttl_s=args.command_ttl,
                           ca_file=args.tls_ca, ice_servers=tuple(args.ice_server),
                           ice_username=args.ice_username, ice_credential=args.ice_credential)
    except ValueError as exc:
        print(f"sfe-live: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return dataclasses.replace(settings, remote=cfg)




def run_headless(settings: AppSettings, duration: float | None) -> int:
    """``sfe-live run --headless --remote URL``: the bridge (local inputs → remote, frames → local outputs)."""
    try:
        from .client import RemoteApp
    except ImportError:
        return _fail(NO_EXTRA)
    app = RemoteApp(settings)
    try:
        app.load(lambda f, m: log.info("%3.0f%% %s", 100 * f, m))
    except (ConnectionError, OSError) as exc:
        return _fail(str(exc))
    from sfe_live.app import run_until_stopped
    app.start()
    log.info("bridging to %s; Ctrl-C stops", settings.remote.url if settings.remote else "?")

    def link_stopped() -> Optional[str]:
        if app.link is not None and app.link.done.is_set():
            return app.link.error or "the remote link stopped"
        return None

    def status_line(st: dict[str, Any]) -> str:
        r, e = st.get("remote", {}), st.get("engine", {})
        return (f"remote {r.get('state')}  block {e.get('block')}  rtt {r.get('rtt_ms', 0):.1f} ms  "
                f"jitter {r.get('jitter_ms', 0):.1f} ms  frames {r.get('frames', 0)} (dropped {r.get('dropped', 0)})  "
                f"{r.get('kbps', 0):.0f} kbps  prompt={str(e.get('prompt', ''))[:60]!r}")

    reason = run_until_stopped(app, duration, status_line, link_stopped)
    if reason is not None:
        return _fail(reason)
    log.info("stopped cleanly")
    return 0


# -- serve ------------------------------------------------------------------------------------------
def add_serve_parser(sub: Any, model_args: Callable[[argparse.ArgumentParser], None],
                     settings: Callable[[argparse.Namespace], AppSettings]) -> argparse.ArgumentParser:
    """``sfe-live serve``: ``model_args`` adds the shared model options, ``settings`` builds AppSettings."""
    s = sub.add_parser("serve", help="run the engine headless for a remote performer (WebRTC)")
    model_args(s)
    s.add_argument("--prompt", help="the first prompt (default: the model's own)")
    s.add_argument("--cues", help="a cue list the remote 'cue.go' fires")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"signalling port (default {DEFAULT_PORT}; 0 = any)")
    s.add_argument("--token", help="use this token instead of the stored one")
    s.add_argument("--tls-cert", metavar="FILE", help="HTTPS for the signalling endpoint (with --tls-key)")
    s.add_argument("--tls-key", metavar="FILE")
    s.add_argument("--osc-port", type=int, help="also listen for OSC on the server (off by default)")
    s.add_argument("--log", help="write the command log (JSON lines) here on exit")
    s.add_argument("--video-size", metavar="WxH", help="scale the video sent to the client (default: the engine's size)")
    _ice_arguments(s)
    s.set_defaults(func=lambda args: cmd_serve(args, settings(args)))
    return s


def cmd_serve(args: argparse.Namespace, settings: AppSettings) -> int:
    from sfe_live.app import App
    try:
        from .server import RemoteServer, ice_configuration
    except ImportError:
        return _fail(NO_EXTRA)
    from .signalling import server_tls
    if not 0 <= args.port <= 65535:
        return _fail(f"--port {args.port}: expected 0..65535")
    try:
        tls = server_tls(args.tls_cert, args.tls_key)
    except ValueError as exc:
        return _fail(str(exc))
    if args.token is not None and len(args.token) < 8:
        return _fail("--token: use at least 8 characters")
    if args.token:
        token = args.token
    else:
        path = default_token_path()
        token, created = load_or_create_token(path)
        if created:
            print(f"sfe-live serve: new token (saved owner-only to {path}; shown once): {token}", flush=True)
        else:
            log.info("using the token in %s", path)
    if args.host not in ("127.0.0.1", "localhost", "::1") and tls is None:
        log.warning("listening on %s without TLS: the token crosses the network in clear text; add "
                    "--tls-cert/--tls-key or bind 127.0.0.1 and use an SSH tunnel (docs/remote.md)", args.host)
    video_size = None
    if args.video_size:
        try:
            w, h = (int(v) for v in args.video_size.lower().split("x"))
            if not (16 <= w <= 7680 and 16 <= h <= 4320):
                raise ValueError
        except ValueError:
            return _fail(f"--video-size {args.video_size}: expected WIDTHxHEIGHT between 16x16 and 7680x4320")
        video_size = (w - w % 2, h - h % 2)
    settings = dataclasses.replace(settings, osc=args.osc_port is not None, remote=None)
    app = App(settings).load(lambda f, m: log.info("%3.0f%% %s", 100 * f, m))
    server = RemoteServer(app, token, ice_configuration(tuple(args.ice_server), args.ice_username,
                                                        args.ice_credential))
    server.attach_outputs(video_size)
    app.start()
    scheme = "https" if tls else "http"

    def ready(port: int) -> None:
        s = app.engine.stream if app.engine is not None else None
        size = f"{s.width}x{s.height}" if s else "?"
        print(f"sfe-live serve: listening on {scheme}://{args.host}:{port} ({app.bundle.name}, {size})", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):   # Windows
                signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
        await server.run(args.host, args.port, tls, stop, ready)

    try:
        asyncio.run(main())
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); pick another --port")
    finally:
        app.stop()
        if args.log and app.engine is not None:
            app.engine.write_log(args.log)
    log.info("stopped cleanly")
    return 0
