"""Hotkeys as data, without Qt.

Keys are strings: modifiers in the order ``Ctrl+Alt+Shift+Meta`` then a key name in Qt's
spelling without ``Key_`` (``"1"``, ``"P"``, ``"Space"``, ``"Left"``, ``"F11"``,
``"BracketLeft"``). :func:`normalize_key` accepts loose spellings (``"Key_1"``, ``"ctrl+p"``).
A release belongs to the key, not to the chord: people let go of Ctrl before R, so the
release arrives as a bare ``"R"``; :class:`KeyMap` remembers which binding each key pressed and
releases that one, whatever modifiers are still down.
The UI turns a QKeyEvent into such a name and calls :meth:`KeyMap.handle`; the key map goes
through the same bindings path (:class:`~sfe_live.controls.bindings.BindingDriver`) as MIDI
and OSC. Key maps load from and save to TOML (``[[key]]`` tables).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Iterable, Optional, Union


from sfe_live.io import load_toml, save_toml

from .actions import ActionRegistry
from .bindings import Binding, binding_to_table, parse_tables
from .driver import BindingDriver, Learner
from .router import ActionRouter

log = logging.getLogger(__name__)

MODIFIERS = ("Ctrl", "Alt", "Shift", "Meta")
_MOD_ALIASES = {"ctrl": "Ctrl", "control": "Ctrl", "alt": "Alt", "option": "Alt", "opt": "Alt",
                "shift": "Shift", "meta": "Meta", "cmd": "Meta", "command": "Meta", "super": "Meta",
                "win": "Meta"}
_NAMED = ["Space", "Tab", "Backtab", "Return", "Enter", "Escape", "Backspace", "Delete", "Insert", "Home",
          "End", "PageUp", "PageDown", "Left", "Right", "Up", "Down", "Plus", "Minus", "Equal", "Comma",
          "Period", "Slash", "Backslash", "Semicolon", "Apostrophe", "QuoteLeft", "BracketLeft",
          "BracketRight", "Asterisk", "Pause", "Print", "CapsLock", "NumLock", "ScrollLock", "Menu"]
_NAMED += [f"F{i}" for i in range(1, 36)]
_BY_LOWER = {n.lower(): n for n in _NAMED}
_BY_LOWER.update({"esc": "Escape", "del": "Delete", "pgup": "PageUp", "pgdown": "PageDown",
                  "arrowleft": "Left", "arrowright": "Right", "arrowup": "Up", "arrowdown": "Down",
                  " ": "Space", "+": "Plus", "-": "Minus", "=": "Equal", ",": "Comma", ".": "Period",
                  "/": "Slash", "\\": "Backslash", ";": "Semicolon", "'": "Apostrophe", "`": "QuoteLeft",
                  "[": "BracketLeft", "]": "BracketRight", "*": "Asterisk"})


def normalize_key(name: str) -> str:
    """Canonical key string: ``"ctrl+shift+key_p"`` → ``"Ctrl+Shift+P"``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("empty key name")
    raw = name.strip()
    parts = [raw] if raw in ("+", " ") else [p for p in raw.split("+")]
    if raw.endswith("++"):  # "Ctrl++" = Ctrl + Plus
        parts = parts[:-2] + ["+"]
    *mods, key = [p.strip() if p.strip() else p for p in parts]
    canon_mods = set()
    for m in mods:
        cm = _MOD_ALIASES.get(m.lower())
        if cm is None:
            raise ValueError(f"unknown modifier {m!r} in key {name!r}; use {', '.join(MODIFIERS)}")
        canon_mods.add(cm)
    if key.startswith("Key_") or key.startswith("key_"):
        key = key[4:]
    if not key:
        raise ValueError(f"no key in {name!r}")
    if len(key) == 1 and key not in _BY_LOWER:
        key = key.upper()
    else:
        key = _BY_LOWER.get(key.lower(), key)
    return "+".join([m for m in MODIFIERS if m in canon_mods] + [key])


def _base(key: str) -> Optional[str]:
    """The key of a key name without its modifiers (``"Ctrl+Shift+R"`` -> ``"R"``); None if invalid."""
    try:
        return normalize_key(key).rsplit("+", 1)[-1]   # "Ctrl+Plus" -> "Plus": the key is spelled out
    except ValueError:
        return None


def _k(key: str, action: str, value: Any = None, mode: str = "auto") -> Binding:
    return Binding(action=action, source="key", key=normalize_key(key), value=value, mode=mode)


