"""The laptop's end of the wire: one WebRTC session to ``sfe-live serve``, kept alive by itself.

``RemoteLink`` runs its own asyncio loop on a thread. It connects (offer → ``POST /offer`` → answer),
receives the video track (each decoded frame goes to ``on_frame(rgb)``) and the ``sfe`` data channel
(status, acks, pongs), and sends named actions. When the link is lost (no message for
``LINK_TIMEOUT_S``, or the peer connection fails) it says ``reconnecting`` and retries with back-off
(0.25 s doubling to 2 s) until stopped. A wrong token (401) stops it with a clear error instead.

Commands issued while the link is down follow one explicit policy:

* **discrete** actions (triggers, toggles, prompts, cues, purges) are queued for at most ``ttl_s``
  (default 3 s). Sent in order on reconnect if still fresh; otherwise **dropped and reported**
  (``expired`` count and a message naming the action). Nothing fires surprisingly late.
* **continuous** actions (knobs) keep only their latest value and are sent on reconnect (a knob's
  position is state, not an event).
* actions in flight when the link dropped are resent on reconnect (if within ``ttl_s``); the server
  ignores a ``seq`` it already applied, so nothing fires twice.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from sfe_live.engine import commands as C

from . import protocol as P
from .media import CLOCK
from .signalling import client_tls, request_json

log = logging.getLogger(__name__)

LINK_TIMEOUT_S = 2.0
PING_EVERY_S = 1.0
BACKOFF = (0.25, 2.0)   # first retry, longest wait between retries (a failed attempt is cheap)


class LinkRefused(Exception):
    """The server said no (wrong token, another client in control); ``status`` is the HTTP code."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class LinkStats:
    state: str                # connecting | connected | reconnecting | refused | stopped
    url: str
    rtt_ms: float
    jitter_ms: float
    frames: int               # frames received and decoded (all sessions)
    dropped: int              # frames the server sent that never arrived (pts gaps)
    reconnects: int
    queued: int               # discrete actions waiting for the link
    expired: int              # discrete actions dropped after waiting ttl_s
    sent: int
    acked: int
    refused_actions: int
    kbps: float               # video bitrate (the sender's bytes over the last second)
    error: str
    last_reconnect_s: float   # link lost -> first frame again, last time


