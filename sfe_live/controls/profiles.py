"""MIDI controller profiles: a controller's bindings and LED feedback, kept apart from cue lists.

A profile file (``presets/controllers/*.toml``)::

    schema = 1
    [profile]
    name = "Korg nanoKONTROL2"
    port = "nanoKONTROL2"       # part of the port name the profile applies to ("" = any port)
    notes = "..."
    init = [[0xF0, 0x47, ...]]  # optional raw messages sent when the output port opens

    [[midi]]
    action = "memory.set"
    cc = 0
    channel = 1

``count`` expands a row (``note = 56, count = 8, value = 1`` → notes 56..63 firing cues 1..8).
Learned bindings are saved as a profile too (``user.toml`` in the user's controllers folder).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from sfe_live.io import key_line, load_toml, save_toml
from sfe_live.show.presets import list_profiles, resolve

from .actions import ActionRegistry
from .bindings import Binding, BindingError, binding_to_table, parse_tables

SCHEMA = 1
_ALSA_SUFFIX = re.compile(r"\s+\d+:\d+$")


def port_key(name: str) -> str:
    """A port name without the ALSA ``client:port`` numbers that change on every replug."""
    return _ALSA_SUFFIX.sub("", name or "").strip()


@dataclass(frozen=True)
class Profile:
    name: str
    bindings: tuple[Binding, ...]
    port: str = ""
    notes: str = ""
    init: tuple[tuple[int, ...], ...] = ()
    path: Optional[str] = field(default=None, compare=False)

    def matches(self, port_name: str) -> bool:
        """Whether this profile applies to a port (case-insensitive substring; "" = every port)."""
        return not self.port or self.port.lower() in port_key(port_name).lower()


def parse_profile(data: dict[str, Any], registry: ActionRegistry, path: Any = None, text: str = "") -> Profile:
    def err(msg: str, key: Optional[str] = None) -> BindingError:
        return BindingError(msg, path, key_line(text, None, key) if (text and key) else None)

    unknown = sorted(set(data) - {"schema", "profile", "midi"})
    if unknown:
        raise err(f"unknown top-level field(s) {', '.join(unknown)}; valid: midi, profile, schema", unknown[0])
    if data.get("schema", SCHEMA) != SCHEMA:
        raise err(f"schema {data.get('schema')!r} is not supported (this version reads {SCHEMA})", "schema")
    head = data.get("profile", {})
    if not isinstance(head, dict):
        raise err("[profile] must be a table", "profile")
    bad = sorted(set(head) - {"name", "port", "notes", "init"})
    if bad:
        raise err(f"unknown [profile] field(s) {', '.join(bad)}; valid: init, name, notes, port")
    init: list[tuple[int, ...]] = []
    for msg in head.get("init", []):
        if not isinstance(msg, list) or not all(isinstance(b, int) and 0 <= b <= 255 for b in msg) or not msg:
            raise err("init must be a list of byte lists like [[0xF0, 0x47, 0xF7]]")
        init.append(tuple(msg))
    bindings = parse_tables(data, "midi", registry, path, text)
    name = head.get("name") or (Path(path).stem if path else "profile")
    return Profile(name=str(name), bindings=tuple(bindings), port=str(head.get("port", "")),
                   notes=str(head.get("notes", "")), init=tuple(init),
                   path=None if path is None else str(path))


def load_profile(name_or_path: Union[str, Path], registry: ActionRegistry) -> Profile:
    """Load a profile by path or by name (a shipped or user profile); errors name file and line."""
    p = resolve(name_or_path, "profiles")
    if p is None:
        raise BindingError(f"no controller profile {str(name_or_path)!r}; known: "
                           f"{', '.join(sorted(list_profiles())) or 'none'}", name_or_path)
    data, text = load_toml(p)
    return parse_profile(data, registry, p, text)


def save_profile(profile: Profile, path: Union[str, Path]) -> None:
    head: dict[str, Any] = {"name": profile.name}
    if profile.port:
        head["port"] = profile.port
    if profile.notes:
        head["notes"] = profile.notes
    if profile.init:
        head["init"] = [list(m) for m in profile.init]
    data = {"schema": SCHEMA, "profile": head, "midi": [binding_to_table(b) for b in profile.bindings]}
    save_toml(path, data, header=f"sfe-live controller profile: {profile.name}")


def with_bindings(profile: Profile, bindings: Iterable[Binding]) -> Profile:
    return Profile(profile.name, tuple(bindings), profile.port, profile.notes, profile.init, profile.path)
