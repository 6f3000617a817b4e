"""MIDI in and out through mido (python-rtmidi backend).

:class:`MidiService` opens the chosen input ports with callbacks, rescans every few seconds so
an unplugged and replugged controller keeps working, drives bindings from controller profiles
and learned bindings, follows MIDI clock into the tempo clock, and lights LEDs on the matching
output ports (current cue, toggles, purge flash, encoder rings).

Port callbacks run on the MIDI system's own thread (JACK's audio thread, CoreMIDI's): they only
put ``(message, port)`` on a bounded queue, and one thread of ours (``sfe-midi-in``) takes them
off in arrival order and does the work, so a burst never stalls the MIDI system (which then
drops or repeats events) and no message is handled twice or concurrently.

Everything is handled by :meth:`MidiService.handle` (a ``mido.Message`` plus the port name),
so tests can drive it directly with mido messages or parsed byte streams. No backend, no ALSA, no device:
:meth:`MidiService.status` says so in words and nothing raises.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

import mido

from sfe_live.ratelog import RateLimitedLog

from .actions import TOGGLE
from .bindings import Binding
from .driver import BindingDriver, Learner
from .profiles import Profile, port_key
from .router import ActionRouter
from .tempo import TempoClock

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 2.0   # longest wait for the MIDI system to close the ports at stop

DEFAULT_BACKEND = "mido.backends.rtmidi"
JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"
FLASH_S = 0.15
FEEDBACK_HZ = 30.0
INBOX_SIZE = 65536   # messages waiting for our thread (~3 s at 20,000/s); past it, counted and dropped
# "RtMidi output"/"RtMidi input" are the ports rtmidi makes for our own connections (e.g. the LED
# output to a controller): opened as inputs they would feed our own LED messages back as presses
_SKIP_PORTS = ("midi through", "sfe-live", ":rtmidi output", ":rtmidi input")


def _try_backend(name: str) -> tuple[Any, Optional[str]]:
    try:
        be = mido.Backend(name, load=True)
        be.get_input_names()  # ALSA/JACK/CoreMIDI errors surface here
        return be, None
    except ImportError as e:
        return None, f"MIDI backend {name} unavailable: {e} (pip install python-rtmidi)"
    except Exception as e:  # rtmidi raises SystemError/RuntimeError without a MIDI system
        return None, f"MIDI backend {name} failed: {type(e).__name__}: {e}"


def open_backend(name: Optional[str] = None) -> tuple[Any, Optional[str]]:
    """A loaded mido backend and None, or (None, a sentence saying why not).

    Without a name: rtmidi's default API, then JACK (a Linux box without ALSA sequencer).
    """
    if name:
        return _try_backend(name)
    be, err = _try_backend(DEFAULT_BACKEND)
    if be is not None:
        return be, None
    be2, err2 = _try_backend(JACK_BACKEND)
    if be2 is not None:
        log.info("%s; using JACK MIDI", err)
        return be2, None
    return None, f"{err}; {err2}"


class _PortLister:
    """Lists ports through one long-lived rtmidi client per direction.

    mido's ``get_input_names()`` opens a new MIDI client on every call; on JACK that reorders the
    graph and stalls other clients' callbacks for hundreds of milliseconds, so a rescan every
    few seconds would make incoming MIDI (and MIDI clock) stutter.
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self._mi: Any = None
        self._mo: Any = None
        if backend.name == DEFAULT_BACKEND:
            try:
                import rtmidi
                api = backend.module._get_api_id(backend.api)  # noqa: SLF001 - mido's own lookup
                self._mi = rtmidi.MidiIn(rtapi=api)
                self._mo = rtmidi.MidiOut(rtapi=api)
            except Exception as e:
                log.debug("persistent rtmidi lister unavailable: %s", e)
                self._mi = self._mo = None

    def names(self) -> tuple[list[str], list[str]]:
        if self._mi is not None:
            return list(self._mi.get_ports()), list(self._mo.get_ports())
        return list(self.backend.get_input_names()), list(self.backend.get_output_names())

    def close(self) -> None:
        for rt in (self._mi, self._mo):
            if rt is not None:
                try:
                    rt.delete()
                except Exception:
                    pass
        self._mi = self._mo = None