class RemoteLink:
    def __init__(self, url: str, token: Optional[str], on_frame: Callable[[np.ndarray], None],
                 on_message: Callable[[str], None] = lambda m: None, ttl_s: float = 3.0,
                 ice: Optional[RTCConfiguration] = None, ca_file: Optional[str] = None) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"--remote {url}: expected a URL like http://127.0.0.1:8765")
        self.url, self.token, self.ttl_s = url.rstrip("/"), token, ttl_s
        self.tls = client_tls(url, ca_file)
        self.ice = ice or RTCConfiguration(iceServers=[])
        self.on_frame, self.on_message = on_frame, on_message
        self.client_id = uuid.uuid4().hex
        self.remote: dict[str, Any] = {}            # the last status message from the server
        self.connected = threading.Event()
        self.ever_connected = False
        self.done = threading.Event()
        self.error = ""
        self.refused_status = 0
        self._state = "connecting"
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._stop: Optional[asyncio.Event] = None
        self._channel: Any = None
        self._seq = 0
        self._inflight: dict[int, tuple[float, P.Message]] = {}
        self._pending: collections.deque[tuple[float, P.Message]] = collections.deque()
        self._continuous: dict[str, P.Message] = {}
        self._frames = self._dropped = self._reconnects = self._expired = 0
        self._sent = self._acked = self._refused = 0
        self._rtt = self._jitter = 0.0
        self._lost_at: Optional[float] = None
        self._last_reconnect_s = 0.0
        self._last_msg = 0.0

    # -- lifecycle (any thread) --------------------------------------------------------------
    def start(self) -> "RemoteLink":
        self._thread = threading.Thread(target=self._thread_main, name="sfe-remote", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_connected(self, timeout: float) -> bool:
        """True once the first session is up; False on timeout or when refused (see ``error``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.connected.wait(0.05):
                return True
            if self.done.is_set():
                return False
        return False

    # -- sending (any thread) ------------------------------------------------------------------
    def send_action(self, action_id: str, value: Any = None) -> None:
        self._call(lambda seq: P.Action(seq, action_id, value, time.time()), P.is_discrete_action(action_id),
                   action_id)

    def send_command(self, cmd: C.Command) -> None:
        self._call(lambda seq: P.command_message(seq, cmd, time.time()), not cmd.coalesce, "cmd:" + cmd.name)

    def _call(self, make: Callable[[int], P.Message], discrete: bool, key: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self.on_message(f"remote: {key} not sent: the link is not running")
            return
        loop.call_soon_threadsafe(self._enqueue, make, discrete, key)

    def _enqueue(self, make: Callable[[int], P.Message], discrete: bool, key: str) -> None:
        self._seq += 1
        msg = make(self._seq)
        if self._channel is not None and self._channel.readyState == "open":
            self._transmit(msg)
        elif discrete:
            self._pending.append((time.monotonic() + self.ttl_s, msg))
            self.on_message(f"remote: link down: {_describe(msg)} queued for up to {self.ttl_s:g} s")
        else:
            self._continuous[key] = msg

    def _transmit(self, msg: P.Message) -> None:
        self._inflight[getattr(msg, "seq")] = (time.monotonic() + self.ttl_s, msg)
        self._channel.send(P.encode(msg))
        self._sent += 1

    def _expire(self) -> None:
        now = time.monotonic()
        keep: collections.deque[tuple[float, P.Message]] = collections.deque()
        for exp, msg in self._pending:
            if exp < now:
                self._expired += 1
                self.on_message(f"remote: {_describe(msg)} dropped: the link was down for over {self.ttl_s:g} s")
            else:
                keep.append((exp, msg))
        self._pending = keep

    def _flush(self) -> None:
        """On (re)connect: resend in-flight (fresh) actions, then the queue, then the latest knobs."""
        self._expire()
        now = time.monotonic()
        again = sorted(self._inflight.items())
        self._inflight.clear()
        for seq, (exp, msg) in again:
            if exp >= now:
                self._transmit(msg)
            else:
                self._expired += 1
                self.on_message(f"remote: {_describe(msg)} may not have arrived before the link dropped "
                                "(not resent: too old)")
        while self._pending:
            self._transmit(self._pending.popleft()[1])
        for msg in self._continuous.values():
            self._transmit(msg)
        self._continuous.clear()

    # -- reading ---------------------------------------------------------------------------------
    def stats(self) -> LinkStats:
        kbps = float(self.remote.get("video_kbps") or 0.0)    # measured by the sender
        return LinkStats(self._state, self.url, round(self._rtt * 1000, 2), round(self._jitter * 1000, 2),
                         self._frames, self._dropped, self._reconnects, len(self._pending), self._expired,
                         self._sent, self._acked, self._refused, round(kbps, 1), self.error,
                         round(self._last_reconnect_s, 3))

    # -- the loop --------------------------------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # the link must never take the app down
            log.exception("remote link crashed")
            self.error = str(exc)
        finally:
            self._state = "stopped" if self._state != "refused" else "refused"
            self.done.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        delay = BACKOFF[0]
        while not self._stop.is_set():
            try:
                await self._session()
                delay = BACKOFF[0]
            except LinkRefused as exc:
                self.error = str(exc)
                self.refused_status = exc.status
                if exc.status in (401, 403) or (exc.status == 409 and not self.ever_connected):
                    self._state = "refused"
                    self.on_message(f"remote: {exc}")
                    return
                self.on_message(f"remote: {exc}; retrying")
            except (OSError, asyncio.TimeoutError, ConnectionError) as exc:
                self.error = f"cannot reach {self.url} ({exc.__class__.__name__}: {exc})"
                log.debug("remote: %s", self.error)
            if self._stop.is_set():
                break
            if self.ever_connected and self._state != "reconnecting":
                self._state = "reconnecting"
                self.on_message(f"remote: reconnecting to {self.url}")
            if self._lost_at is None:
                self._lost_at = time.monotonic()
            end = time.monotonic() + delay
            while time.monotonic() < end and not self._stop.is_set():
                self._expire()
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=0.1)
                except asyncio.TimeoutError:
                    pass
            delay = min(delay * 2, BACKOFF[1])

    async def _session(self) -> None:
        pc = RTCPeerConnection(self.ice)
        try:
            await self._run_session(pc)
        finally:
            self._channel = None
            self.connected.clear()
            await pc.close()

    async def _run_session(self, pc: RTCPeerConnection) -> None:
        pc.addTransceiver("video", direction="recvonly")
        channel = pc.createDataChannel(P.CHANNEL, ordered=True)
        opened = asyncio.Event()
        failed = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", self._on_message)
        channel.on("close", failed.set)
        readers: list[asyncio.Task[None]] = []

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                readers.append(asyncio.ensure_future(self._read_frames(track)))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                failed.set()

        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type, "client": self.client_id}
        loop = asyncio.get_running_loop()
        status, obj = await loop.run_in_executor(None, lambda: request_json(
            self.url, P.OFFER_PATH, self.token, offer, tls=self.tls))
        if status != 200:
            reason = str(obj.get("error") or f"HTTP {status}")
            if status == 401 and not self.token:
                reason += " (pass --token or set SFE_LIVE_TOKEN)"
            raise LinkRefused(status, f"{self.url} refused the connection: {reason}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=obj["sdp"], type=obj["type"]))
        await asyncio.wait_for(opened.wait(), timeout=10)
        self._channel = channel
        self._last_msg = time.monotonic()
        was = self._state
        self._state = "connected"
        self.error = ""
        self.connected.set()
        self.ever_connected = True
        self.on_message(f"remote: connected to {self.url}" if was == "connecting" else
                        f"remote: reconnected to {self.url}")
        if was == "reconnecting":
            self._reconnects += 1
        self._flush()
        n, next_ping = 0, 0.0
        try:
            while not self._stop.is_set() and not failed.is_set():
                now = time.monotonic()
                if now - self._last_msg > LINK_TIMEOUT_S:
                    log.info("remote: nothing heard for %.1f s: link lost", LINK_TIMEOUT_S)
                    break
                if now >= next_ping and channel.readyState == "open":
                    n, next_ping = n + 1, now + PING_EVERY_S
                    channel.send(P.encode(P.Ping(n, now)))
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=0.1)
                except asyncio.TimeoutError:
                    pass
        finally:
            for t in readers:
                t.cancel()
        if not self._stop.is_set():
            self._lost_at = time.monotonic()
            self._state = "reconnecting"
            self.on_message(f"remote: link to {self.url} lost; reconnecting")

    async def _read_frames(self, track: Any) -> None:
        first_pts: Optional[int] = None
        prev: Optional[tuple[float, int]] = None
        step = 0
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                pts = int(frame.pts or 0)
                if prev is not None:
                    d = (now - prev[0]) - (pts - prev[1]) / CLOCK
                    self._jitter += (abs(d) - self._jitter) / 16.0
                    gap = pts - prev[1]
                    if step == 0 and gap > 0:
                        step = gap
                    if step and gap > step:
                        self._dropped += gap // step - 1
                if first_pts is None:
                    first_pts = pts
                prev = (now, pts)
                self._frames += 1
                self._last_msg = now
                if self._lost_at is not None:
                    self._last_reconnect_s = now - self._lost_at
                    self._lost_at = None
                rgb = frame.to_ndarray(format="rgb24")
                try:
                    self.on_frame(rgb)
                except Exception:
                    log.exception("remote: frame consumer failed")
        except asyncio.CancelledError:
            raise
        except Exception as exc:   # MediaStreamError when the track ends
            log.debug("remote: video track ended (%s)", exc)

    def _on_message(self, raw: Any) -> None:
        self._last_msg = time.monotonic()
        try:
            msg = P.decode(raw)
        except ValueError as exc:
            log.warning("remote: bad message from the server: %s", exc)
            return
        if isinstance(msg, P.Status):
            self.remote = {"engine": msg.engine, "frames_sent": msg.frames_sent, "log": msg.log,
                           "controls": msg.controls, "time": msg.time, "video_kbps": msg.video_kbps, "model": msg.model}
        elif isinstance(msg, P.Pong):
            rtt = time.monotonic() - msg.t
            self._rtt = rtt if self._rtt == 0 else 0.8 * self._rtt + 0.2 * rtt
        elif isinstance(msg, P.Ack):
            self._inflight.pop(msg.seq, None)
            self._acked += 1
            if not msg.ok:
                self._refused += 1
                self.on_message(f"remote: refused by the server: {msg.error}")


def _describe(msg: P.Message) -> str:
    if isinstance(msg, P.Action):
        return f"{msg.id} {msg.value!r}" if msg.value is not None else msg.id
    if isinstance(msg, P.CommandMsg):
        return msg.name
    return msg.kind
