"""OSC over UDP (python-osc): the ``/sfe/...`` address tree, replies, state push, learn.

:class:`OscServer` runs one ``BlockingOSCUDPServer``'s socket on its own thread (messages are
handled in arrival order), bound to 127.0.0.1 unless a host is given, with a 4 MiB receive buffer
so bursts are not dropped by the kernel; the thread takes every datagram waiting before it handles
any and, when it is behind, coalesces continuous values within the batch, so a flood of fader
moves cannot outrun it. Every packet goes through :meth:`OscServer.handle_packet`, which never
raises: malformed packets, unknown addresses and bad arguments are counted and
logged (rate-limited) and the server keeps serving. Handlers return None (python-osc ≥ 1.9
would send a return value back to the sender).

Addresses: one per action, generated from the registry (``/sfe/prompt s``, ``/sfe/purge [i]``,
``/sfe/cue/go i`` ...; see ``docs/osc.md``), aliases for rigs built for Daydream Scope
(``/scope/prompt``, ``/scope/reset_cache``), user bindings for any other address
(``[[osc]]`` tables or OSC learn), and ``/sfe/get/<name>`` which replies ``/sfe/<name> <value>``
to the sender's own address and port (or to ``reply_port`` on the sender's host; never to a port
named in the request). With ``push_to`` set, state changes are sent to that host:port as
``/sfe/<name> <value>``.

Queries never delay commands and never reply louder than asked: the commands of a packet are
handled first, its queries (at most :data:`MAX_GETS_PER_PACKET`, answered with at most
:data:`MAX_REPLIES_PER_PACKET` messages) go to a bounded queue that a separate thread answers
at most :data:`REPLIES_PER_S` messages and :data:`REPLY_BYTES_PER_S` bytes a second (it waits for
its budget; commands never do), each reply at most :data:`MAX_REPLY_TEXT` characters of text.
When more than :data:`QUERY_QUEUE` packets of queries wait, the oldest are dropped and counted.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections import OrderedDict, deque
from typing import Any, Iterable, Optional, Sequence

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError
from pythonosc.osc_server import BlockingOSCUDPServer

from sfe_live.ratelog import RateLimitedLog

from .actions import CONTINUOUS, OSC_ROOT, TOGGLE, ActionRegistry, ActionSpec, ActionValueError, to_bool
from .bindings import Binding
from .driver import BindingDriver, Learner
from .router import ActionRouter

log = logging.getLogger(__name__)

DEFAULT_OSC_PORT = 9310
"""Outside 7000/7001 (Resolume), 8000 (Scope, MadMapper, TouchOSC), 9000/9001 (LiveOSC),
11000/11001 (AbletonOSC), 6454 (Art-Net), 1111 (MiniMad) and the ephemeral port ranges."""
DEFAULT_HOST = "127.0.0.1"
RCVBUF_BYTES = 4 * 1024 * 1024
DRAIN_MAX = 4096                 # datagrams taken from the kernel before a batch is handled
COALESCE_FROM = 64               # a batch this long means the server is behind: continuous values coalesce
GET_PREFIX = f"{OSC_ROOT}/get"
ALIASES: dict[str, tuple[str, Any]] = {
    "/scope/prompt": ("prompt.set", None),
    "/scope/reset_cache": ("purge", 3),
    "/scope/noise_scale": ("noise.set", None),
}
"""Daydream Scope addresses → (action, fixed value); a fixed value fires only on a true arg."""
GET_NAMES = ("prompt", "cue", "cue_name", "cue_count", "strength", "reactivity", "memory", "fps", "block",
             "paused", "seed", "transition", "blend_blocks", "bpm", "beat")
PUSH_NAMES = ("prompt", "cue", "cue_name", "strength", "memory", "paused", "seed", "transition",
              "blend_blocks", "bpm", "block", "fps")
PUSH_HZ = 10.0
MAX_GETS_PER_PACKET = 16
MAX_REPLIES_PER_PACKET = 32
MAX_REPLY_TEXT = 1000            # characters of a text value in a reply (a prompt can be 60 KB)
REPLY_BYTES_PER_S = 64 * 1024    # all replies together, any sender
REPLY_BURST_BYTES = 16 * 1024
REPLIES_PER_S = 200              # reply messages, all senders together
REPLY_BURST = 64
QUERY_QUEUE = 16                 # packets of queries waiting for the reply thread


class _PythonOscNoise(logging.Filter):
    """python-osc logs every odd packet on the root logger; keep the first few, then 1 in 1,000."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "pythonosc" not in record.pathname:
            return True
        self.count += 1
        return self.count <= 10 or self.count % 1000 == 0


