"""The output flags shared by ``sfe-live`` (window) and ``sfe-live run``, and the one place the
app's outputs are built.

``add_output_arguments(parser)`` adds ``--spout --syphon --ndi --vcam --record DIR --output-name``;
``output_options(args)`` reads them into an ``OutputOptions``; ``build_sinks(options)`` makes every
output (enabled or not) so the Outputs panel can switch each one live. Each sink publishes under
``options.name`` ("sfe-live" by default) where the protocol has names (Spout, Syphon, NDI).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .sink import Sink

__all__ = ["OUTPUT_KINDS", "OutputOptions", "OutputSpec", "add_output_arguments", "build_sinks", "output_options"]

# key -> label, in panel order
OUTPUT_KINDS: dict[str, str] = {
    "spout": "Spout",
    "syphon": "Syphon",
    "ndi": "NDI",
    "vcam": "Virtual camera",
    "record": "Recording",
}


def default_record_dir() -> Path:
    """``$SFE_LIVE_RECORDINGS_DIR``, else ``<the user's video folder>/sfe-live`` (never the current folder)."""
    env = os.environ.get("SFE_LIVE_RECORDINGS_DIR")
    if env:
        return Path(env)
    from platformdirs import user_videos_dir
    return Path(user_videos_dir()) / "sfe-live"


@dataclass(frozen=True)
class OutputOptions:
    """Which outputs start enabled, and the name they publish under."""

    spout: bool = False
    syphon: bool = False
    ndi: bool = False
    vcam: bool = False
    record: Optional[str] = None  # a folder (or an .mp4 path): recording starts at once
    record_dir: Optional[str] = None  # where Record writes when switched on (default: default_record_dir())
    name: str = "sfe-live"
    vcam_size: tuple[int, int] = (1280, 720)

    def enabled(self, key: str) -> bool:
        return bool(self.record) if key == "record" else bool(getattr(self, key))


@dataclass(frozen=True)
class OutputSpec:
    key: str
    label: str
    sink: Sink
    enabled: bool


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """The output flags, identical on every command that runs the show."""
    g = parser.add_argument_group("outputs (each can also be switched live in the Outputs panel)")
    g.add_argument("--spout", action="store_true", help="send to Spout (Windows; SpoutGL extra)")
    g.add_argument("--syphon", action="store_true", help="publish a Syphon server (macOS; syphon-python extra)")
    g.add_argument("--ndi", action="store_true", help="send an NDI stream (cyndilib extra)")
    g.add_argument("--vcam", action="store_true", help="feed the virtual camera (pyvirtualcam extra)")
    g.add_argument("--record", metavar="DIR", help="record MP4 files into DIR from the start")
    g.add_argument("--record-dir", metavar="DIR",
                   help="where Record writes when switched on (default: your video folder/sfe-live)")
    g.add_argument("--output-name", default="sfe-live", metavar="NAME",
                   help="the name Spout, Syphon and NDI receivers see (default: sfe-live)")


def output_options(args: argparse.Namespace) -> OutputOptions:
    name = (getattr(args, "output_name", None) or "sfe-live").strip() or "sfe-live"
    return OutputOptions(spout=bool(getattr(args, "spout", False)), syphon=bool(getattr(args, "syphon", False)),
                         ndi=bool(getattr(args, "ndi", False)), vcam=bool(getattr(args, "vcam", False)),
                         record=getattr(args, "record", None) or None,
                         record_dir=getattr(args, "record_dir", None) or None, name=name)




def record_sink(target: str | Path) -> Sink:
    """A recorder for a folder, or for ``DIR/NAME.mp4`` (the stem is kept)."""
    from .recorder import Recorder

    target = Path(target)
    return Recorder(target.parent, stem=target.stem) if target.suffix else Recorder(target)


def build_sinks(options: OutputOptions) -> list[OutputSpec]:
    """Every output the app offers, in panel order; heavy imports wait until a sink opens."""
    from .ndi import NDISink
    from .texshare import SpoutSink, SyphonSink
    from .virtualcam import VirtualCamSink

    sinks: dict[str, Sink] = {
        "spout": SpoutSink(options.name),
        "syphon": SyphonSink(options.name),
        "ndi": NDISink(options.name),
        "vcam": VirtualCamSink(size=options.vcam_size, name="vcam"),
        "record": record_sink(options.record or options.record_dir or default_record_dir()),
    }
    return [OutputSpec(k, OUTPUT_KINDS[k], sinks[k], options.enabled(k)) for k in OUTPUT_KINDS]
