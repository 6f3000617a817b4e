"""The action registry: one vocabulary of named actions shared by every input.

A MIDI pad, an OSC message, a hotkey, an audio onset and a cue all end in
``ActionRouter.trigger(action_id, value)``. Each :class:`ActionSpec` says what the action is
called, what kind it is (``trigger``, ``toggle`` or ``continuous``), what argument it takes
(type and range), which OSC address it answers to, which state name reflects it (for LED
feedback, soft takeover and ``/sfe/get``) and, for engine actions, how it becomes an engine
``Command``. Actions without a command are handled by handlers the app registers on the
router (recording, virtual camera, cues, tempo ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

from sfe_live.engine import commands as C

TRIGGER = "trigger"
TOGGLE = "toggle"
CONTINUOUS = "continuous"
KINDS = (TRIGGER, TOGGLE, CONTINUOUS)

ARG_TYPES = ("none", "int", "float", "bool", "str", "enum")
QUANTIZE_CHOICES = ("none", "beat", "bar")

OSC_ROOT = "/sfe"


class UnknownActionError(KeyError):
    """An action id that the registry does not know; the message lists the valid ids."""

    def __init__(self, action_id: str, valid: Sequence[str]) -> None:
        self.action_id = action_id
        self.valid = tuple(valid)
        super().__init__(action_id)

    def __str__(self) -> str:
        return f"unknown action {self.action_id!r}; valid actions: {', '.join(self.valid)}"


class ActionValueError(ValueError):
    """A value an action cannot take (wrong type, empty prompt, unknown choice)."""


@dataclass(frozen=True)
class Perform:
    """Router-held performance settings that shape engine commands (e.g. the prompt transition)."""

    transition: str = "cut"
    blend_blocks: int = 4
    blend_mode: str = "linear"


CommandBuilder = Callable[[Any, Perform], Optional[C.Command]]


@dataclass(frozen=True)
class ActionSpec:
    """One named action.

    ``arg`` is the argument type; ``lo``/``hi`` its range (numbers), ``choices`` (enum).
    ``optional`` means the argument may be omitted (``purge`` uses the current reactivity).
    ``state`` names the value in the router's state that reflects this action.
    ``command`` turns a coerced value into an engine command; ``setting`` names a
    :class:`Perform` field the router stores the value in. Neither = an app handler.
    """

    id: str
    title: str
    kind: str
    arg: str = "none"
    lo: Optional[float] = None
    hi: Optional[float] = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    default: Any = None
    state: Optional[str] = None
    osc: Optional[str] = None
    group: str = "engine"
    description: str = ""
    command: Optional[CommandBuilder] = field(default=None, compare=False, repr=False)
    setting: Optional[str] = None
    engine_toggle: bool = False  # toggle flipped by the engine itself when no value is given
    strict: bool = False  # numbers outside lo..hi are refused instead of clamped (cue numbers)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS}")
        if self.arg not in ARG_TYPES:
            raise ValueError(f"{self.id}: arg must be one of {ARG_TYPES}")
        if self.arg == "enum" and not self.choices:
            raise ValueError(f"{self.id}: an enum needs choices")

    # ------------------------------------------------------------------ values
    @property
    def numeric(self) -> bool:
        return self.arg in ("int", "float")

    @property
    def span(self) -> tuple[float, float]:
        """The numeric output range used by bindings (bools and triggers: 0..1)."""
        if self.arg == "enum":
            return 0.0, float(len(self.choices) - 1)
        lo = 0.0 if self.lo is None else float(self.lo)
        hi = 1.0 if self.hi is None else float(self.hi)
        return lo, hi

    def coerce(self, value: Any) -> Any:
        """Turn an incoming value (OSC arg, binding output, API call) into this action's type.

        Numbers are clamped into range. Returns ``None`` for "no value" where that is allowed.
        Raises :class:`ActionValueError` for values that cannot be used.
        """
        if isinstance(value, (list, tuple)):
            if self.arg == "str":
                value = " ".join(str(v) for v in value) if value else None
            else:
                value = value[0] if value else None
        if value is None:
            if self.arg == "none" or self.optional or self.kind == TOGGLE:
                return None
            if self.default is not None:
                return self.default
            raise ActionValueError(f"{self.id} needs a {self.arg} value")
        if self.arg == "none":
            return None
        if self.arg == "bool":
            return to_bool(value)
        if self.arg == "str":
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            text = text.strip()
            if not text:
                raise ActionValueError(f"{self.id} needs a non-empty text")
            return text
        if self.arg == "enum":
            return self._coerce_enum(value)
        number = to_number(value, self.id)
        lo, hi = self.span
        if self.strict:
            whole = math.floor(number + 0.5) if self.arg == "int" else number
            if not lo <= whole <= hi:
                fmt = (lambda v: str(int(v))) if self.arg == "int" else (lambda v: f"{v:g}")
                raise ActionValueError(f"{self.id}: {value!r} is outside {fmt(lo)}..{fmt(hi)}; nothing done")
        number = min(max(number, lo), hi)
        if self.arg == "int":
            return int(math.floor(number + 0.5))
        return float(number)

    def _coerce_enum(self, value: Any) -> str:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            low = value.strip().lower()
            for c in self.choices:
                if c == low:
                    return c
            try:
                value = float(low)
            except ValueError:
                raise ActionValueError(
                    f"{self.id}: {value!r} is not one of {', '.join(self.choices)}") from None
        n = len(self.choices)
        if isinstance(value, bool):
            return self.choices[int(value)]
        if isinstance(value, int):
            return self.choices[min(max(value, 0), n - 1)]
        x = to_number(value, self.id)
        if x == int(x) and x >= 1:  # 1.0, 2.0 ... are indices
            return self.choices[min(int(x), n - 1)]
        return self.choices[min(int(max(x, 0.0) * n), n - 1)]  # 0..1 picks a choice

    def arg_doc(self) -> str:
        """A short human description of the argument, used by the generated docs."""
        opt = " (optional)" if self.optional else ""
        if self.arg == "none":
            return "—"
        if self.arg == "bool":
            return "T/F, 1/0 or a number > 0.5" + (" (none = flip)" if self.kind == TOGGLE else "")
        if self.arg == "enum":
            return " | ".join(self.choices) + " (or index)" + opt
        if self.arg == "str":
            return "text" + opt
        lo, hi = self.span
        fmt = (lambda v: str(int(v))) if self.arg == "int" else (lambda v: f"{v:g}")
        return f"{self.arg} {fmt(lo)}..{fmt(hi)}" + opt


def to_bool(value: Any) -> bool:
    """OSC/MIDI booleans: True/False, 1/0, numbers > 0.5, "T"/"true"/"on"/"yes"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value) > 0.5
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("t", "true", "on", "yes", "y"):
            return True
        if v in ("f", "false", "off", "no", "n", ""):
            return False
        try:
            return float(v) > 0.5
        except ValueError:
            pass
    raise ActionValueError(f"not a boolean: {value!r}")


