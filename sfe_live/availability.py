"""Whether a part (a sink, a source, a runtime) can work on this machine, and the doctor's line for it.

Outputs and sources both answer ``is_available() -> Availability`` cheaply; ``reason`` says what
to do when a part cannot work. ``doctor_line`` formats one line of ``sfe-live doctor``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Availability", "doctor_line"]


@dataclass(frozen=True)
class Availability:
    """Whether a part can work on this machine, and if not, what to do about it."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def doctor_line(ok: bool, name: str, text: str) -> str:
    """``ok``/``--``, the part's name, then ``text`` (continuation lines indented under it)."""
    first, *rest = text.splitlines() or [""]
    head = f"{'ok' if ok else '--'} {name:<16} {first}"
    return "\n".join([head, *(" " * 20 + r.strip() for r in rest)])
