"""The action router: the one door every input goes through.

``router.trigger("purge", 2, source="midi")`` validates the action id and the value, turns
engine actions into ``Command`` objects for ``submit`` and calls app handlers for the rest
(``router.register_handler("record.toggle", fn)``). It also keeps the little state that
belongs to performing rather than to the engine (the prompt transition, app toggles, the last
value every action was given) and merges it with the engine's ``status()`` snapshot into one
flat mapping that feedback (LEDs, OSC replies, the UI) reads.

Thread-safe: MIDI callbacks, the OSC thread, the audio thread and the UI call ``trigger``
concurrently. Handlers and ``submit`` run on the caller's thread, outside the router's lock.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from sfe_live.engine.commands import Command
from sfe_live.ratelog import RateLimitedLog

from .actions import (DEFAULT_REGISTRY, TOGGLE, ActionRegistry, ActionSpec, ActionValueError,
                      Perform, UnknownActionError)

if TYPE_CHECKING:   # the engine's runner pulls torch: controls import it for typing only
    from sfe_live.engine.runner import EngineStatus

log = logging.getLogger(__name__)

Submit = Callable[[Command], None]
StatusFn = Callable[[], "EngineStatus | Mapping[str, Any]"]   # the runner's status (a mapping in tests)
Handler = Callable[[Any], None]
Listener = Callable[[str, Any, str], None]

STATE_ALIASES = {"strength": "reactivity"}
"""``/sfe/get/strength`` = the purge strength a purge without argument uses."""


def as_mapping(obj: "EngineStatus | Mapping[str, Any]") -> dict[str, Any]:
    """A status snapshot as a plain dict (the runner's ``EngineStatus``, or a mapping)."""
    if isinstance(obj, Mapping):
        return dict(obj)
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


class ActionRouter:
    """Routes named actions to engine commands and app handlers."""

    def __init__(self, submit: Submit, status: Optional[StatusFn] = None,
                 registry: ActionRegistry = DEFAULT_REGISTRY, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.registry = registry
        self._submit = submit
        self._status = status or (lambda: {})
        self._clock = clock
        self._lock = threading.RLock()
        self._handlers: dict[str, Handler] = {}
        self._providers: dict[str, Callable[[], Mapping[str, Any]]] = {}
        self._listeners: list[Listener] = []
        self._perform = Perform()
        self._last: dict[str, Any] = {}          # action id -> last coerced value sent
        self._local: dict[str, Any] = {}         # state name -> value (app toggles, settings)
        self._fired: dict[str, tuple[float, Any]] = {}  # action id -> (monotonic time, value) of last run
        self._warned: set[str] = set()
        self.counts: dict[str, int] = {}         # source -> actions routed
        self.errors = 0
        self._ratelog = RateLimitedLog(log)

    # ------------------------------------------------------------------ wiring
    def register_handler(self, action_id: str, fn: Handler) -> None:
        """Handle ``action_id`` with ``fn(value)`` instead of (or where there is no) engine command."""
        self.registry.get(action_id)  # raises UnknownActionError
        with self._lock:
            self._handlers[action_id] = fn

    def unregister_handler(self, action_id: str) -> None:
        with self._lock:
            self._handlers.pop(action_id, None)

    def add_state_provider(self, name: str, fn: Callable[[], Mapping[str, Any]]) -> None:
        """Merge ``fn()`` into :meth:`state` (the cue player, the tempo clock, the app)."""
        with self._lock:
            self._providers[name] = fn

    def add_listener(self, fn: Listener) -> None:
        """``fn(action_id, value, source)`` after every routed action (feedback, logs)."""
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def set_local(self, name: str, value: Any) -> None:
        """Let the app report the state of something it owns (e.g. ``recording``)."""
        with self._lock:
            self._local[name] = value

    # ------------------------------------------------------------------ routing
    def trigger(self, action_id: str, value: Any = None, source: str = "api") -> bool:
        """Run an action. Returns False when the value was unusable or nothing handled it.

        Raises :class:`UnknownActionError` for an unknown id (inputs validate ids on load).
        """
        spec = self.registry.get(action_id)
        try:
            v = spec.coerce(value)
        except ActionValueError as e:
            self.errors += 1
            self._ratelog(f"value:{source}", "%s from %s ignored: %s", action_id, source, e)
            return False
        if spec.kind == TOGGLE and v is None and not (spec.engine_toggle and spec.command
                                                       and action_id not in self._handlers):
            v = not bool(self.current(action_id))
        handler = self._handlers.get(action_id)
        with self._lock:
            if spec.setting is not None:
                self._perform = dataclasses.replace(self._perform, **{spec.setting: v})
            if v is not None:
                self._last[action_id] = v
                if spec.state is not None and (spec.kind == TOGGLE or spec.setting or spec.group != "engine"):
                    self._local[spec.state] = v
            self._fired[action_id] = (self._clock(), v)
            self.counts[source] = self.counts.get(source, 0) + 1
            perform = self._perform
            listeners = list(self._listeners)
        ok = True
        try:
            if handler is not None:
                handler(v)
            elif spec.command is not None:
                cmd = spec.command(v, perform)
                if cmd is not None:
                    self._submit(cmd)
            elif spec.setting is None:
                ok = False
                if action_id not in self._warned:
                    self._warned.add(action_id)
                    log.warning("no handler registered for action %s (from %s)", action_id, source)
        except ValueError as e:  # a command refused its value (commands validate themselves)
            self.errors += 1
            ok = False
            log.warning("%s from %s ignored: %s", action_id, source, e)
        except Exception:  # a handler must never take an input thread down
            self.errors += 1
            ok = False
            self._ratelog(f"failed:{action_id}", "action %s from %s failed", action_id, source,
                          level=logging.ERROR, exc_info=True)
        for fn in listeners:
            try:
                fn(action_id, v, source)
            except Exception:
                log.exception("action listener failed")
        return ok

    def try_trigger(self, action_id: str, value: Any = None, source: str = "api") -> bool:
        """Like :meth:`trigger` but an unknown id is logged instead of raised."""
        try:
            return self.trigger(action_id, value, source)
        except UnknownActionError as e:
            self.errors += 1
            self._ratelog(f"unknown:{source}", "%s (from %s)", e, source)
            return False

    # ------------------------------------------------------------------ state
    @property
    def perform(self) -> Perform:
        return self._perform

    def spec(self, action_id: str) -> ActionSpec:
        return self.registry.get(action_id)

    def last_fired(self, action_id: str) -> tuple[float, Any]:
        """(monotonic time, value) of the action's last run; (0.0, None) = never."""
        return self._fired.get(action_id, (0.0, None))

    def status(self) -> dict[str, Any]:
        """The engine's snapshot as a dict; an exception there reads as an empty snapshot."""
        try:
            return as_mapping(self._status())
        except Exception:
            log.exception("status() failed")
            return {}

    def current(self, action_id: str) -> Any:
        """The value an action is at now: the last value routed, else the state, else the default.

        Soft takeover and relative encoders use this; because every input goes through the
        router it does not lag behind the engine like ``status()`` does.
        """
        spec = self.registry.get(action_id)
        if spec.kind == TOGGLE and spec.state is not None:  # toggles: the state is the truth
            st = self.state()
            if spec.state in st:
                return bool(st[spec.state])
        with self._lock:
            if action_id in self._last:
                return self._last[action_id]
        if spec.state is not None:
            st = self.state()
            if spec.state in st:
                return st[spec.state]
        return spec.default

    def state(self) -> dict[str, Any]:
        """Engine status + router settings + providers (cue player, tempo) as one flat dict."""
        with self._lock:
            providers = list(self._providers.values())
            local = dict(self._local)
            p = self._perform
        out: dict[str, Any] = {"transition": p.transition, "blend_blocks": p.blend_blocks,
                               "blend_mode": p.blend_mode}
        out.update(local)
        out.update(self.status())
        for fn in providers:
            try:
                out.update(fn())
            except Exception:
                log.exception("state provider failed")
        for alias, name in STATE_ALIASES.items():
            if alias not in out and name in out:
                out[alias] = out[name]
        return out

    def get(self, name: str, default: Any = None) -> Any:
        return self.state().get(name, default)
