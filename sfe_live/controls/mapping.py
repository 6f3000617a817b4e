"""One table of every binding the live controls hold, for a mapping editor: rows, conflicts, removal.

Rows come from the hub's parts — keys, OSC, learned MIDI, audio (editable) and the profiles of the
MIDI controllers plugged in (read-only: edit the profile file, or learn over them). An *input* is what a performer
touches (``MIDI cc 21 ch 1``, ``OSC /fader1``, ``key P``); a conflict is one input driving more than
one action (a learned MIDI control over a profile's, two OSC bindings on one address). Qt-free: the
window's mapping dialog shows :func:`binding_rows` and calls :func:`remove_binding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from .bindings import Binding

if TYPE_CHECKING:
    from .hub import ControlHub


@dataclass(frozen=True)
class BindingRow:
    binding: Binding
    origin: str            # "keys", "osc", "learned", "audio", or "profile <name>"
    editable: bool

    @property
    def input(self) -> str:
        """The physical input, independent of the action (what conflicts are keyed on)."""
        b = self.binding
        if b.source == "midi":
            ch = "any" if b.channel is None else str(b.channel)
            num = "" if b.number is None else f" {b.number}"
            port = f" @{b.port}" if b.port else ""
            return f"MIDI {b.type}{num} ch {ch}{port}"
        return b.describe()

    @property
    def action(self) -> str:
        return self.binding.action

    @property
    def value(self) -> str:
        return "" if self.binding.value is None else str(self.binding.value)


def binding_rows(hub: "ControlHub") -> list[BindingRow]:
    rows = [BindingRow(b, "keys", True) for b in hub.keys.bindings()]
    if hub.osc is not None:
        rows += [BindingRow(b, "osc", True) for b in hub.osc.bindings()]
    if hub.midi is not None:
        rows += [BindingRow(b, "learned", True) for b in hub.midi.user_bindings()]
        ports = list(hub.midi.status().get("inputs", ()))
        for prof in hub.midi.profiles:          # the profiles of controllers that are plugged in
            if any(prof.matches(p) for p in ports):
                rows += [BindingRow(b, f"profile {prof.name}", False) for b in prof.bindings]
    rows += [BindingRow(b, "audio", True) for b in hub.audio_bindings()]
    return rows


def conflicts(rows: list[BindingRow]) -> dict[str, list[BindingRow]]:
    """Inputs bound to more than one distinct (action, value)."""
    by_input: dict[str, list[BindingRow]] = {}
    for r in rows:
        by_input.setdefault(r.input, []).append(r)
    return {k: v for k, v in by_input.items() if len({(r.action, r.value) for r in v}) > 1}


def remove_binding(hub: "ControlHub", row: BindingRow) -> bool:
    """Remove an editable binding from its part (live); False for a profile's binding."""
    b = row.binding
    if not row.editable:
        return False
    if b.source == "key" and b.key:
        hub.keys.unbind(b.key)
    elif b.source == "osc" and hub.osc is not None and b.address:
        hub.osc.remove_binding(b.address)
    elif b.source == "midi" and hub.midi is not None:
        hub.midi.remove_binding(b)
    elif b.source == "audio":
        hub.set_audio_bindings([x for x in hub.audio_bindings() if x is not b])
    else:
        return False
    return True


AUDIO_FEATURES = ("level", "bass", "mid", "high", "onset", "beat", "bpm")


def add_audio_binding(hub: "ControlHub", feature: str, action: str, value: object = None) -> Binding:
    """Bind an audio feature to an action (validated against the action registry)."""
    if feature not in AUDIO_FEATURES:
        raise ValueError(f"unknown audio feature {feature!r}: one of {', '.join(AUDIO_FEATURES)}")
    hub.router.spec(action)
    b = Binding(action=action, source="audio", feature=feature, value=value)
    hub.set_audio_bindings([*hub.audio_bindings(), b])
    return b


def find_row(rows: list[BindingRow], action: str, source: Optional[str] = None) -> Optional[BindingRow]:
    for r in rows:
        if r.action == action and (source is None or r.binding.source == source):
            return r
    return None
