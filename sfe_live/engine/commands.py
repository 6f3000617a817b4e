"""Frozen command dataclasses: everything a control can ask of the engine.

Commands are submitted from any thread with ``Runner.submit(cmd)`` and applied by the
worker at block edges (a purge at its denoising step). Discrete commands (``coalesce ==
False``) are FIFO and never dropped; continuous ones (``coalesce == True``) keep only the
latest value per command type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

TRANSITIONS = ("cut", "purge", "blend", "recache")
BLEND_MODES = ("linear", "slerp")
MAX_STRENGTH = 3


@dataclass(frozen=True)
class Command:
    coalesce: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class SetPrompt(Command):
    """Switch the prompt from the next block on, with a transition."""

    text: str
    transition: str = "cut"           # cut | purge | blend | recache
    strength: Optional[int] = None    # purge strength 0..3 for transition "purge" (None = current reactivity)
    blend_blocks: int = 4             # blocks of a "blend"
    blend_mode: str = "linear"        # linear | slerp


@dataclass(frozen=True)
class Purge(Command):
    """Clear the self-attention KV cache before step ``3 - strength`` of the next block."""

    strength: Optional[int] = None    # None = the current reactivity


@dataclass(frozen=True)
class Recache(Command):
    """Recompute the cached K/V of the window under the current prompt (LongLive-style)."""


@dataclass(frozen=True)
class SetReactivity(Command):
    """The default purge strength (0..3) used when a purge names none."""

    coalesce: ClassVar[bool] = True
    strength: int = 3


@dataclass(frozen=True)
class SetMemory(Command):
    """0..1: how much cached frames steer the present (1 = reference behaviour)."""

    coalesce: ClassVar[bool] = True
    value: float = 1.0


@dataclass(frozen=True)
class SetNoiseScale(Command):
    coalesce: ClassVar[bool] = True
    value: float = 1.0


@dataclass(frozen=True)
class SetSteps(Command):
    """Nominal denoising steps, e.g. (1000, 750, 500, 250); warped with the stream's shift."""

    coalesce: ClassVar[bool] = True
    steps: tuple[int, ...] = (1000, 750, 500, 250)


@dataclass(frozen=True)
class SetSeed(Command):
    seed: int = 0


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


@dataclass(frozen=True)
class SetV2V(Command):
    """Video-to-video strength 0..1: 0 = off (text-to-video); s enters the denoising at step round((1 - s) * n) (1 = from pure noise)."""

    coalesce: ClassVar[bool] = True
    strength: float = 0.0


ALL_COMMANDS = (SetPrompt, Purge, Recache, SetReactivity, SetMemory, SetNoiseScale, SetSteps, SetSeed,
                NewSeed, LockSeed, SetPaused, TogglePause, Reset, SetDriftGuard, SetV2V)
