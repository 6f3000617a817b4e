"""The video-to-video input on the command line: ``--v2v-source KIND[:NAME]`` on ``sfe-live`` and
``sfe-live run``, and ``make_source(spec)``, the one factory the window's v2v menu uses too.

Kinds: ``file:PATH``, ``image:PATH``, ``camera[:DEVICE]``, ``ndi:NAME`` (a unique part of the full
NDI name, e.g. ``ndi:Resolume``), ``spout[:SENDER]`` (Windows; none = the active sender),
``syphon[:SERVER]`` (macOS; none = the first server).
"""

from __future__ import annotations

import argparse
from typing import Any

from .base import Source

__all__ = ["SOURCE_KINDS", "add_source_arguments", "make_source", "source_settings"]

SOURCE_KINDS = ("file", "image", "camera", "ndi", "spout", "syphon")


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--v2v-source", metavar="KIND[:NAME]",
                        help="video-to-video input: file:PATH, image:PATH, camera[:DEVICE], ndi:NAME, "
                             "spout[:SENDER] (Windows), syphon[:SERVER] (macOS)")
    parser.add_argument("--v2v-amount", type=float, default=0.5,
                        help="0..1: how much of each block is re-generated from the input (1 = all)")


def source_settings(args: argparse.Namespace) -> dict[str, Any]:
    """AppSettings fields from the parsed flags (``--v2v-amount`` where the command has it)."""
    spec = getattr(args, "v2v_source", None)
    if spec:
        make_source(spec)  # a wrong spec is one clear line now, not after the model loaded
    out: dict[str, Any] = {"v2v_source": spec or None}
    amount = getattr(args, "v2v_amount", None)
    if amount is not None:
        if not 0.0 < float(amount) <= 1.0:
            raise ValueError(f"--v2v-amount {amount}: expected a number in (0, 1]")
        out["v2v_amount"] = float(amount)
    return out


def make_source(spec: str) -> Source:
    """A source from ``KIND[:NAME]``; raises ValueError with the accepted forms."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "file" and arg:
        from .file import FileSource

        return FileSource(arg)
    if kind == "image" and arg:
        from .still import StillImageSource

        return StillImageSource(arg)
    if kind == "camera":
        from .camera import CameraSource

        return CameraSource(arg or None)
    if kind == "ndi" and arg:
        from .ndi import NDISource

        return NDISource(arg)
    if kind == "spout":
        from .texshare import SpoutSource

        return SpoutSource(arg)
    if kind == "syphon":
        from .texshare import SyphonSource

        return SyphonSource(arg)
    raise ValueError(f"--v2v-source {spec!r}: expected file:PATH, image:PATH, camera[:DEVICE], ndi:NAME, "
                     "spout[:SENDER] or syphon[:SERVER]")
