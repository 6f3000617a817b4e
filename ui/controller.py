"""The window's handle on the core: named actions, commands, the cue player, the key map, loading.

Panels never hold the ``App``; they call :class:`Controller`, which

* routes UI gestures through ``app.trigger(action_id, value, source="ui")`` so MIDI, OSC and
  the UI share one state (soft takeover, ``/sfe/get``), falling back to building the engine
  command from the action registry when the app has no router;
* owns a :class:`~sfe_live.show.cues.CuePlayer` when the app brings none (registering
  ``cue.go`` / ``cue.next`` / ``cue.prev`` on the router so keys and OSC reach it) and ticks
  it for auto-advance;
* builds the :class:`~sfe_live.controls.keys.KeyMap` (from ``keys.toml`` when present);
* queues app-level actions that must touch Qt (``output.fullscreen``) for the GUI timer to run,
  because router handlers may run on MIDI/OSC threads.

:class:`ModelLoader` loads an ``App`` on a plain thread; the GUI polls its progress.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
from pathlib import Path
from typing import Any, Callable, Optional

from sfe_live.app import App, AppSettings
from sfe_live.engine import commands as C
from sfe_live.show.cues import CuePlayer

log = logging.getLogger(__name__)

UI_QUEUED_ACTIONS = ("output.fullscreen",)


class Controller:
    """One per window; re-attached when a new model (a new ``App``) is loaded."""

    def __init__(self) -> None:
        self.app: Optional[App] = None
        self.cues: Optional[CuePlayer] = None
        self.own_cues = False
        self.keymap: Any = None
        self._keys_at_attach: dict[str, Any] = {}
        self._ui_actions: collections.deque[tuple[str, Any]] = collections.deque()

    # ------------------------------------------------------------------ wiring
    def attach(self, app: App, keys_path: Optional[Path] = None) -> None:
        """Wire a loaded app: its cue player (``app.hub.cues``) and key map (``app.hub.keys``), or our
        own when the app has no control hub; UI-side handlers for actions that need Qt."""
        self.app = app
        hub = getattr(app, "hub", None)
        player = getattr(hub, "cues", None) or getattr(app, "cues", None)
        if isinstance(player, CuePlayer):
            self.cues, self.own_cues = player, False
        else:
            self.cues = CuePlayer(self.submit, block=self._block_index)
            self.own_cues = True
            app.cues = self.cues
            self._register("cue.go", lambda v: self.cues.go(int(v)) if self.cues and v is not None else None)
            self._register("cue.next", lambda v: self.cues.next() if self.cues else None)
            self._register("cue.prev", lambda v: self.cues.prev() if self.cues else None)
        for action in UI_QUEUED_ACTIONS:
            self._register(action, lambda v, a=action: self._ui_actions.append((a, v)))
        keys = getattr(hub, "keys", None)
        self.keymap = keys if keys is not None else self._build_keymap(keys_path)
        self._keys_at_attach = self._key_table()

    def detach(self) -> None:
        self.app = None
        self.keymap = None

    def _key_table(self) -> dict[str, Any]:
        return {} if self.keymap is None else {b.key: b for b in self.keymap.bindings()}

    def save_keys(self, keys_path: Path) -> None:
        """Persist changed key bindings: through the hub (``bindings.toml``) or, without one, ``keys_path``."""
        if self.keymap is None:
            return
        hub = getattr(self.app, "hub", None)
        if hub is not None:
            if self._key_table() != self._keys_at_attach:
                path = hub.save_bindings()
                log.info("key bindings saved to %s", path)
            return
        from sfe_live.controls.keys import default_key_bindings
        changed = self._key_table() != {b.key: b for b in default_key_bindings()}
        if changed or keys_path.exists():   # written once it differs, so new defaults still reach users
            keys_path.parent.mkdir(parents=True, exist_ok=True)
            self.keymap.save(keys_path)

    def set_state(self, name: str, value: Any) -> None:
        """Report UI-owned state (``fullscreen``) for controller LEDs and ``/sfe/get``."""
        hub = getattr(self.app, "hub", None)
        router = getattr(self.app, "router", None)
        try:
            if hub is not None:
                hub.set_state(name, value)
            elif router is not None:
                router.set_local(name, value)
        except Exception:
            log.exception("set_state %s failed", name)

    def _register(self, action: str, fn: Callable[[Any], Any]) -> None:
        router = getattr(self.app, "router", None)
        if router is None:
            return
        try:
            router.register_handler(action, fn)
        except Exception as exc:
            log.debug("could not register %s: %s", action, exc)

    def _build_keymap(self, keys_path: Optional[Path]) -> Any:
        router = getattr(self.app, "router", None)
        if router is None:
            return None
        from sfe_live.controls.keys import KeyMap
        km = KeyMap(router)
        if keys_path is not None and keys_path.exists():
            try:
                km.load(keys_path)
                log.info("key map loaded from %s", keys_path)
            except Exception as exc:
                log.error("key map %s not loaded (%s); using the defaults", keys_path, exc)
        return km

    def _block_index(self) -> Optional[int]:
        if self.app is None or self.app.runner is None:
            return None
        return int(self.app.runner.status().block)

    # ------------------------------------------------------------------ sending
    @property
    def ready(self) -> bool:
        return self.app is not None and self.app.runner is not None

    def submit(self, cmd: C.Command) -> bool:
        if not self.ready:
            log.warning("%s ignored: no model loaded yet", cmd.name)
            return False
        assert self.app is not None
        self.app.submit(cmd)
        return True

    def trigger(self, action_id: str, value: Any = None) -> bool:
        """Run a named action as the UI; without a router, build its engine command directly."""
        if not self.ready:
            log.warning("%s ignored: no model loaded yet", action_id)
            return False
        assert self.app is not None
        if getattr(self.app, "router", None) is not None:
            return bool(self.app.trigger(action_id, value, source="ui"))
        from sfe_live.controls.actions import DEFAULT_REGISTRY, Perform
        spec = DEFAULT_REGISTRY.get(action_id)
        if spec.command is None:
            return False
        cmd = spec.command(spec.coerce(value), Perform())
        return self.submit(cmd) if cmd is not None else False

    def send_prompt(self, text: str, transition: str, blend_blocks: int) -> bool:
        """The prompt bar's Enter: set the transition settings, then the prompt (one SetPrompt)."""
        text = text.strip()
        if not text:
            return False
        if getattr(self.app, "router", None) is not None:
            self.trigger("transition.set", transition)
            self.trigger("blend.blocks", blend_blocks)
            return self.trigger("prompt.set", text)
        return self.submit(C.SetPrompt(text=text, transition=transition, blend_blocks=blend_blocks))

    def state(self) -> dict[str, Any]:
        """The router's merged state (engine status + perform settings + cue player)."""
        router = getattr(self.app, "router", None)
        if router is None:
            return {}
        try:
            return router.state()
        except Exception:
            log.exception("router.state() failed")
            return {}

    # ------------------------------------------------------------------ GUI-timer work
    def take_ui_actions(self) -> list[tuple[str, Any]]:
        out = []
        while self._ui_actions:
            out.append(self._ui_actions.popleft())
        return out

    def tick(self) -> None:
        """Called by the GUI timer: auto-advance of the cue list when the app has no hub doing it."""
        if self.own_cues and self.cues is not None and getattr(self.app, "hub", None) is None:
            try:
                self.cues.tick()
            except Exception:
                log.exception("cue tick failed")

    def set_source(self, source: Any) -> bool:
        """Attach a v2v source (an ``sfe_live.sources`` object) or None."""
        fn = getattr(self.app, "set_v2v_source", None) or getattr(self.app, "set_source", None)
        if fn is None:
            log.error("video-to-video sources are not wired in this version of the core")
            return False
        try:
            fn(source)
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