def default_key_bindings() -> list[Binding]:
    """The shipped key map (see docs/controls.md)."""
    b = [_k(str(i), "cue.go", i) for i in range(1, 10)]
    b += [
        _k("Right", "cue.next"), _k("Left", "cue.prev"),
        _k("P", "purge"), _k("Shift+P", "purge", 3),
        _k("Up", "reactivity.set", 1, "step"), _k("Down", "reactivity.set", -1, "step"),
        _k("BracketRight", "memory.set", 0.1, "step"), _k("BracketLeft", "memory.set", -0.1, "step"),
        _k("Tab", "tempo.tap"), _k("Shift+Tab", "tempo.sync"),
        _k("Space", "pause.toggle"),
        _k("N", "seed.new"), _k("L", "seed.lock"), _k("C", "recache"),
        _k("Ctrl+1", "transition.set", "cut"), _k("Ctrl+2", "transition.set", "purge"),
        _k("Ctrl+3", "transition.set", "blend"), _k("Ctrl+4", "transition.set", "recache"),
        _k("Ctrl+R", "record.toggle"), _k("Ctrl+Shift+V", "vcam.toggle"), _k("F11", "output.fullscreen"),
        _k("B", "blackout"), _k("F", "freeze"), _k("Ctrl+Shift+R", "reset"),
    ]
    return b


def load_key_bindings(path: Union[str, Path], registry: ActionRegistry) -> list[Binding]:
    data, text = load_toml(path)
    return parse_tables(data, "key", registry, path, text)


def save_key_bindings(path: Union[str, Path], bindings: Iterable[Binding]) -> None:
    tables = [binding_to_table(b) for b in bindings]
    save_toml(path, {"schema": 1, "key": tables}, header="sfe-live key map")


class KeyMap:
    """Key name → binding; :meth:`handle` is what the UI calls for key presses and releases."""

    def __init__(self, router: ActionRouter, bindings: Optional[Iterable[Binding]] = None,
                 learner: Optional[Learner] = None) -> None:
        self.router = router
        self.driver = BindingDriver(router, "key")
        self.learner = learner
        self._lock = threading.Lock()
        self._map: dict[str, Binding] = {}
        self._held: dict[str, Binding] = {}   # base key ("R") -> the binding its press drove
        self.set_bindings(default_key_bindings() if bindings is None else bindings)

    def set_bindings(self, bindings: Iterable[Binding]) -> None:
        m = {}
        for b in bindings:
            if b.source != "key" or not b.key:
                raise ValueError(f"not a key binding: {b}")
            self.router.spec(b.action)
            m[b.key] = b
        with self._lock:
            self._map = m
            self._held.clear()
        self.driver.reset()

    def bindings(self) -> list[Binding]:
        with self._lock:
            return list(self._map.values())

    def bind(self, key: str, action: str, value: Any = None, mode: str = "auto") -> Binding:
        self.router.spec(action)
        b = Binding(action=action, source="key", key=normalize_key(key), value=value, mode=mode)
        with self._lock:
            self._map[b.key] = b  # type: ignore[index]
        return b

    def unbind(self, key: str) -> None:
        with self._lock:
            self._map.pop(normalize_key(key), None)

    def lookup(self, key: str) -> Optional[Binding]:
        try:
            k = normalize_key(key)
        except ValueError:
            return None
        with self._lock:
            return self._map.get(k)

    def _install_learned(self, b: Binding) -> None:
        assert b.key is not None
        with self._lock:
            self._map[b.key] = b

    def handle(self, key: str, pressed: bool = True, repeat: bool = False) -> bool:
        """A key went down (``pressed``) or up. Auto-repeats are ignored. True if it was bound."""
        if repeat:
            return self.lookup(key) is not None
        if self.learner is not None and pressed and self.learner.armed:
            k = normalize_key(key)
            learned = self.learner.offer("key", lambda a, v: Binding(action=a, source="key", key=k, value=v),
                                         self._install_learned)
            if learned is not None:
                return True
        base = _base(key)
        if not pressed:
            with self._lock:
                held = self._held.pop(base, None) if base is not None else None
            if held is not None:
                self.driver.press(held, False)
                return True
            return self.lookup(key) is not None
        b = self.lookup(key)
        if b is None:
            return False
        with self._lock:
            other = self._held.pop(base, None) if base is not None else None
            if base is not None:
                self._held[base] = b
        if other is not None and other is not b:   # a lost release: let the old binding go first
            self.driver.press(other, False)
        self.driver.press(b, True)
        return True

    def holding(self, key: str) -> bool:
        """Whether a press of this key (with any modifiers) is waiting for its release."""
        base = _base(key)
        with self._lock:
            return base is not None and base in self._held

    def release_all(self) -> None:
        """Release every held key (the window lost focus, so the releases will not come)."""
        with self._lock:
            held = list(self._held.values())
            self._held.clear()
        for b in held:
            self.driver.press(b, False)

    def load(self, path: Union[str, Path]) -> None:
        self.set_bindings(load_key_bindings(path, self.router.registry))

    def save(self, path: Union[str, Path]) -> None:
        save_key_bindings(path, self.bindings())
