"""The window's handle on the core: named actions, commands, the cue player, the key map, loading.

Panels never hold the ``App``; they call :class:`Controller`, which

* routes UI gestures through ``app.trigger(action_id, value, source="ui")`` so MIDI, OSC and
  the UI share one state (soft takeover, ``/sfe/get``);
* hands the panels the app's cue player (``app.hub.cues``) and key map (``app.hub.keys``);
* queues app-level actions that must touch Qt (``output.fullscreen``) for the GUI timer to run,
  because router handlers may run on MIDI/OSC threads.

An ``App`` is fully built when ``App.load`` returns (hub, router, cue player, key map); the
controller relies on that. :class:`ModelLoader` loads an ``App`` on a plain thread; the GUI
polls its progress.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
from typing import Any, Callable, Optional

from sfe_live.app import App, AppSettings
from sfe_live.controls.keys import KeyMap
from sfe_live.engine import commands as C
from sfe_live.show.cues import CuePlayer
from sfe_live.sources.base import Source

log = logging.getLogger(__name__)

UI_QUEUED_ACTIONS = ("output.fullscreen",)


class Controller:
    """One per window; re-attached when a new model (a new ``App``) is loaded."""

    def __init__(self) -> None:
        self.app: Optional[App] = None
        self.cues: Optional[CuePlayer] = None
        self.keymap: Optional[KeyMap] = None
        self._keys_at_attach: dict[str, Any] = {}
        self._ui_actions: collections.deque[tuple[str, Any]] = collections.deque()

    # ------------------------------------------------------------------ wiring
    def attach(self, app: App) -> None:
        """Wire a loaded app: its cue player and key map, and UI-side handlers for actions that need Qt."""
        if not app.loaded:
            raise RuntimeError("attach a loaded App (App.load() first)")
        self.app = app
        self.cues = app.hub.cues
        for action in UI_QUEUED_ACTIONS:
            app.router.register_handler(action, lambda v, a=action: self._ui_actions.append((a, v)))
        self.keymap = app.hub.keys
        self._keys_at_attach = self._key_table()

    def detach(self) -> None:
        self.app = None
        self.cues = None
        self.keymap = None

    def _key_table(self) -> dict[str, Any]:
        return {} if self.keymap is None else {b.key: b for b in self.keymap.bindings()}

    def save_keys(self) -> None:
        """Persist changed key bindings through the hub (``bindings.toml``)."""
        if self.app is None or self._key_table() == self._keys_at_attach:
            return
        path = self.app.hub.save_bindings()
        log.info("key bindings saved to %s", path)

    def set_state(self, name: str, value: Any) -> None:
        """Report UI-owned state (``fullscreen``) for controller LEDs and ``/sfe/get``."""
        if self.app is None:
            return
        try:
            self.app.hub.set_state(name, value)
        except Exception:
            log.exception("set_state %s failed", name)

    # ------------------------------------------------------------------ sending
    @property
    def ready(self) -> bool:
        return self.app is not None

    def submit(self, cmd: C.Command) -> bool:
        if self.app is None:
            log.warning("%s ignored: no model loaded yet", cmd.name)
            return False
        self.app.submit(cmd)
        return True

    def trigger(self, action_id: str, value: Any = None) -> bool:
        """Run a named action as the UI."""
        if self.app is None:
            log.warning("%s ignored: no model loaded yet", action_id)
            return False
        return bool(self.app.trigger(action_id, value, source="ui"))

    def send_prompt(self, text: str, transition: str, blend_blocks: int) -> bool:
        """The prompt bar's Enter: set the transition settings, then the prompt (one SetPrompt)."""
        text = text.strip()
        if not text:
            return False
        self.trigger("transition.set", transition)
        self.trigger("blend.blocks", blend_blocks)
        return self.trigger("prompt.set", text)

    def state(self) -> dict[str, Any]:
        """The router's merged state (engine status + perform settings + cue player)."""
        if self.app is None:
            return {}
        try:
            return self.app.router.state()
        except Exception:
            log.exception("router.state() failed")
            return {}

    # ------------------------------------------------------------------ GUI-timer work
    def take_ui_actions(self) -> list[tuple[str, Any]]:
        out = []
        while self._ui_actions:
            out.append(self._ui_actions.popleft())
        return out

    def set_source(self, source: Optional[Source]) -> bool:
        """Attach a v2v source (an ``sfe_live.sources`` object) or None."""
        if self.app is None:
            log.warning("v2v source ignored: no model loaded yet")
            return False
        try:
            self.app.set_v2v_source(source)
        except Exception as exc:
            log.error("v2v source not attached: %s", exc)
            return False
        return True


class ModelLoader:
    """``App(settings).load(progress)`` on a plain thread; the GUI polls :meth:`poll`.

    The new model is validated and loaded *before* the running one is touched: only when it is
    ready is ``previous`` stopped (here, off the GUI thread: stopping may wait for a block). When
    loading fails, ``previous`` runs on untouched and ``error`` says why. Both models are in
    memory for a moment, so a card that cannot hold two refuses the new one and the show goes on.
    """

    def __init__(self, settings: AppSettings, factory: Callable[[AppSettings], App] = App,
                 previous: Optional[App] = None) -> None:
        self.settings = settings
        self.previous = previous
        self._factory = factory
        self._lock = threading.Lock()
        self.fraction = 0.0
        self.text = "starting"
        self.app: Optional[App] = None
        self.error = ""
        self.done = False
        self.cancelled = False
        self._thread = threading.Thread(target=self._run, name="sfe-load", daemon=True)

    def start(self) -> "ModelLoader":
        self._thread.start()
        return self

    def _progress(self, fraction: float, text: str) -> None:
        with self._lock:
            self.fraction, self.text = float(fraction), str(text)

    def _run(self) -> None:
        try:
            app = self._factory(dataclasses.replace(self.settings))
            app.load(self._progress)
        except Exception as exc:
            log.error("model %r not loaded: %s", self.settings.model or "(default)", exc)
            log.debug("model load failure", exc_info=True)
            with self._lock:
                self.error = f"{type(exc).__name__}: {exc}"
                self.done = True
            return
        if self.previous is not None:
            self._progress(0.95, "stopping the previous model")
            try:
                self.previous.stop()
            except Exception:
                log.exception("stopping the previous app failed")
            self.previous = None
        with self._lock:
            self.app = app
            self.done = True

    def poll(self) -> tuple[float, str, bool]:
        with self._lock:
            return self.fraction, self.text, self.done

    def join(self, timeout: Optional[float] = None) -> None:
        self._thread.join(timeout)