def to_number(value: Any, what: str = "value") -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, (str, bytes)):
        try:
            x = float(value)
        except ValueError:
            raise ActionValueError(f"{what}: not a number: {value!r}") from None
    else:
        raise ActionValueError(f"{what}: not a number: {value!r}")
    if not math.isfinite(x):
        raise ActionValueError(f"{what}: not a finite number: {value!r}")
    return x


def steps_for(count: int) -> tuple[int, ...]:
    """Nominal denoising steps for a step count: 4 -> (1000, 750, 500, 250)."""
    count = max(1, int(count))
    return tuple(int(round(1000 - 1000 * i / count)) for i in range(count))


class ActionRegistry:
    """An ordered, immutable-after-build collection of :class:`ActionSpec`."""

    def __init__(self, specs: Sequence[ActionSpec] = ()) -> None:
        self._specs: dict[str, ActionSpec] = {}
        self._by_osc: dict[str, ActionSpec] = {}
        for s in specs:
            self.add(s)

    def add(self, spec: ActionSpec) -> None:
        if spec.id in self._specs:
            raise ValueError(f"duplicate action id {spec.id!r}")
        if spec.osc is not None:
            if spec.osc in self._by_osc:
                raise ValueError(f"duplicate OSC address {spec.osc!r}")
            self._by_osc[spec.osc] = spec
        self._specs[spec.id] = spec

    def __contains__(self, action_id: object) -> bool:
        return action_id in self._specs

    def __iter__(self) -> Iterator[ActionSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def ids(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def get(self, action_id: str) -> ActionSpec:
        """The spec of ``action_id``; raises :class:`UnknownActionError` listing valid ids."""
        try:
            return self._specs[action_id]
        except KeyError:
            raise UnknownActionError(action_id, self.ids()) from None

    def by_osc(self, address: str) -> Optional[ActionSpec]:
        return self._by_osc.get(address)

    def osc_map(self) -> Mapping[str, ActionSpec]:
        return dict(self._by_osc)


def _osc(path: str) -> str:
    return f"{OSC_ROOT}/{path}"


def _prompt(value: Any, p: Perform) -> C.Command:
    return C.SetPrompt(text=value, transition=p.transition, strength=None,
                       blend_blocks=p.blend_blocks, blend_mode=p.blend_mode)


def _pause(value: Any, p: Perform) -> C.Command:
    return C.TogglePause() if value is None else C.SetPaused(paused=bool(value))


def default_specs() -> list[ActionSpec]:
    """Every built-in action (the OSC tree and the docs are generated from this list)."""
    S = ActionSpec
    tr = C.TRANSITIONS
    return [
        # cues (handled by the CuePlayer)
        S("cue.go", "Go to cue", TRIGGER, "int", 1, 999, state="cue", osc=_osc("cue/go"), group="cue", strict=True,
          description="Fire cue number N (1-based) of the loaded cue list, quantised if the cue asks."),
        S("cue.next", "Next cue", TRIGGER, osc=_osc("cue/next"), group="cue",
          description="Fire the cue after the current one."),
        S("cue.prev", "Previous cue", TRIGGER, osc=_osc("cue/prev"), group="cue",
          description="Fire the cue before the current one."),
        S("cue.quantize", "Cue quantise", TRIGGER, "enum", choices=QUANTIZE_CHOICES, state="quantize",
          osc=_osc("cue/quantize"), group="cue",
          description="Override the quantisation of cue GO: none, beat or bar."),
        # prompt and transitions
        S("prompt.set", "Set prompt", TRIGGER, "str", state="prompt", osc=_osc("prompt"),
          command=_prompt, description="Switch to this prompt with the current transition."),
        S("transition.set", "Transition", TRIGGER, "enum", choices=tr, state="transition",
          osc=_osc("transition"), setting="transition",
          description="Transition used by prompt.set: cut, purge, blend or recache."),
        S("blend.blocks", "Blend length", CONTINUOUS, "int", 1, 16, default=4, state="blend_blocks",
          osc=_osc("blend/blocks"), setting="blend_blocks",
          description="Blocks a 'blend' transition takes."),
        S("blend.mode", "Blend mode", TRIGGER, "enum", choices=C.BLEND_MODES, state="blend_mode",
          osc=_osc("blend/mode"), setting="blend_mode", description="linear or slerp."),
        # cache and memory
        S("purge", "Purge", TRIGGER, "int", 0, C.MAX_STRENGTH, optional=True, osc=_osc("purge"),
          command=lambda v, p: C.Purge(strength=v),
          description="Clear the KV cache (what stays: purge.mode); strength 0..3 (3 = strongest change), "
                      "none = reactivity."),
        S("purge.mode", "Purge mode", TRIGGER, "enum", choices=C.PURGE_MODES, state="purge_mode",
          osc=_osc("purge/mode"), command=lambda v, p: C.SetPurgeMode(mode=v),
          description="What a purge keeps: full (nothing), keep-last (sink + last frame: the new prompt "
                      "at once, the picture continues), keep-sink (the sink frames)."),
        S("recache", "Recache", TRIGGER, osc=_osc("recache"), command=lambda v, p: C.Recache(),
          description="Recompute the cached window under the current prompt."),
        S("reactivity.set", "Reactivity", CONTINUOUS, "int", 0, C.MAX_STRENGTH, default=3,
          state="reactivity", osc=_osc("reactivity"), command=lambda v, p: C.SetReactivity(strength=v),
          description="Default purge strength 0..3."),
        S("memory.set", "Memory", CONTINUOUS, "float", 0.0, 1.0, default=1.0, state="memory",
          osc=_osc("memory"), command=lambda v, p: C.SetMemory(value=v),
          description="How much cached frames steer the present (1 = reference behaviour)."),
        S("noise.set", "Noise scale", CONTINUOUS, "float", 0.0, 2.0, default=1.0, state="noise_scale",
          osc=_osc("noise"), command=lambda v, p: C.SetNoiseScale(value=v),
          description="Scale of the initial noise of each block."),
        S("steps.set", "Denoising steps", CONTINUOUS, "int", 1, 4, default=4, state="steps",
          osc=_osc("steps"), command=lambda v, p: C.SetSteps(steps=steps_for(v)),
          description="Number of denoising steps (4 = 1000/750/500/250)."),
        S("v2v.set", "Video-to-video", CONTINUOUS, "float", 0.0, 1.0, default=0.0, state="v2v_amount",
          osc=_osc("v2v"), command=lambda v, p: C.SetV2V(amount=v),
          description="Video-to-video amount 0..1 (0 = off)."),
        S("driftguard.toggle", "Drift guard", TOGGLE, "bool", state="drift_guard",
          osc=_osc("driftguard"), command=lambda v, p: C.SetDriftGuard(enabled=bool(v)),
          description="Turn the drift guard on or off: it purges when the picture's saturation, contrast "
                      "or detail, averaged over about 8 blocks, strays from its settled reference by more "
                      "than 35 %. Pulses and strobes average out; a new prompt or a purge takes a new "
                      "reference."),
        # seed and stream
        S("seed.new", "New seed", TRIGGER, osc=_osc("seed/new"), command=lambda v, p: C.NewSeed(),
          description="Pick a fresh random seed (ignored while locked)."),
        S("seed.set", "Set seed", TRIGGER, "int", 0, 2**31 - 1, state="seed", osc=_osc("seed/set"),
          command=lambda v, p: C.SetSeed(seed=v), description="Use this seed."),
        S("seed.lock", "Lock seed", TOGGLE, "bool", state="seed_locked", osc=_osc("seed/lock"),
          command=lambda v, p: C.LockSeed(locked=bool(v)), description="Lock or unlock the seed."),
        S("pause.toggle", "Pause", TOGGLE, "bool", state="paused", osc=_osc("pause"), command=_pause,
          engine_toggle=True, description="Pause (T) or run (F); no argument flips."),
        S("reset", "Reset stream", TRIGGER, osc=_osc("reset"), command=lambda v, p: C.Reset(),
          description="Start a fresh stream with the current prompt."),
        # app-level (handlers registered by the app)
        S("record.toggle", "Record", TOGGLE, "bool", state="recording", osc=_osc("record"), group="app",
          description="Start or stop recording."),
        S("vcam.toggle", "Virtual camera", TOGGLE, "bool", state="vcam", osc=_osc("vcam"), group="app",
          description="Start or stop the virtual camera."),
        S("output.fullscreen", "Fullscreen output", TOGGLE, "bool", state="fullscreen",
          osc=_osc("output/fullscreen"), group="app", description="Output window fullscreen."),
        S("blackout", "Blackout", TOGGLE, "bool", state="blackout", osc=_osc("blackout"), group="app",
          description="Send black to every output."),
        S("freeze", "Freeze", TOGGLE, "bool", state="freeze", osc=_osc("freeze"), group="app",
          description="Hold the last frame on every output."),
        # tempo (handled by the tempo clock)
        S("tempo.tap", "Tap tempo", TRIGGER, osc=_osc("tempo/tap"), group="tempo",
          description="Tap the beat (up to 8 taps averaged; a 2 s pause starts over)."),
        S("tempo.set", "Set tempo", CONTINUOUS, "float", 20.0, 300.0, default=120.0, state="bpm",
          osc=_osc("tempo/bpm"), group="tempo", description="Set the tempo in BPM."),
        S("tempo.sync", "Downbeat", TRIGGER, osc=_osc("tempo/sync"), group="tempo",
          description="Make now the first beat of a bar."),
    ]


def build_default_registry() -> ActionRegistry:
    return ActionRegistry(default_specs())


DEFAULT_REGISTRY = build_default_registry()