def backend_label(be: Any) -> str:
    return f"{be.name}/{be.api}" if getattr(be, "api", None) else str(be.name)


@dataclass
class _Entry:
    binding: Binding
    port_filter: str       # profile port substring ("" = any)


class MidiService:
    """MIDI inputs → bindings → router; router state → LED feedback on outputs."""

    def __init__(self, router: ActionRouter, *, profiles: Sequence[Profile] = (),
                 user_bindings: Iterable[Binding] = (), tempo: Optional[TempoClock] = None,
                 learner: Optional[Learner] = None, backend: Optional[str] = None,
                 inputs: Optional[Sequence[str]] = None, clock_in: bool = True,
                 rescan_interval: float = 2.0) -> None:
        self.router = router
        self.tempo = tempo
        self.learner = learner
        self.backend_name = backend
        self.input_filter = None if inputs is None else [s for s in inputs if s]
        self.clock_in = clock_in
        self.rescan_interval = rescan_interval
        self.driver = BindingDriver(router, "midi")
        self._lock = threading.RLock()
        self._profiles = list(profiles)
        self._user: list[Binding] = list(user_bindings)
        self._index: dict[tuple[str, Optional[int], Optional[int]], list[_Entry]] = {}
        self._rebuild()
        self._backend: Any = None
        self._lister: Optional[_PortLister] = None
        self.error: Optional[str] = None
        self._in: dict[str, Any] = {}
        self._out: dict[str, Any] = {}
        self._led_sent: dict[str, dict[tuple[str, int, int], int]] = {}
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self.recent: deque[tuple[float, str, str]] = deque(maxlen=64)
        self.messages = 0
        self.errors = 0
        self.dropped = 0
        self._ratelog = RateLimitedLog(log)
        self._inbox: "queue.Queue[Optional[tuple[mido.Message, str, Optional[float]]]]" = queue.Queue(INBOX_SIZE)
        self._worker: Optional[threading.Thread] = None
        self._worker_lock = threading.Lock()

    # ------------------------------------------------------------------ bindings
    def _rebuild(self) -> None:
        index: dict[tuple[str, Optional[int], Optional[int]], list[_Entry]] = {}
        for prof in self._profiles:
            for b in prof.bindings:
                index.setdefault((b.type or "", b.channel, b.number), []).append(_Entry(b, prof.port))
        for b in self._user:
            index.setdefault((b.type or "", b.channel, b.number), []).append(_Entry(b, ""))
        self._index = index

    def set_profiles(self, profiles: Sequence[Profile]) -> None:
        with self._lock:
            self._profiles = list(profiles)
            self._rebuild()
            self._led_sent.clear()
        self.driver.reset()

    @property
    def profiles(self) -> list[Profile]:
        return list(self._profiles)

    def user_bindings(self) -> list[Binding]:
        with self._lock:
            return list(self._user)

    def add_binding(self, b: Binding) -> None:
        """Add a (learned) binding; one control drives one learned action (replaces older)."""
        with self._lock:
            self._user = [u for u in self._user
                          if not (u.type == b.type and u.channel == b.channel and u.number == b.number)]
            self._user.append(b)
            self._rebuild()

    def remove_binding(self, b: Binding) -> None:
        with self._lock:
            self._user = [u for u in self._user if u is not b]
            self._rebuild()

    def _match(self, mtype: str, channel: int, number: Optional[int], port: str) -> list[Binding]:
        idx = self._index
        out = []
        for key in ((mtype, channel, number), (mtype, None, number)):
            for e in idx.get(key, ()):
                b = e.binding
                pf = b.port if b.port is not None else e.port_filter
                if pf and pf.lower() not in port_key(port).lower():
                    continue
                out.append(b)
        return out

    # ------------------------------------------------------------------ input
    def receive(self, msg: mido.Message, port: str = "") -> None:
        """A port callback: queue the message for our own thread (no work on the MIDI system's thread)."""
        self._ensure_worker()
        t = self.tempo.now() if self.tempo is not None and msg.type in ("clock", "start") else None
        try:
            self._inbox.put_nowait((msg, port, t))
        except queue.Full:
            self.dropped += 1
            self._ratelog("inbox", "MIDI input overloaded: messages dropped (%d so far)", self.dropped)

    def _ensure_worker(self) -> None:
        if self._worker is not None:
            return
        with self._worker_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="sfe-midi-in", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            item = self._inbox.get()
            try:
                if item is None:
                    return
                self.handle(*item)
            finally:
                self._inbox.task_done()

    def drain(self, timeout: float = 2.0) -> bool:
        """Wait until every queued message has been handled (tests, orderly shutdown)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._inbox.unfinished_tasks == 0:
                return True
            time.sleep(0.005)
        return self._inbox.unfinished_tasks == 0

    def handle(self, msg: mido.Message, port: str = "", t: Optional[float] = None) -> None:
        """Process one incoming message on the caller's thread (our input thread; never raises).

        ``t`` is the arrival time (tempo clock) of MIDI clock messages, taken in the callback so
        the queue's delay does not bend the tempo.
        """
        try:
            self._handle(msg, port, t)
        except Exception:
            self.errors += 1
            self._ratelog("failed", "MIDI message %s from %s failed", msg, port, level=logging.ERROR,
                          exc_info=True)

    def _handle(self, msg: mido.Message, port: str, at: Optional[float] = None) -> None:
        self.messages += 1
        t = msg.type
        if t in ("clock", "start", "stop", "continue", "songpos"):
            if self.clock_in and self.tempo is not None:
                if t == "clock":
                    self.tempo.midi_tick(at)
                elif t == "start":
                    self.tempo.midi_start(at)
                elif t == "stop":
                    self.tempo.midi_stop()
                elif t == "continue":
                    self.tempo.midi_continue()
                else:
                    self.tempo.midi_song_position(msg.pos)
            return
        if t == "note_on" and msg.velocity == 0:
            msg = mido.Message("note_off", channel=msg.channel, note=msg.note, velocity=0)
            t = "note_off"
        if t not in ("control_change", "note_on", "note_off", "pitchwheel", "program_change"):
            return
        ch = msg.channel + 1
        self.recent.append((time.monotonic(), port, str(msg)))
        if self.learner is not None and self.learner.armed and t != "note_off":
            made = self.learner.offer("midi", lambda a, v: self._learned(msg, port, a, v), self.add_binding)
            if made is not None:
                return
        if t == "control_change":
            for b in self._match("cc", ch, msg.control, port):
                if b.mode == "relative":
                    self.driver.delta(b, msg.value - 64)
                else:
                    self.driver.level(b, msg.value / 127.0)
        elif t == "note_on":
            for b in self._match("note", ch, msg.note, port):
                self.driver.press(b, True)
        elif t == "note_off":
            for b in self._match("note", ch, msg.note, port):
                self.driver.press(b, False)
        elif t == "pitchwheel":
            for b in self._match("pitchwheel", ch, None, port):
                self.driver.level(b, (msg.pitch + 8192) / 16383.0)
        elif t == "program_change":
            for b in self._match("program", ch, msg.program, port):
                self.driver.press(b, True)
                self.driver.press(b, False)

    @staticmethod
    def _learned(msg: mido.Message, port: str, action: str, value: Any) -> Binding:
        key = port_key(port)
        common = dict(action=action, source="midi", channel=msg.channel + 1, value=value,
                      port=key.split(":")[0] if key else None)
        if msg.type == "control_change":
            return Binding(type="cc", number=msg.control, **common)
        if msg.type == "pitchwheel":
            return Binding(type="pitchwheel", **common)
        if msg.type == "program_change":
            return Binding(type="program", number=msg.program, **common)
        return Binding(type="note", number=msg.note, **common)

    def feed_bytes(self, data: bytes, port: str = "bytes") -> int:
        """Parse a raw MIDI byte stream with mido and handle every message; returns the count."""
        parser = mido.Parser()
        parser.feed(data)
        n = 0
        for msg in parser:
            self.handle(msg, port)
            n += 1
        return n

    # ------------------------------------------------------------------ ports
    def start(self) -> None:
        """Open the backend and ports; a failure becomes :attr:`error`, never an exception."""
        self._backend, self.error = open_backend(self.backend_name)
        if self._backend is not None:
            self.backend_name = backend_label(self._backend)
            self._lister = _PortLister(self._backend)
        if self.error:
            # a machine without a MIDI system is normal, not an alarm: status shows "MIDI off"
            log.info("MIDI off: no MIDI system available (%s)", self.error)
        else:
            self.rescan()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sfe-midi", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        with self._lock:
            ports = list(self._in.values()) + list(self._out.values())
            self._in.clear()
            self._out.clear()
            self._led_sent.clear()
        lister, self._lister = self._lister, None

        def close_all() -> None:
            for p in ports:
                _close(p)
            if lister is not None:
                lister.close()
        # Closing a port is a call into the MIDI system (a JACK client close waits for the server's answer):
        # a server that does not answer must not keep the show from stopping.
        closer = threading.Thread(target=close_all, name="sfe-midi-close", daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT_S)
        if closer.is_alive():
            log.warning("MIDI ports still closing after %.0f s (the MIDI system is not answering); left behind",
                        CLOSE_TIMEOUT_S)
        worker = self._worker
        if worker is not None:
            try:
                self._inbox.put(None, timeout=1.0)
            except queue.Full:
                log.warning("MIDI input thread still busy at stop")
            worker.join(timeout=2)
            self._worker = None

    def _wanted_input(self, name: str) -> bool:
        low = name.lower()
        if any(s in low for s in _SKIP_PORTS):
            return False
        if self.input_filter is None:
            return True
        return any(s.lower() in low for s in self.input_filter)

    def _wanted_output(self, name: str) -> bool:
        low = name.lower()
        if any(s in low for s in _SKIP_PORTS):
            return False
        return any((p.port and p.port.lower() in port_key(name).lower()) and
                   (p.init or any(b.led is not None for b in p.bindings)) for p in self._profiles)

    def rescan(self) -> None:
        """Open new ports, close vanished ones (hot-plug)."""
        be = self._backend
        if be is None or self._lister is None:
            return
        try:
            ins, outs = self._lister.names()
        except Exception as e:
            self.error = f"listing MIDI ports failed: {type(e).__name__}: {e}"
            log.warning("%s", self.error)
            return
        with self._lock:
            for name in [n for n in self._in if n not in ins]:
                log.info("MIDI input gone: %s", name)
                _close(self._in.pop(name))
            for name in [n for n in self._out if n not in outs]:
                log.info("MIDI output gone: %s", name)
                _close(self._out.pop(name))
                self._led_sent.pop(name, None)
            for name in ins:
                if name not in self._in and self._wanted_input(name):
                    try:
                        self._in[name] = be.open_input(name, callback=lambda m, n=name: self.receive(m, n))
                        log.info("MIDI input opened: %s", name)
                    except Exception as e:
                        log.warning("cannot open MIDI input %s: %s", name, e)
            for name in outs:
                if name not in self._out and self._wanted_output(name):
                    try:
                        port = be.open_output(name)
                        self._out[name] = port
                        self._led_sent[name] = {}
                        log.info("MIDI output opened: %s", name)
                        self._send_init(name, port)
                    except Exception as e:
                        log.warning("cannot open MIDI output %s: %s", name, e)

    def _send_init(self, name: str, port: Any) -> None:
        for prof in self._profiles:
            if prof.init and prof.matches(name):
                for data in prof.init:
                    try:
                        port.send(mido.Message.from_bytes(list(data)))
                    except Exception as e:
                        log.warning("profile %s init message failed: %s", prof.name, e)

    def _loop(self) -> None:
        next_scan = time.monotonic() + self.rescan_interval
        while not self._stop.wait(1.0 / FEEDBACK_HZ):
            try:
                if self._backend is not None and time.monotonic() >= next_scan:
                    next_scan = time.monotonic() + self.rescan_interval
                    self.rescan()
                self.refresh_leds()
            except Exception:
                log.exception("MIDI service loop")

    # ------------------------------------------------------------------ LEDs
    def led_messages(self, port_name: str, state: Optional[dict[str, Any]] = None,
                     now: Optional[float] = None) -> list[tuple[tuple[str, int, int], mido.Message]]:
        """The LED messages a port should show now (all of them, not only changes)."""
        state = self.router.state() if state is None else state
        now = time.monotonic() if now is None else now
        out = []
        for prof in self._profiles:
            if not prof.matches(port_name):
                continue
            for b in prof.bindings:
                if b.led is None or b.number is None or b.type not in ("cc", "note"):
                    continue
                v = self.led_value(b, state, now)
                if v is None:
                    continue
                ch = (b.led.channel or b.channel or 1) - 1
                key = (b.type, ch, b.number)
                if b.type == "note":
                    msg = mido.Message("note_on", channel=ch, note=b.number, velocity=v)
                else:
                    msg = mido.Message("control_change", channel=ch, control=b.number, value=v)
                out.append((key, msg))
        return out

    def led_value(self, b: Binding, state: dict[str, Any], now: float) -> Optional[int]:
        led = b.led
        assert led is not None
        spec = self.router.spec(b.action)
        if b.action == "cue.go" and b.value is not None:
            n = int(b.value)
            if n == state.get("cue") or (n == state.get("cue_pending") and int(now * 4) % 2):
                return led.active if led.active is not None else led.on
            if led.active is not None and n <= int(state.get("cue_count", 0) or 0):
                return led.on
            return led.off
        if spec.kind == TOGGLE and b.value is None:  # lit while on (``invert``: while off)
            return led.on if bool(state.get(spec.state or "", False)) != b.invert else led.off
        if led.ring and spec.state:
            cur = self.router.current(b.action)
            lo, hi = b.out_range(spec)
            if spec.arg == "enum" and isinstance(cur, str) and cur in spec.choices:
                cur = spec.choices.index(cur)
            if isinstance(cur, (int, float)) and hi != lo:
                x = (float(cur) - lo) / (hi - lo)
                if b.invert:
                    x = 1 - x
                return int(round(min(max(x, 0.0), 1.0) * 127))
            return None
        if b.value is not None and spec.state and spec.state in state:  # radio buttons
            try:
                return led.on if state[spec.state] == spec.coerce(b.value) else led.off
            except Exception:
                return led.off
        when, value = self.router.last_fired(b.action)  # triggers flash; with a value, only theirs
        if now - when < FLASH_S and (b.value is None or _same(spec, b.value, value)):
            return led.on
        return led.off

    def refresh_leds(self) -> int:
        """Send LED changes to every open output; returns the number of messages sent."""
        with self._lock:
            outs = list(self._out.items())
        if not outs:
            return 0
        state = self.router.state()
        now = time.monotonic()
        sent = 0
        for name, port in outs:
            cache = self._led_sent.setdefault(name, {})
            for key, msg in self.led_messages(name, state, now):
                val = msg.velocity if msg.type == "note_on" else msg.value
                if cache.get(key) == val:
                    continue
                try:
                    port.send(msg)
                    cache[key] = val
                    sent += 1
                except Exception as e:
                    log.warning("LED feedback to %s failed: %s", name, e)
                    break
        return sent

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"backend": self.backend_name or DEFAULT_BACKEND,
                    "ok": self.error is None and self._backend is not None, "error": self.error,
                    "inputs": sorted(self._in), "outputs": sorted(self._out),
                    "profiles": [p.name for p in self._profiles], "learned": len(self._user),
                    "messages": self.messages, "dropped": self.dropped}

    def add_input_port(self, name: str, port: Any) -> None:
        """Attach an already-open mido input port (tests, or a port the app opened itself)."""
        with self._lock:
            self._in[name] = port
        port.callback = lambda m, n=name: self.receive(m, n)

    def add_output_port(self, name: str, port: Any) -> None:
        with self._lock:
            self._out[name] = port
            self._led_sent[name] = {}
        self._send_init(name, port)


def _same(spec: Any, a: Any, b: Any) -> bool:
    try:
        return spec.coerce(a) == b
    except Exception:
        return False


def _close(port: Any) -> None:
    try:
        port.close()
    except Exception as e:
        log.debug("closing MIDI port: %s", e)


def port_names(backend: Optional[str] = None) -> tuple[list[str], list[str], Optional[str]]:
    """(inputs, outputs, error) for ``sfe-live doctor`` and the settings dialog."""
    be, err = open_backend(backend)
    if be is None:
        return [], [], err
    try:
        return list(be.get_input_names()), list(be.get_output_names()), None
    except Exception as e:
        return [], [], f"{type(e).__name__}: {e}"

