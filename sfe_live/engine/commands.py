"""Frozen command dataclasses: everything a control can ask of the engine.

Commands are submitted from any thread with ``Runner.submit(cmd)`` and applied by the
worker at block edges (a purge at its denoising step). Discrete commands (``coalesce ==
False``) are FIFO and never dropped; continuous ones (``coalesce == True``) keep only the
latest value per command type.

Every command validates itself when it is built (types from its annotations, ranges in
``_check``): a bad value - from a control, a cue list or a replay log - is a ``ValueError``
that names the field, before anything reaches the engine. Numbers are coerced (an int where a
float is wanted); a bool is never taken for a number.

Purge strength is one type everywhere: an int 0..``MAX_STRENGTH`` (``None`` = the current
reactivity, which is the same quantity). Which denoising step it maps to for any number of
steps is :func:`sfe_live.engine.schedule.purge_step`. The video-to-video amount is a float 0..1
called ``amount``.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from sfe_live.config import check_steps

TRANSITIONS = ("cut", "purge", "blend", "recache")
BLEND_MODES = ("linear", "slerp")
PURGE_MODES = ("full", "keep-last", "keep-sink")   # what a purge keeps: nothing, sink + last frame, sink
MAX_STRENGTH = 3
MAX_BLEND_BLOCKS = 64
MAX_TEXT_CHARS = 100_000
MAX_SEED = 2 ** 63 - 1


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the annotated type, or ValueError naming the field."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Union:                      # Optional[X]
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list, got {value!r}")
        return tuple(_coerce(name, v, args[0]) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValueError(f"{name} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text, got {value!r}")
        return value
    return value


def _in_range(name: str, value: Optional[float], lo: float, hi: float) -> None:
    if value is not None and not lo <= value <= hi:
        raise ValueError(f"{name} must be {lo:g}..{hi:g}, got {value!r}")


@dataclass(frozen=True)
class Command:
    coalesce: ClassVar[bool] = False

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _coerce(f"{self.name}.{f.name}", getattr(self, f.name),
                                                     hints[f.name]))
        self._check()

    def _check(self) -> None:
        """Range checks of a command's fields (ValueError naming the field)."""

    @property
    def name(self) -> str:
        return type(self).__name__

    def args(self) -> dict[str, Any]:
        """The fields as JSON-ready values (tuples as lists): what the log records."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self)}


def check_purge(name: str, strength: Optional[int], mode: Optional[str]) -> None:
    _in_range(f"{name}.strength", strength, 0, MAX_STRENGTH)
    if mode is not None and mode not in PURGE_MODES:
        raise ValueError(f"{name}.mode {mode!r} unknown: use one of {', '.join(PURGE_MODES)}")


@dataclass(frozen=True)
class SetPrompt(Command):
    """Switch the prompt from the next block on, with a transition."""

    text: str
    transition: str = "cut"           # cut | purge | blend | recache
    strength: Optional[int] = None    # purge strength 0..3 for transition "purge" (None = current reactivity)
    blend_blocks: int = 4             # blocks of a "blend"
    blend_mode: str = "linear"        # linear | slerp
    purge_mode: Optional[str] = None  # full | keep-last | keep-sink for "purge" (None = the engine's default)

    def _check(self) -> None:
        if len(self.text) > MAX_TEXT_CHARS:
            raise ValueError(f"SetPrompt.text is {len(self.text)} characters (at most {MAX_TEXT_CHARS})")
        if self.transition not in TRANSITIONS:
            raise ValueError(f"transition {self.transition!r} unknown: use one of {', '.join(TRANSITIONS)}")
        if self.blend_mode not in BLEND_MODES:
            raise ValueError(f"blend mode {self.blend_mode!r} unknown: use one of {', '.join(BLEND_MODES)}")
        _in_range("SetPrompt.blend_blocks", self.blend_blocks, 1, MAX_BLEND_BLOCKS)
        check_purge("SetPrompt", self.strength, self.purge_mode)


@dataclass(frozen=True)
class Purge(Command):
    """Clear the self-attention KV cache before the step ``schedule.purge_step`` gives for
    ``strength``, in the next block; ``mode`` says what stays (``PURGE_MODES``)."""

    strength: Optional[int] = None    # None = the current reactivity
    mode: Optional[str] = None        # None = the engine's default purge mode

    def _check(self) -> None:
        check_purge("Purge", self.strength, self.mode)


@dataclass(frozen=True)
class Recache(Command):
    """Recompute the cached K/V of the window under the current prompt (LongLive-style)."""


@dataclass(frozen=True)
class SetReactivity(Command):
    """The default purge strength (0..3) used when a purge names none."""

    coalesce: ClassVar[bool] = True
    strength: int = 3

    def _check(self) -> None:
        _in_range("SetReactivity.strength", self.strength, 0, MAX_STRENGTH)


@dataclass(frozen=True)
class SetPurgeMode(Command):
    """What a purge that names no mode keeps: full (nothing), keep-last (sink + last frame), keep-sink."""

    coalesce: ClassVar[bool] = True
    mode: str = "full"

    def _check(self) -> None:
        check_purge("SetPurgeMode", None, self.mode)


@dataclass(frozen=True)
class SetMemory(Command):
    """0..1: how much cached frames steer the present (1 = reference behaviour)."""

    coalesce: ClassVar[bool] = True
    value: float = 1.0

    def _check(self) -> None:
        _in_range("SetMemory.value", self.value, 0.0, 1.0)


@dataclass(frozen=True)
class SetNoiseScale(Command):
    coalesce: ClassVar[bool] = True
    value: float = 1.0

    def _check(self) -> None:
        _in_range("SetNoiseScale.value", self.value, 0.0, 2.0)


@dataclass(frozen=True)
class SetSteps(Command):
    """Nominal denoising steps, e.g. (1000, 750, 500, 250); warped with the stream's shift."""

    coalesce: ClassVar[bool] = True
    steps: tuple[int, ...] = (1000, 750, 500, 250)

    def _check(self) -> None:
        check_steps(self.steps)


