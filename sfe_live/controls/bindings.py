"""Bindings as data: which input drives which action, and how its value is shaped.

A :class:`Binding` says *what* (an action id and an optional fixed value), *from where* (a
MIDI CC/note, a key, an OSC address, an audio feature) and *how* (mode, output range,
invert, curve, soft takeover, press threshold, LED feedback). Bindings are read from TOML
tables and validated on load: an unknown action id is an error that lists the valid ids, and
every error names the file and line. The runtime half is :mod:`sfe_live.controls.driver`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping, Optional

from sfe_live.io import DataFileError

from .actions import CONTINUOUS, TOGGLE, ActionRegistry, ActionSpec, ActionValueError, UnknownActionError

log = logging.getLogger(__name__)

SOURCES = ("midi", "key", "osc", "audio")
MODES = ("auto", "trigger", "toggle", "momentary", "absolute", "relative", "step")
CURVES = ("linear", "exp", "log", "scurve")
TAKEOVERS = ("soft", "jump")
MIDI_TYPES = ("cc", "note", "pitchwheel", "program")
AUDIO_FEATURES = ("level", "bass", "mid", "high", "onset", "beat", "bpm")


class BindingError(DataFileError):
    """A binding that cannot be used (unknown action, bad field); names file and line."""


@dataclass(frozen=True)
class Led:
    """LED feedback values for a MIDI binding (velocity or CC value sent back).

    ``off``/``on``: idle and lit; ``active``: the current cue on a cue pad (defaults to on);
    ``channel``: 1-based MIDI channel of the feedback message (default: the binding's);
    ``ring``: send the action's value back as 0..127 (encoder rings, motor faders).
    """

    off: int = 0
    on: int = 127
    active: Optional[int] = None
    channel: Optional[int] = None
    ring: bool = False


@dataclass(frozen=True)
class Binding:
    """One input → action mapping. Unused match fields stay None."""

    action: str
    source: str
    # what the action gets
    value: Any = None               # fixed argument (cue number, purge strength, step size)
    mode: str = "auto"
    min: Optional[float] = None     # output range; default: the action's range
    max: Optional[float] = None
    invert: bool = False
    curve: str = "linear"
    takeover: str = "soft"          # absolute controls: wait for pickup (soft) or jump
    threshold: float = 0.5          # normalised press threshold for buttons / features
    step: Optional[float] = None    # relative encoders: value change per tick
    # MIDI match
    type: Optional[str] = None      # cc | note | pitchwheel | program
    channel: Optional[int] = None   # 1..16, None = any
    number: Optional[int] = None
    port: Optional[str] = None      # substring of the port name, None = any
    led: Optional[Led] = None
    # key match
    key: Optional[str] = None
    # OSC match
    address: Optional[str] = None
    in_min: float = 0.0
    in_max: float = 1.0
    # audio match
    feature: Optional[str] = None
    cooldown: float = 0.0
    rate: float = 30.0              # audio: max continuous updates per second

    def out_range(self, spec: ActionSpec) -> tuple[float, float]:
        lo, hi = spec.span
        return (lo if self.min is None else float(self.min), hi if self.max is None else float(self.max))

    def shape(self, x01: float, spec: ActionSpec) -> float:
        """Normalised input 0..1 → the action's units (invert, curve, min/max)."""
        x = min(max(float(x01), 0.0), 1.0)
        if self.invert:
            x = 1.0 - x
        x = apply_curve(x, self.curve)
        lo, hi = self.out_range(spec)
        return lo + (hi - lo) * x

    def resolved_mode(self, spec: ActionSpec, input_kind: str) -> str:
        """``auto`` → a concrete mode for this action and input (``button`` or ``level``)."""
        if self.mode != "auto":
            return self.mode
        if spec.kind == TOGGLE:
            return "toggle"
        if spec.kind == CONTINUOUS and input_kind == "level" and self.value is None:
            return "absolute"
        return "trigger"

    def describe(self) -> str:
        if self.source == "midi":
            ch = "any" if self.channel is None else str(self.channel)
            num = "" if self.number is None else f" {self.number}"
            return f"MIDI {self.type}{num} ch {ch}"
        if self.source == "key":
            return f"key {self.key}"
        if self.source == "osc":
            return f"OSC {self.address}"
        return f"audio {self.feature}"


def apply_curve(x: float, curve: str) -> float:
    if curve == "exp":
        return x * x
    if curve == "log":
        return math.sqrt(x)
    if curve == "scurve":
        return x * x * (3.0 - 2.0 * x)
    return x


# ---------------------------------------------------------------------- parsing
_COMMON = {"action", "value", "mode", "min", "max", "invert", "curve", "takeover", "threshold", "step"}
_FIELDS = {
    "midi": _COMMON | {"cc", "note", "pitchwheel", "program", "channel", "port", "count", "value_step",
                       "led", "number", "type"},
    "key": _COMMON | {"key"},
    "osc": _COMMON | {"address", "in_min", "in_max"},
    "audio": _COMMON | {"feature", "cooldown", "rate"},
}


def _num(table: Mapping[str, Any], key: str, err: Callable[[str, str], BindingError],
         lo: Optional[float] = None, hi: Optional[float] = None, integer: bool = False) -> Any:
    if key not in table:
        return None
    v = table[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        raise err(f"{key} must be {'an integer' if integer else 'a number'}, got {v!r}", key)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise err(f"{key} must be in {lo:g}..{hi:g}, got {v!r}", key)
    return v


def parse_binding(table: Mapping[str, Any], source: str, registry: ActionRegistry,
                  path: Any = None, line: Optional[int] = None,
                  line_of: Optional[Callable[[str], Optional[int]]] = None) -> list[Binding]:
    """Validate one TOML table and return its binding(s) (``count`` expands a MIDI row).

    ``line_of(key)`` (optional) gives the line of a key for sharper error positions.
    """
    def err(msg: str, key: Optional[str] = None) -> BindingError:
        ln = line_of(key) if (line_of and key) else line
        return BindingError(msg, path, ln or line)

    if source not in SOURCES:
        raise err(f"unknown binding source {source!r}; valid: {', '.join(SOURCES)}")
    if not isinstance(table, Mapping):
        raise err(f"a {source} binding must be a table")
    unknown = sorted(set(table) - _FIELDS[source])
    if unknown:
        raise err(f"unknown field(s) {', '.join(unknown)} in a {source} binding; valid: "
                  f"{', '.join(sorted(_FIELDS[source]))}", unknown[0])
    action = table.get("action")
    if not isinstance(action, str):
        raise err("a binding needs action = \"<id>\"", "action")
    try:
        spec = registry.get(action)
    except UnknownActionError as e:
        raise err(str(e), "action") from None
    kw: dict[str, Any] = {"action": action, "source": source}
    for key, choices in (("mode", MODES), ("curve", CURVES), ("takeover", TAKEOVERS)):
        if key in table:
            if table[key] not in choices:
                raise err(f"{key} must be one of {', '.join(choices)}, got {table[key]!r}", key)
            kw[key] = table[key]
    for key in ("min", "max", "step"):
        v = _num(table, key, err)
        if v is not None:
            kw[key] = float(v)
    t = _num(table, "threshold", err, 0.0, 1.0)
    if t is not None:
        kw["threshold"] = float(t)
    if "invert" in table:
        if not isinstance(table["invert"], bool):
            raise err("invert must be true or false", "invert")
        kw["invert"] = table["invert"]
    if "value" in table:
        v = table["value"]
        if kw.get("mode") not in ("step",):
            try:
                spec.coerce(v)
            except ActionValueError as e:
                raise err(f"value: {e}", "value") from None
        kw["value"] = v

    if source == "key":
        key = table.get("key")
        if not isinstance(key, str) or not key.strip():
            raise err("a key binding needs key = \"Ctrl+P\"", "key")
        from .keys import normalize_key  # local import: keys imports this module
        try:
            kw["key"] = normalize_key(key)
        except ValueError as e:
            raise err(str(e), "key") from None
        return [Binding(**kw)]
    if source == "osc":
        addr = table.get("address")
        if not isinstance(addr, str) or not addr.startswith("/"):
            raise err("an OSC binding needs address = \"/some/address\"", "address")
        kw["address"] = addr
        for key in ("in_min", "in_max"):
            v = _num(table, key, err)
            if v is not None:
                kw[key] = float(v)
        if kw.get("in_min", 0.0) == kw.get("in_max", 1.0):
            raise err("in_min and in_max must differ", "in_min")
        return [Binding(**kw)]
    if source == "audio":
        feat = table.get("feature")
        if feat not in AUDIO_FEATURES:
            raise err(f"feature must be one of {', '.join(AUDIO_FEATURES)}, got {feat!r}", "feature")
        kw["feature"] = feat
        cd = _num(table, "cooldown", err, 0.0, 3600.0)
        if cd is not None:
            kw["cooldown"] = float(cd)
        rate = _num(table, "rate", err, 0.1, 1000.0)
        if rate is not None:
            kw["rate"] = float(rate)
        return [Binding(**kw)]

    # MIDI
    kinds = [k for k in ("cc", "note", "pitchwheel", "program") if k in table]
    if "type" in table:
        if table["type"] not in MIDI_TYPES:
            raise err(f"type must be one of {', '.join(MIDI_TYPES)}", "type")
        kinds = [table["type"]] + [k for k in kinds if k != table["type"]]
        if "number" in table:
            table = dict(table, **{table["type"]: table["number"]})
    if len(set(kinds)) != 1:
        raise err("a MIDI binding needs exactly one of cc = N, note = N, pitchwheel = true, program = N",
                  kinds[1] if len(kinds) > 1 else "action")
    mtype = kinds[0]
    kw["type"] = mtype
    number: Optional[int] = None
    if mtype != "pitchwheel":
        number = _num(table, mtype, err, 0, 127, integer=True)
    ch = _num(table, "channel", err, 1, 16, integer=True)
    kw["channel"] = ch
    if "port" in table:
        if not isinstance(table["port"], str):
            raise err("port must be text (a part of the port name)", "port")
        kw["port"] = table["port"]
    if "led" in table:
        kw["led"] = _parse_led(table["led"], err)
    count = _num(table, "count", err, 1, 128, integer=True) or 1
    vstep = _num(table, "value_step", err)
    if number is not None and number + count - 1 > 127:
        raise err(f"{mtype} {number} + count {count} runs past 127", "count")
    out = []
    for i in range(count):
        b = dict(kw, number=None if number is None else number + i)
        if i and isinstance(kw.get("value"), (int, float)) and not isinstance(kw.get("value"), bool):
            b["value"] = kw["value"] + i * (1 if vstep is None else vstep)
        out.append(Binding(**b))
    return out


def _parse_led(led: Any, err: Callable[..., BindingError]) -> Led:
    if led is True:
        return Led()
    if not isinstance(led, Mapping):
        raise err("led must be a table like { on = 127, off = 0 }", "led")
    allowed = {f.name for f in fields(Led)}
    bad = sorted(set(led) - allowed)
    if bad:
        raise err(f"unknown led field(s) {', '.join(bad)}; valid: {', '.join(sorted(allowed))}", "led")
    kw: dict[str, Any] = {}
    for k in ("off", "on", "active"):
        v = _num(led, k, err, 0, 127, integer=True)
        if v is not None:
            kw[k] = v
    ch = _num(led, "channel", err, 1, 16, integer=True)
    if ch is not None:
        kw["channel"] = ch
    if "ring" in led:
        kw["ring"] = bool(led["ring"])
    return Led(**kw)


def binding_to_table(b: Binding) -> dict[str, Any]:
    """A TOML table for a binding (what learn saves)."""
    d: dict[str, Any] = {"action": b.action}
    defaults = {f.name: f.default for f in fields(Binding)}
    if b.source == "midi":
        d[b.type or "cc"] = True if b.type == "pitchwheel" else b.number
        if b.channel is not None:
            d["channel"] = b.channel
        if b.port:
            d["port"] = b.port
        if b.led is not None:
            d["led"] = {k: v for k, v in vars(b.led).items() if v is not None}
    elif b.source == "key":
        d["key"] = b.key
    elif b.source == "osc":
        d["address"] = b.address
        for k in ("in_min", "in_max"):
            if getattr(b, k) != defaults[k]:
                d[k] = getattr(b, k)
    elif b.source == "audio":
        d["feature"] = b.feature
        for k in ("cooldown", "rate"):
            if getattr(b, k) != defaults[k]:
                d[k] = getattr(b, k)
    for k in ("value", "mode", "min", "max", "invert", "curve", "takeover", "threshold", "step"):
        v = getattr(b, k)
        if v is not None and v != defaults[k]:
            d[k] = v
    return d


def parse_tables(data: Mapping[str, Any], source: str, registry: ActionRegistry, path: Any = None,
                 text: str = "", table_name: Optional[str] = None) -> list[Binding]:
    """Parse every ``[[<table_name>]]`` (default: the source name) table of a loaded TOML file."""
    from sfe_live.io import key_line, table_lines

    name = table_name or source
    tables = data.get(name, [])
    if not isinstance(tables, list):
        raise BindingError(f"{name} must be written as [[{name}]] tables", path)
    lines = table_lines(text, name) if text else []
    out: list[Binding] = []
    for i, t in enumerate(tables):
        ln = lines[i] if i < len(lines) else None
        out.extend(parse_binding(t, source, registry, path, ln,
                                 (lambda k, ln=ln: key_line(text, ln, k)) if text else None))
    return out


__all__ = ["Binding", "BindingError", "Led", "apply_curve", "binding_to_table", "parse_binding", "parse_tables"]
