"""``sfe-live serve``: the headless engine plus one WebRTC endpoint for a performer's laptop.

The server owns an ordinary :class:`~sfe_live.app.App` (model, engine, runner, outputs, control hub)
and adds two things: a :class:`~sfe_live.remote.media.FrameFanout` output that feeds each peer's video
track, and the signalling endpoint (``POST /offer``, ``GET /status``) guarded by a bearer token.

One client controls the engine at a time. A second client (another ``client`` id) is **refused**
with HTTP 409 and a reason naming the address in control; the same client reconnecting (its id is
kept across reconnects) replaces its old session at once. Actions arrive on the ``sfe`` data channel
and go through the app's ``ActionRouter`` (``source="remote"``), so they apply at the engine's next
block exactly as a local MIDI or OSC input would. The engine never waits for the network: when no
one is connected it keeps generating and keeps its state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

from sfe_live.app import App
from sfe_live.engine.replaylog import command_from

from . import protocol as P
from .auth import Decision, TokenGate
from .media import FrameFanout, FrameTrack
from .signalling import Reply, Request, serve_http

log = logging.getLogger(__name__)

STATUS_EVERY_S = 0.25


@dataclass
class Session:
    client: str
    peer: str
    pc: RTCPeerConnection
    track: FrameTrack
    since: float = field(default_factory=time.time)
    channel: Any = None
    closed: bool = False


def ice_configuration(urls: tuple[str, ...] = (), username: Optional[str] = None,
                      credential: Optional[str] = None) -> RTCConfiguration:
    """STUN/TURN servers; none by default (loopback, LAN and SSH tunnels need none, and no
    third-party server is contacted unless asked)."""
    servers = [RTCIceServer(urls=u, username=username, credential=credential) for u in urls]
    return RTCConfiguration(iceServers=servers)


class RemoteServer:
    """Signalling + peers around a loaded, started :class:`App`."""

    def __init__(self, app: App, token: str, ice: Optional[RTCConfiguration] = None) -> None:
        self.app = app
        self.gate = TokenGate(token)
        self.ice = ice or ice_configuration()
        self.fanout = FrameFanout()
        self.session: Optional[Session] = None
        self._applied: dict[str, int] = {}       # client id -> highest action seq applied
        self.actions = 0
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._status_task: Optional[asyncio.Task[None]] = None
        self.video_kbps = 0.0
        self._bytes_at: Optional[tuple[float, int]] = None

    def attach_outputs(self, size: Optional[tuple[int, int]] = None) -> None:
        """Feed the peers from the app's outputs; ``size`` scales the video (the sink runner's scaler)."""
        self.app.outputs.add_sink(self.fanout, name="remote", enabled=True, size=size)

    # -- http ---------------------------------------------------------------------------------
    async def handle(self, req: Request) -> Reply:
        if req.path not in (P.OFFER_PATH, P.STATUS_PATH):
            return 404, {"error": "not found"}
        decision = self.gate.check(req.headers.get("authorization"), req.peer)
        if decision == Decision.TOO_MANY:
            return 429, {"error": "too many failed attempts; wait a minute"}
        if decision != Decision.OK:
            return 401, {"error": "missing or wrong token"}
        if req.path == P.STATUS_PATH:
            if req.method != "GET":
                return 405, {"error": "use GET"}
            return 200, self.status()
        if req.method != "POST":
            return 405, {"error": "use POST"}
        try:
            import json
            body = json.loads(req.body)
            sdp, kind, client = str(body["sdp"]), str(body["type"]), str(body.get("client") or "")
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "expected JSON {sdp, type, client}"}
        if kind != "offer" or len(client) > 64:
            return 400, {"error": "expected an offer and a client id of at most 64 characters"}
        return await self._offer(sdp, client, req.peer)

    async def _offer(self, sdp: str, client: str, peer: str) -> Reply:
        old = self.session
        if old is not None and not old.closed:
            if old.client != client:
                since = time.strftime("%H:%M:%S", time.localtime(old.since))
                log.warning("remote: refused a second client from %s: %s is in control", peer, old.peer)
                return 409, {"error": f"another client is in control (from {old.peer} since {since}); "
                                      "it must disconnect first"}
            log.info("remote: client %s reconnected from %s: replacing its old session", client[:8], peer)
            await self._close(old)
        pc = RTCPeerConnection(self.ice)
        track = FrameTrack(asyncio.get_running_loop(), self.app.outputs.fps)
        s = Session(client=client, peer=peer, pc=pc, track=track)
        self.session = s
        pc.addTrack(track)

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            if channel.label != P.CHANNEL:
                return
            s.channel = channel
            channel.on("message", lambda raw: self._on_message(s, raw))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("remote: %s link %s", peer, pc.connectionState)
            if pc.connectionState in ("failed", "closed"):
                await self._close(s)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            await self._close(s)
            return 400, {"error": f"bad offer ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"}
        self.fanout.attach(track)
        log.info("remote: client %s connected from %s", client[:8], peer)
        return 200, {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    async def _close(self, s: Session) -> None:
        if s.closed:
            return
        s.closed = True
        self.fanout.detach(s.track)
        if self.session is s:
            self.session = None
        try:
            await s.pc.close()
        except Exception:
            log.exception("closing a peer")

    # -- data channel ---------------------------------------------------------------------------
    def _send(self, s: Session, msg: P.Message) -> None:
        ch = s.channel
        if ch is not None and ch.readyState == "open":
            try:
                ch.send(P.encode(msg))
            except Exception:
                log.debug("remote: send failed", exc_info=True)

    def _on_message(self, s: Session, raw: Any) -> None:
        try:
            msg = P.decode(raw)
        except ValueError as exc:
            log.warning("remote: bad message from %s: %s", s.peer, exc)
            return
        if isinstance(msg, P.Ping):
            self._send(s, P.Pong(msg.n, msg.t))
        elif isinstance(msg, (P.Action, P.CommandMsg)):
            self._send(s, self.apply(s.client, msg))

    def apply(self, client: str, msg: Any) -> P.Ack:
        """Route one action/command (duplicates of an applied ``seq`` are acknowledged, not re-run)."""
        block = int(self.app.engine_status().block) if self.app.runner is not None else -1
        if msg.seq <= self._applied.get(client, 0):
            return P.Ack(msg.seq, True, block, "duplicate (already applied)")
        self._applied[client] = msg.seq
        try:
            if isinstance(msg, P.Action):
                if msg.id in P.LOCAL_ACTIONS:
                    return P.Ack(msg.seq, False, block, f"{msg.id} acts on the client's own outputs")
                ok = self.app.trigger(msg.id, msg.value, source="remote")
                err = "" if ok else f"{msg.id}: value refused or nothing handles it"
            else:
                self.app.submit(command_from(msg.name, dict(msg.args)))
                ok, err = True, ""
        except (KeyError, ValueError, TypeError) as exc:
            ok, err = False, str(exc).strip("'\"")
        self.actions += 1
        log.info("remote: %s %s -> %s at block %d", getattr(msg, "id", getattr(msg, "name", "?")),
                 getattr(msg, "value", getattr(msg, "args", "")), "ok" if ok else err, block)
        return P.Ack(msg.seq, ok, block, err)

    # -- status -----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        st = self.app.status()
        engine = self.app.engine
        log_tail = [dataclasses.asdict(e) for e in list(engine.log[-50:])] if engine is not None else []
        s = self.session
        return {"engine": st.get("engine", {}), "model": st.get("model", {}), "frames_sent": self.fanout.sent, "log": log_tail,
                "controls": {"cues": (st.get("controls") or {}).get("cues", {})},
                "client": None if s is None else {"peer": s.peer, "since": s.since, "frames": s.track.count,
                                                  "dropped": s.track.dropped},
                "refused": self.gate.refused, "actions": self.actions, "video_kbps": round(self.video_kbps, 1),
                "time": time.time()}

    async def _kbps(self, s: Session) -> float:
        """Video bitrate from the sender's RTP byte count since the previous call."""
        try:
            report = await s.pc.getSenders()[0].getStats()
        except Exception:
            return self.video_kbps
        sent = sum(int(getattr(r, "bytesSent", 0) or 0) for r in report.values() if r.type == "outbound-rtp")
        now = time.monotonic()
        if self._bytes_at is not None and now > self._bytes_at[0] and sent >= self._bytes_at[1]:
            self.video_kbps = 8 * (sent - self._bytes_at[1]) / (now - self._bytes_at[0]) / 1000
        self._bytes_at = (now, sent)
        return self.video_kbps

    async def _status_loop(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            s = self.session
            if s is None or s.channel is None:
                self._bytes_at = None
                continue
            n += 1
            kbps = await self._kbps(s) if n % 4 == 0 else self.video_kbps
            st = self.status()
            self._send(s, P.Status(engine=st["engine"], frames_sent=st["frames_sent"], log=st["log"][-10:],
                                   controls=st["controls"], time=st["time"], video_kbps=round(kbps, 1),
                                   model=st["model"]))

    # -- running ----------------------------------------------------------------------------------
    async def run(self, host: str, port: int, tls: Any = None, stop: Optional[asyncio.Event] = None,
                  on_ready: Any = None) -> None:
        self.loop = asyncio.get_running_loop()
        server = await serve_http(self.handle, host, port, tls)
        self._status_task = asyncio.create_task(self._status_loop())
        if on_ready is not None:
            on_ready(server.sockets[0].getsockname()[1] if server.sockets else port)
        try:
            await (stop or asyncio.Event()).wait()
        finally:
            server.close()
            self._status_task.cancel()
            if self.session is not None:
                await self._close(self.session)