@dataclass(frozen=True)
class SetSeed(Command):
    seed: int = 0

    def _check(self) -> None:
        _in_range("SetSeed.seed", self.seed, 0, MAX_SEED)


@dataclass(frozen=True)
class NewSeed(Command):
    """Pick a fresh random seed (ignored while the seed is locked)."""


@dataclass(frozen=True)
class LockSeed(Command):
    locked: bool = True


@dataclass(frozen=True)
class SetPaused(Command):
    paused: bool = True


@dataclass(frozen=True)
class TogglePause(Command):
    pass


@dataclass(frozen=True)
class Reset(Command):
    """Start a fresh stream: clear DiT and VAE state, keep the prompt."""


@dataclass(frozen=True)
class SetDriftGuard(Command):
    coalesce: ClassVar[bool] = True
    enabled: bool = True
    strength: int = 1
    threshold: float = 0.35

    def _check(self) -> None:
        _in_range("SetDriftGuard.strength", self.strength, 0, MAX_STRENGTH)
        _in_range("SetDriftGuard.threshold", self.threshold, 0.0, 100.0)


@dataclass(frozen=True)
class SetV2V(Command):
    """Video-to-video amount 0..1: 0 = off (text-to-video); a enters the denoising at step
    ``schedule.v2v_start_step(n, a)`` (1 = from pure noise)."""

    coalesce: ClassVar[bool] = True
    amount: float = 0.0

    def _check(self) -> None:
        _in_range("SetV2V.amount", self.amount, 0.0, 1.0)


ALL_COMMANDS = (SetPrompt, Purge, Recache, SetReactivity, SetPurgeMode, SetMemory, SetNoiseScale, SetSteps, SetSeed,
                NewSeed, LockSeed, SetPaused, TogglePause, Reset, SetDriftGuard, SetV2V)
