"""The runtime half of bindings: normalised input events → ``router.trigger``, and learn.

Inputs hand :class:`BindingDriver` events on a :class:`~sfe_live.controls.bindings.Binding`:
``level`` (an absolute control at 0..1), ``press`` (a button/key/note down or up) and ``delta``
(relative encoder ticks). It keeps per-binding state (button edges, toggles, soft takeover
pickup, cooldowns). :class:`Learner` is MIDI/OSC/key learn: arm an action, the next control
that moves is bound to it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Optional

from .actions import CONTINUOUS, TOGGLE, ActionRegistry, ActionSpec, ActionValueError
from .bindings import Binding
from .router import ActionRouter

log = logging.getLogger(__name__)


@dataclass
class _Runtime:
    down: bool = False
    on: bool = False
    sent: Any = None
    prev: Optional[float] = None
    picked: bool = False
    last_time: float = -1e9


class BindingDriver:
    """Turns normalised input events on bindings into ``router.trigger`` calls.

    Keeps per-binding state: button edges, toggle state, soft takeover pickup, cooldowns.
    ``waiting`` lists bindings held back by soft takeover (for a UI "pick up" hint).
    """

    def __init__(self, router: ActionRouter, source: str, clock: Callable[[], float] = time.monotonic,
                 tolerance: float = 0.03) -> None:
        self.router = router
        self.source = source
        self.clock = clock
        self.tolerance = tolerance
        self._rt: dict[int, tuple[Binding, _Runtime]] = {}
        self._lock = threading.Lock()

    def _state(self, b: Binding) -> _Runtime:
        with self._lock:
            entry = self._rt.get(id(b))
            if entry is None or entry[0] is not b:
                entry = (b, _Runtime())
                self._rt[id(b)] = entry
            return entry[1]

    def reset(self) -> None:
        with self._lock:
            self._rt.clear()

    @property
    def waiting(self) -> list[Binding]:
        with self._lock:
            return [b for b, rt in self._rt.values() if rt.prev is not None and not rt.picked]

    # -- events
    def press(self, b: Binding, down: bool) -> None:
        """A button/key/note went down or up."""
        spec = self.router.spec(b.action)
        mode = b.resolved_mode(spec, "button")
        if mode in ("absolute", "relative"):
            mode = "trigger"
        rt = self._state(b)
        if down == rt.down and mode != "trigger":
            return
        rt.down = down
        self._edge(b, spec, mode, down, rt)

    def level(self, b: Binding, x01: float) -> None:
        """An absolute control moved to ``x01`` (0..1): knob, fader, OSC float, audio feature."""
        spec = self.router.spec(b.action)
        mode = b.resolved_mode(spec, "level")
        rt = self._state(b)
        if mode in ("trigger", "toggle", "momentary", "step"):
            down = x01 >= b.threshold
            if down != rt.down:
                rt.down = down
                self._edge(b, spec, mode, down, rt)
            return
        if mode == "relative":  # a 64-centred relative encoder reports 0..1 of 0..127
            self.delta(b, int(round(x01 * 127)) - 64)
            return
        self._absolute(b, spec, b.shape(x01, spec), rt)

    def delta(self, b: Binding, ticks: int) -> None:
        """A relative encoder turned by ``ticks`` (positive = clockwise)."""
        if not ticks:
            return
        spec = self.router.spec(b.action)
        lo, hi = b.out_range(spec)
        step = b.step if b.step is not None else (1.0 if spec.arg in ("int", "enum") else (hi - lo) / 127.0)
        cur = _as_float(self.router.current(b.action), lo)
        value = min(max(cur + ticks * step, min(lo, hi)), max(lo, hi))
        self._send(b, spec, value, self._state(b))

    # -- internals
    def _edge(self, b: Binding, spec: ActionSpec, mode: str, down: bool, rt: _Runtime) -> None:
        lo, hi = b.out_range(spec)
        if mode == "trigger":
            if down:
                value = b.value
                if value is None and spec.kind == CONTINUOUS:
                    value = hi
                self._fire(b, value, rt)
        elif mode == "toggle":
            if not down:
                return
            if spec.kind == TOGGLE:
                self._fire(b, None, rt)
            elif spec.kind == CONTINUOUS:
                rt.on = not rt.on
                self._fire(b, hi if rt.on else lo, rt)
            else:
                self._fire(b, b.value, rt)
        elif mode == "momentary":
            if spec.kind == TOGGLE:
                self._fire(b, down, rt)
            elif spec.kind == CONTINUOUS:
                self._fire(b, hi if down else lo, rt)
            elif down:
                self._fire(b, b.value, rt)
        elif mode == "step":
            if down:
                amount = b.value if isinstance(b.value, (int, float)) else (b.step or 1)
                cur = _as_float(self.router.current(b.action), lo)
                self._fire(b, min(max(cur + float(amount), min(lo, hi)), max(lo, hi)), rt)
        elif mode == "absolute":
            if down:
                self._fire(b, b.value if b.value is not None else hi, rt)

    def _absolute(self, b: Binding, spec: ActionSpec, value: float, rt: _Runtime) -> None:
        if b.takeover == "soft" and spec.state is not None and spec.numeric:
            cur = self.router.current(b.action)
            if isinstance(cur, (int, float)) and not isinstance(cur, bool):
                lo, hi = b.out_range(spec)
                tol = max(self.tolerance * abs(hi - lo), 0.5 if spec.arg == "int" else 1e-9)
                if rt.sent is None or abs(float(cur) - float(rt.sent)) > tol:
                    rt.picked = False  # first contact, or moved by another input since
                if not rt.picked:
                    crossed = rt.prev is not None and (rt.prev - cur) * (value - cur) <= 0
                    if abs(value - cur) <= tol or crossed:
                        rt.picked = True
                    else:
                        rt.prev = value
                        return
                rt.prev = value
        self._send(b, spec, value, rt)

    def _send(self, b: Binding, spec: ActionSpec, value: float, rt: _Runtime) -> None:
        try:
            v = spec.coerce(value)
        except ActionValueError:
            return
        if v == rt.sent and spec.kind == CONTINUOUS and v == self.router.current(b.action):
            return  # an integer/enum knob inside one step: nothing changed
        self._fire(b, v, rt)

    def _fire(self, b: Binding, value: Any, rt: _Runtime) -> None:
        now = self.clock()
        if b.cooldown and now - rt.last_time < b.cooldown:
            return
        rt.last_time = now
        spec = self.router.spec(b.action)
        try:
            rt.sent = spec.coerce(value)
        except ActionValueError:
            rt.sent = value
        self.router.trigger(b.action, value, source=self.source)


def _as_float(v: Any, default: float) -> float:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return default


# ---------------------------------------------------------------------- learn
@dataclass
class _Armed:
    action: str
    value: Any
    sources: Optional[tuple[str, ...]]
    callback: Optional[Callable[[Binding], None]]


class Learner:
    """MIDI/OSC/key learn: ``arm("memory.set")``, move a control, the binding is made.

    Inputs call :meth:`offer` with a factory for the binding the event would make and the step that
    installs it; the first offer from an accepted source while armed wins. The learner reads as armed
    until the binding is installed, so a reader that sees it disarmed also sees the binding.
    """

    def __init__(self, registry: ActionRegistry) -> None:
        self.registry = registry
        self._armed: Optional[_Armed] = None
        self._claimed = False          # an offer won and is installing its binding
        self._lock = threading.Lock()
        self.last: Optional[Binding] = None

    def arm(self, action_id: str, value: Any = None, sources: Optional[Iterable[str]] = None,
            on_learned: Optional[Callable[[Binding], None]] = None) -> None:
        self.registry.get(action_id)  # UnknownActionError lists the valid ids
        with self._lock:
            self._armed = _Armed(action_id, value, None if sources is None else tuple(sources), on_learned)
            self._claimed = False

    def cancel(self) -> None:
        with self._lock:
            if not self._claimed:
                self._armed = None

    @property
    def armed(self) -> Optional[str]:
        a = self._armed
        return None if a is None else a.action

    def offer(self, source: str, make: Callable[[str, Any], Binding],
              install: Callable[[Binding], None]) -> Optional[Binding]:
        """Bind the armed action with ``make`` and ``install`` it; None when not armed for ``source``."""
        with self._lock:
            a = self._armed
            if a is None or self._claimed or (a.sources is not None and source not in a.sources):
                return None
            self._claimed = True
        try:
            b = make(a.action, a.value)
            if a.value is not None and b.value is None:
                b = replace(b, value=a.value)
            install(b)
            self.last = b
        finally:
            with self._lock:
                if self._armed is a:
                    self._armed = None
                self._claimed = False
        log.info("learned %s → %s", b.describe(), b.action)
        if a.callback is not None:
            try:
                a.callback(b)
            except Exception:
                log.exception("learn callback failed")
        return b
