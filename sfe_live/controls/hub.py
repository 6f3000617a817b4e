"""ControlHub: the one object the app (GUI or headless) builds to get every live control.

::

    hub = ControlHub(runner.submit, runner.status, {"osc_port": 9310, "cues": "woman_to_cat"})
    hub.register_handler("record.toggle", recorder.toggle)   # app-level actions
    hub.start()          # OSC thread, MIDI ports, audio (if enabled), cue player, tempo
    hub.key("Space")     # the UI forwards key presses
    ...
    hub.stop()

It owns the :class:`ActionRouter`, the :class:`TempoClock` and :class:`Scheduler`, the
:class:`CuePlayer`, the :class:`KeyMap`, the :class:`OscServer`, the :class:`MidiService`,
the :class:`AudioInput` and an optional :class:`LinkClock`. A part that cannot start (port
taken, no MIDI system, no audio device) is reported in :meth:`status` and the rest runs.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from sfe_live.engine.commands import Command
from sfe_live.io import DataFileError
from sfe_live.show.cues import CueList, CuePlayer
from sfe_live.show.presets import list_profiles, resolve

from .actions import DEFAULT_REGISTRY, ActionRegistry
from .audio import AudioInput
from .bindings import Binding
from .driver import Learner
from .keys import KeyMap
from .midi import MidiService
from .osc import OscServer
from .profiles import Profile, load_profile
from .router import ActionRouter, StatusFn
from .settings import ControlSettings
from .store import load_user_bindings, save_user_bindings
from .tempo import LinkClock, Scheduler, TempoClock

log = logging.getLogger(__name__)

TICK_HZ = 30.0


class ControlHub:
    """Builds, starts and stops every live control around ``submit`` and ``status``."""

    def __init__(self, submit: Callable[[Command], None], status: Optional[StatusFn] = None,
                 settings: Union[ControlSettings, Mapping[str, Any], None] = None, *,
                 registry: ActionRegistry = DEFAULT_REGISTRY) -> None:
        self.settings = ControlSettings.from_any(settings)
        s = self.settings
        self.router = ActionRouter(submit, status, registry)
        self.tempo = TempoClock(bpm=s.bpm)
        self.scheduler = Scheduler()
        self.learner = Learner(registry)
        self.cues = CuePlayer(submit, tempo=self.tempo, timer=self.scheduler, block=self._block,
                              lookahead=s.lookahead_ms / 1000.0)
        if s.quantize:
            self.cues.quantize_override = s.quantize
        self.keys = KeyMap(self.router, learner=self.learner)
        self.osc: Optional[OscServer] = None
        self.midi: Optional[MidiService] = None
        self.audio: Optional[AudioInput] = None
        self.link = LinkClock(self.tempo)
        self.errors: dict[str, str] = {}
        self._user: dict[str, list[Binding]] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._wire()

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        r = self.router
        r.register_handler("cue.go", lambda v: self.cues.go(int(v)))
        r.register_handler("cue.next", lambda v: self.cues.next())
        r.register_handler("cue.prev", lambda v: self.cues.prev())
        r.register_handler("cue.quantize", self._set_quantize)
        r.register_handler("tempo.tap", lambda v: self.tempo.tap())
        r.register_handler("tempo.set", self._set_bpm)
        r.register_handler("tempo.sync", lambda v: self.tempo.sync())
        r.add_state_provider("cues", self.cues.status)
        r.add_state_provider("tempo", self.tempo.status)

    def _set_quantize(self, v: Any) -> None:
        self.cues.quantize_override = v

    def _set_bpm(self, v: Any) -> None:
        self.tempo.set_bpm(float(v), source="internal")
        self.link.push_tempo(float(v))

    def _block(self) -> Optional[int]:
        b = self.router.status().get("block")
        return None if b is None else int(b)

    def register_handler(self, action_id: str, fn: Callable[[Any], None]) -> None:
        """Handle an app-level action (record.toggle, vcam.toggle, output.fullscreen, blackout, freeze)."""
        self.router.register_handler(action_id, fn)

    def set_state(self, name: str, value: Any) -> None:
        """Report app state that feedback shows (e.g. ``recording``, ``vcam``, ``fullscreen``)."""
        self.router.set_local(name, value)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        s = self.settings
        self.scheduler.start()
        self._load_user_bindings()
        if s.cues:
            try:
                self.load_cues(s.cues)
            except (DataFileError, FileNotFoundError) as e:
                self.errors["cues"] = str(e)
                log.error("%s", e)
        if s.osc_enabled:
            self.osc = OscServer(self.router, host=s.osc_host, port=s.osc_port, reply_port=s.osc_reply_port,
                                 push_to=s.push_target(), bindings=self._user.get("osc", ()),
                                 learner=self.learner)
            try:
                self.osc.start()
            except OSError as e:
                self.errors["osc"] = self.osc.error or str(e)
                log.error("%s", self.errors["osc"])
        if s.midi_enabled:
            self.midi = MidiService(self.router, profiles=self._profiles(), user_bindings=self._user.get("midi", ()),
                                    tempo=self.tempo, learner=self.learner, backend=s.midi_backend,
                                    inputs=s.midi_inputs, clock_in=s.midi_clock, rescan_interval=s.midi_rescan_s)
            self.midi.start()
            if self.midi.error:
                self.errors["midi"] = self.midi.error
        if s.audio_enabled:
            self.audio = AudioInput(self.router, device=s.audio_device, bindings=self._user.get("audio", ()),
                                    gain_db=s.audio_gain_db, falloff_per_s=s.audio_falloff)
            if not self.audio.start():
                self.errors["audio"] = self.audio.error or "audio input unavailable"
        if s.link:
            if not self.link.enable():
                self.errors["link"] = self.link.error or "Ableton Link unavailable"
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick_loop, name="sfe-controls", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        for part in (self.osc, self.midi, self.audio):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    log.exception("stopping %s", type(part).__name__)
        self.link.disable()
        self.scheduler.stop()

    def __enter__(self) -> "ControlHub":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _tick_loop(self) -> None:
        while not self._stop.wait(1.0 / TICK_HZ):
            try:
                self.link.poll()
                self.cues.tick()
            except Exception:
                log.exception("controls tick")

    # ------------------------------------------------------------------ bindings and profiles
    def _profiles(self) -> list[Profile]:
        names = self.settings.midi_profiles
        if "*" in names:
            names = [n for n in names if n != "*"] + [str(p) for p in list_profiles().values()]
        out, seen = [], set()
        for n in names:
            try:
                p = load_profile(n, self.router.registry)
            except DataFileError as e:
                self.errors.setdefault("profiles", str(e))
                log.error("%s", e)
                continue
            if p.name not in seen:
                seen.add(p.name)
                out.append(p)
        return out

    def _load_user_bindings(self) -> None:
        try:
            self._user = load_user_bindings(self.settings.bindings_path, self.router.registry)
        except DataFileError as e:
            self.errors["bindings"] = str(e)
            log.error("%s", e)
            self._user = {}
        if "key" in self._user:
            self.keys.set_bindings(self._user["key"])

    def save_bindings(self, path: Union[str, Path, None] = None) -> Path:
        """Save keys, OSC, audio and learned MIDI bindings (atomically)."""
        p = Path(path) if path else self.settings.bindings_path
        data: dict[str, Iterable[Binding]] = {"key": self.keys.bindings()}
        if self.osc is not None:
            data["osc"] = self.osc.bindings()
        if self.audio is not None:
            data["audio"] = self.audio.bindings.bindings()
        elif "audio" in self._user:
            data["audio"] = self._user["audio"]
        if self.midi is not None:
            data["midi"] = self.midi.user_bindings()
        save_user_bindings(p, data)
        return p

    # ------------------------------------------------------------------ performing
    def trigger(self, action_id: str, value: Any = None, source: str = "ui") -> bool:
        return self.router.trigger(action_id, value, source)

    def key(self, name: str, pressed: bool = True, repeat: bool = False) -> bool:
        """A key event from the UI (Qt-free names like ``"Ctrl+P"``); True if bound."""
        return self.keys.handle(name, pressed, repeat)

    def load_cues(self, name_or_path: Union[str, Path, CueList]) -> CueList:
        if isinstance(name_or_path, CueList):
            self.cues.load(name_or_path)
            return name_or_path
        p = resolve(name_or_path, "cues")
        if p is None:
            raise FileNotFoundError(f"no cue list {str(name_or_path)!r}")
        return self.cues.load_file(p)

    def learn(self, action_id: str, value: Any = None, sources: Optional[Iterable[str]] = None,
              on_learned: Optional[Callable[[Binding], None]] = None) -> None:
        """Arm learn: the next MIDI control / OSC address / key that moves is bound to the action."""
        self.learner.arm(action_id, value, sources, on_learned)

    def cancel_learn(self) -> None:
        self.learner.cancel()

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        """Everything a status bar or ``/sfe/get`` could want, as plain data."""
        return {
            "osc": self.osc.status() if self.osc else {"running": False, "error": self.errors.get("osc")},
            "midi": self.midi.status() if self.midi else {"ok": False, "error": "MIDI disabled"},
            "audio": self.audio.status() if self.audio else {"ok": False, "error": self.errors.get("audio",
                                                                                                "audio disabled")},
            "tempo": {**self.tempo.status(), "link": self.link.peers() if self.settings.link else None},
            "cues": self.cues.status(),
            "learn": self.learner.armed,
            "errors": dict(self.errors),
            "counts": dict(self.router.counts),
            "time": time.time(),
        }