_NOISE = _PythonOscNoise()


def _quiet_python_osc() -> None:
    root = logging.getLogger()
    if _NOISE not in root.filters:
        root.addFilter(_NOISE)


class _Dispatcher(Dispatcher):
    def __init__(self, owner: "OscServer") -> None:
        super().__init__(strict_timing=False)
        self._owner = owner

    def call_handlers_for_packet(self, data: bytes, client_address: Any) -> list:
        self._owner.handle_packet(data, client_address)
        return []  # nothing is ever sent back implicitly


class _Server(BlockingOSCUDPServer):
    max_packet_size = 65535

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher, owner: "OscServer") -> None:
        self._owner = owner
        super().__init__(address, dispatcher)

    def server_bind(self) -> None:
        self._owner.rcvbuf = _raise_rcvbuf(self.socket, RCVBUF_BYTES)
        super().server_bind()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        ok = super().verify_request(request, client_address)
        if not ok:
            self._owner.stats["rejected"] += 1
            self._owner.note_malformed(client_address, "not an OSC message or bundle")
        return ok

    def handle_error(self, request: Any, client_address: Any) -> None:
        self._owner.stats["errors"] += 1
        log.exception("OSC packet from %s failed", client_address)


def _raise_rcvbuf(sock: socket.socket, size: int) -> int:
    """Ask for ``size`` bytes of receive buffer (SO_RCVBUFFORCE past rmem_max where allowed)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    except OSError as e:
        log.warning("SO_RCVBUF %d refused: %s", size, e)
    got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    if got < size and force is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
            got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        except OSError:
            pass
    if got < size:
        log.warning("OSC receive buffer is %d bytes (asked %d): bursts may drop packets; raise "
                    "net.core.rmem_max", got, size)
    return got


def osc_value(v: Any) -> Any:
    """A state value as an OSC argument (None → "")."""
    if v is None:
        return ""
    if isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def build_message(address: str, *args: Any) -> bytes:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(osc_value(a))
    return b.build().dgram


def address_rows(registry: ActionRegistry) -> list[dict[str, str]]:
    """Every OSC address with its action, argument and description (for docs and the UI)."""
    rows = []
    for spec in registry:
        if spec.osc is None:
            continue
        rows.append({"address": spec.osc, "action": spec.id, "args": osc_arg_signature(spec),
                     "range": spec.arg_doc(), "kind": spec.kind, "description": spec.description})
    return rows


def osc_arg_signature(spec: ActionSpec) -> str:
    tag = {"none": "", "int": "i", "float": "f", "bool": "T|F", "str": "s", "enum": "s|i"}[spec.arg]
    if spec.arg in ("int", "float"):
        tag = "i|f" if spec.arg == "int" else "f|i"
    if not tag:
        return ""
    return f"[{tag}]" if (spec.optional or spec.kind == TOGGLE) else tag


class OscServer:
    """The OSC input: a UDP server thread, the address tree, replies, push and learn."""

    def __init__(self, router: ActionRouter, *, host: str = DEFAULT_HOST, port: int = DEFAULT_OSC_PORT,
                 reply_port: Optional[int] = None, push_to: Optional[tuple[str, int]] = None,
                 push_names: Sequence[str] = PUSH_NAMES, bindings: Iterable[Binding] = (),
                 learner: Optional[Learner] = None, aliases: Optional[dict[str, tuple[str, Any]]] = None
                 ) -> None:
        self.router = router
        self.registry: ActionRegistry = router.registry
        self.host = host
        self.requested_port = int(port)
        self.reply_port = reply_port
        self.push_to = push_to
        self.push_names = tuple(push_names)
        self.learner = learner
        self.aliases = dict(ALIASES if aliases is None else aliases)
        self.driver = BindingDriver(router, "osc")
        self._bindings: dict[str, Binding] = {}
        for b in bindings:
            self.add_binding(b)
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._push_thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._queries: "deque[tuple[list[str], tuple[str, int]]]" = deque()
        self._qcond = threading.Condition()
        self._reply_thread: Optional[threading.Thread] = None
        self._bucket = _ByteBucket(REPLY_BYTES_PER_S, REPLY_BURST_BYTES)
        self._count_bucket = _ByteBucket(REPLIES_PER_S, REPLY_BURST)
        self._ratelog = RateLimitedLog(log)
        self.rcvbuf = 0
        self.error: Optional[str] = None
        self.stats = {"packets": 0, "rejected": 0, "messages": 0, "malformed": 0, "unknown": 0, "bad_args": 0,
                      "coalesced": 0, "errors": 0, "replies": 0, "pushed": 0, "queries_dropped": 0,
                      "replies_dropped": 0}
        self.seen: "OrderedDict[str, dict[str, Any]]" = OrderedDict()
        self._seen_lock = threading.Lock()
        self._pushed: dict[str, Any] = {}

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        """The bound port (the requested one, or the OS's choice when 0 was asked)."""
        if self._server is not None:
            return int(self._server.server_address[1])
        return self.requested_port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Bind and serve on a thread. Raises OSError when the port is taken (also kept in error)."""
        if self.running:
            return
        try:
            self._server = _Server((self.host, self.requested_port), _Dispatcher(self), self)
        except OSError as e:
            self.error = f"cannot listen for OSC on {self.host}:{self.requested_port}: {e.strerror or e}"
            raise
        self.error = None
        _quiet_python_osc()
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("OSC is listening on %s:%d: reachable from the network", self.host, self.port)
        log.info("OSC listening on %s:%d (receive buffer %d bytes)", self.host, self.port, self.rcvbuf)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="sfe-osc", daemon=True)
        self._thread.start()
        self._reply_thread = threading.Thread(target=self._reply_loop, name="sfe-osc-replies", daemon=True)
        self._reply_thread.start()
        if self.push_to is not None:
            self._push_thread = threading.Thread(target=self._push_loop, name="sfe-osc-push", daemon=True)
            self._push_thread.start()

    def _serve(self) -> None:
        """Wait for datagrams; take every one the kernel holds (up to :data:`DRAIN_MAX`) before
        handling any, and handle the batch, coalescing continuous values when it is long (``coalesce``). A
        flood of fader moves so costs one handled message per address and batch, and the kernel's
        buffer is emptied before it can overflow and drop a discrete command."""
        srv = self._server
        assert srv is not None
        sock = srv.socket
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([sock], [], [], 0.1)
                if not ready:
                    continue
                batch: list[tuple[bytes, Any]] = []
                sock.setblocking(False)
                try:
                    while len(batch) < DRAIN_MAX:
                        try:
                            batch.append(sock.recvfrom(srv.max_packet_size))
                        except (BlockingIOError, InterruptedError):
                            break
                finally:
                    sock.setblocking(True)
                for data, client in self.coalesce(batch):
                    if srv.verify_request((data, sock), client):
                        try:
                            self.handle_packet(data, client)
                        except Exception:
                            srv.handle_error((data, sock), client)
            except Exception:  # a closed socket at stop, or a bug: count it and keep serving
                if self._stop.is_set():
                    return
                self.stats["errors"] += 1
                log.exception("OSC server loop failed; going on")
                time.sleep(0.05)

    def coalesce(self, batch: list[tuple[bytes, Any]]) -> list[tuple[bytes, Any]]:
        """The batch in arrival order; when it is :data:`COALESCE_FROM` datagrams or more (the server
        is behind), less every plain message to a continuous action's address (``/sfe/memory``
        ...) that a later message of the same batch to the same address and from the same sender
        replaces (the router coalesces continuous values anyway). Bundles, discrete commands,
        queries and bindings are all kept."""
        if len(batch) < COALESCE_FROM:
            return batch                          # keeping up: every message is handled
        last: dict[tuple[bytes, Any], int] = {}
        keys: list[Optional[tuple[bytes, Any]]] = []
        for i, (data, client) in enumerate(batch):
            key = None
            if data[:1] == b"/":
                end = data.find(b"\0")
                address = data[:end] if end > 0 else b""
                if address and self._continuous(address):
                    key = (address, client)
                    last[key] = i
            keys.append(key)
        if not last:
            return batch
        kept = [item for i, (item, key) in enumerate(zip(batch, keys)) if key is None or last[key] == i]
        self.stats["coalesced"] += len(batch) - len(kept)
        return kept

    def _continuous(self, address: bytes) -> bool:
        try:
            spec = self.registry.by_osc(address.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return False
        return spec is not None and spec.kind == CONTINUOUS

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            if self._thread is not None:
                self._thread.join(timeout=2)
            self._server.server_close()
        with self._qcond:
            self._qcond.notify_all()
        for t in (self._thread, self._push_thread, self._reply_thread):
            if t is not None:
                t.join(timeout=2)
        self._thread = self._push_thread = self._reply_thread = None
        self._server = None

    # ------------------------------------------------------------------ bindings
    def add_binding(self, b: Binding) -> None:
        if b.source != "osc" or not b.address:
            raise ValueError(f"not an OSC binding: {b}")
        self.router.spec(b.action)
        self._bindings[b.address] = b

    def remove_binding(self, address: str) -> None:
        self._bindings.pop(address, None)

    def bindings(self) -> list[Binding]:
        return list(self._bindings.values())

    # ------------------------------------------------------------------ input
    def note_malformed(self, client: Any, why: str) -> None:
        self.stats["malformed"] += 1
        self._ratelog("malformed", "malformed OSC packet from %s ignored: %s", client, why)

    def handle_packet(self, data: bytes, client: Any = ("127.0.0.1", 0)) -> None:
        """Handle one datagram (message or bundle). Never raises."""
        self.stats["packets"] += 1
        try:
            packet = OscPacket(data)
            messages = packet.messages
        except ParseError as e:
            self.note_malformed(client, str(e) or "parse error")
            return
        except Exception as e:  # python-osc raises assorted errors on garbage
            self.note_malformed(client, f"{type(e).__name__}: {e}")
            return
        gets: list[str] = []
        for timed in messages:
            try:
                msg = timed.message
                self.handle_message(msg.address, list(msg.params), client, gets)
            except Exception:
                self.stats["errors"] += 1
                self._ratelog("error", "OSC message from %s failed", client)
                log.debug("OSC message failure", exc_info=True)
        if gets:
            self._query([g for g in gets if g is not _OVER], client)

    def handle_message(self, address: str, args: list[Any], client: Any = ("127.0.0.1", 0),
                       gets: Optional[list[str]] = None) -> None:
        """Handle one message (the unit tests drive this directly).

        A query is added to ``gets`` (the packet's queries, answered after its commands) or, without
        ``gets``, queued for an answer at once.
        """
        self.stats["messages"] += 1
        self._remember(address, args)
        if address == GET_PREFIX or address.startswith(GET_PREFIX + "/"):
            name = address[len(GET_PREFIX) + 1:]
            if gets is None:
                self._query([name], client)
            elif len(gets) < MAX_GETS_PER_PACKET:
                gets.append(name)
            else:
                self.stats["queries_dropped"] += 1
                if len(gets) == MAX_GETS_PER_PACKET:     # log once per packet, then mark it
                    self._ratelog("queries", "OSC from %s: more than %d queries in one packet; the rest "
                                  "ignored", client, MAX_GETS_PER_PACKET)
                    gets.append(_OVER)
            return
        spec = self.registry.by_osc(address)
        if spec is not None:
            self._dispatch(spec, args, None)
            return
        alias = self.aliases.get(address)
        if alias is not None:
            self._dispatch(self.registry.get(alias[0]), args, alias[1])
            return
        b = self._bindings.get(address)
        if b is not None:
            self._drive(b, args)
            return
        if self.learner is not None and self.learner.armed and not address.startswith(OSC_ROOT + "/"):
            made = self.learner.offer("osc", lambda a, v: Binding(action=a, source="osc", address=address,
                                                                   value=v), self.add_binding)
            if made is not None:
                return
        self.stats["unknown"] += 1
        self._ratelog("unknown", "unknown OSC address %s from %s", address, client)

    def _dispatch(self, spec: ActionSpec, args: list[Any], fixed: Any) -> None:
        if not args and fixed is None and spec.arg != "none" and not spec.optional and spec.kind != TOGGLE:
            self.stats["bad_args"] += 1
            self._ratelog("bad_args", "OSC %s needs an argument", spec.osc or spec.id)
            return
        try:
            if fixed is not None:  # alias with a fixed value: fire on a true (or missing) argument
                if args and not to_bool(args[0]):
                    return
                value = fixed
            elif spec.arg == "none":
                if args and not _truthy(args[0]):
                    return  # a button's release (0 / F) does not fire a trigger
                value = None
            elif spec.kind == TOGGLE:
                value = to_bool(args[0]) if args else None
            else:
                value = args[0] if args else None
            value = spec.coerce(value)
        except ActionValueError as e:
            self.stats["bad_args"] += 1
            self._ratelog("bad_args", "OSC %s: %s", spec.osc or spec.id, e)
            return
        self.router.trigger(spec.id, value, source="osc")

    def _drive(self, b: Binding, args: list[Any]) -> None:
        spec = self.router.spec(b.action)
        if not args:
            self.driver.press(b, True)
            self.driver.press(b, False)
            return
        a = args[0]
        if isinstance(a, str) and spec.arg in ("str", "enum"):
            self.router.trigger(b.action, a if b.value is None else b.value, source="osc")
            return
        try:
            x = 1.0 if a is True else 0.0 if a is False else float(a)
        except (TypeError, ValueError):
            self.stats["bad_args"] += 1
            return
        if x != x:  # NaN
            self.stats["bad_args"] += 1
            return
        self.driver.level(b, (x - b.in_min) / (b.in_max - b.in_min))

    def _remember(self, address: str, args: list[Any]) -> None:
        with self._seen_lock:
            e = self.seen.get(address)
            if e is None:
                if len(self.seen) >= 256:
                    self.seen.popitem(last=False)
                e = self.seen[address] = {"count": 0}
            e["count"] += 1
            e["args"] = args[:4]
            e["time"] = time.monotonic()

    def recent_addresses(self) -> list[tuple[str, int, list[Any]]]:
        """Incoming addresses, newest first: what a learn/monitor view shows."""
        with self._seen_lock:
            items = sorted(self.seen.items(), key=lambda kv: -kv[1]["time"])
        return [(a, e["count"], e["args"]) for a, e in items]

    # ------------------------------------------------------------------ output
    def _send(self, dgram: bytes, addr: tuple[str, int]) -> bool:
        srv = self._server
        try:
            if srv is not None:
                srv.socket.sendto(dgram, addr)
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(dgram, addr)
            return True
        except OSError as e:
            self._ratelog("send", "OSC send to %s failed: %s", addr, e)
            return False

    def _query(self, names: list[str], client: Any) -> None:
        """Queue a packet's queries for the reply thread (answered at once when not serving)."""
        dest = (client[0], int(self.reply_port or client[1]))
        if self._reply_thread is None:
            self._answer(names, dest)
            return
        with self._qcond:
            if len(self._queries) >= QUERY_QUEUE:   # the oldest waiting query goes: the newest is the one wanted
                old, _ = self._queries.popleft()
                self.stats["queries_dropped"] += len(old)
                self._ratelog("queries", "OSC queries dropped: more than %d packets of them waiting", QUERY_QUEUE)
            self._queries.append((names, dest))
            self._qcond.notify()

    def _reply_loop(self) -> None:
        while True:
            with self._qcond:
                while not self._queries and not self._stop.is_set():
                    self._qcond.wait()
                if self._stop.is_set():
                    return
                item = self._queries.popleft()
            try:
                self._answer(*item)
            except Exception:
                self.stats["errors"] += 1
                self._ratelog("error", "OSC reply to %s failed", item[1], level=logging.ERROR, exc_info=True)

    def _answer(self, names: list[str], dest: tuple[str, int]) -> None:
        """Reply to one packet's queries: at most MAX_REPLIES_PER_PACKET messages, within the byte budget."""
        state = self.router.state()
        wanted: list[str] = []
        for name in names:
            wanted += [n for n in GET_NAMES if n in state] if not name else [name]
        if len(wanted) > MAX_REPLIES_PER_PACKET:
            self.stats["replies_dropped"] += len(wanted) - MAX_REPLIES_PER_PACKET
            wanted = wanted[:MAX_REPLIES_PER_PACKET]
        for n in wanted:
            if n in state:
                dgram = build_message(f"{OSC_ROOT}/{n}", _short(state[n]))
            else:
                known = ", ".join(sorted(k for k, v in state.items() if isinstance(v, (str, int, float, bool))))
                dgram = build_message(f"{OSC_ROOT}/error", _short(f"unknown state {n[:40]!r}; known: {known}"))
            # over budget the reply thread waits (commands never do); the bounded queue drops the excess
            while not (self._count_bucket.take(1) and self._bucket.take(len(dgram))):
                if self._stop.wait(0.02):
                    return
            if self._send(dgram, dest):
                self.stats["replies"] += 1

    def push_changes(self) -> int:
        """Send changed state values to ``push_to``; returns the number of messages sent."""
        if self.push_to is None:
            return 0
        state = self.router.state()
        sent = 0
        for n in self.push_names:
            if n not in state:
                continue
            v = state[n]
            if isinstance(v, float):
                v = round(v, 3)
            if self._pushed.get(n, object()) == v:
                continue
            self._pushed[n] = v
            if self._send(build_message(f"{OSC_ROOT}/{n}", v), self.push_to):
                sent += 1
        self.stats["pushed"] += sent
        return sent

    def _push_loop(self) -> None:
        while not self._stop.wait(1.0 / PUSH_HZ):
            try:
                self.push_changes()
            except Exception:
                log.exception("OSC push failed")

    def status(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "running": self.running, "error": self.error,
                "rcvbuf": self.rcvbuf, "push_to": self.push_to, **self.stats}


_OVER = "\x00over"  # marks a packet whose excess queries were already logged


def _short(v: Any) -> Any:
    """A state value for a reply: text longer than MAX_REPLY_TEXT is cut (ending in an ellipsis)."""
    if isinstance(v, str) and len(v) > MAX_REPLY_TEXT:
        return v[:MAX_REPLY_TEXT - 1] + "\u2026"
    return v


class _ByteBucket:
    """A token bucket of bytes: ``rate`` per second, at most ``burst`` saved up. Thread-safe."""

    def __init__(self, rate: float, burst: float, clock: Any = time.monotonic) -> None:
        self.rate, self.burst, self._clock = float(rate), float(burst), clock
        self._tokens = float(burst)
        self._t = clock()
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate)
            self._t = now
            if self._tokens < n:
                return False
            self._tokens -= n
            return True


def _truthy(a: Any) -> bool:
    try:
        return to_bool(a)
    except ActionValueError:
        return True  # a non-boolean argument (e.g. a string) still presses the button


def port_free(port: int, host: str = DEFAULT_HOST) -> Optional[str]:
    """None if a UDP port can be bound, else the reason (for ``sfe-live doctor``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
            return None
        except OSError as e:
            return e.strerror or str(e)
