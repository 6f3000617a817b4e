"""The live controls' command-line flags, the same on ``sfe-live`` (the window) and ``sfe-live run``.

:func:`add_control_arguments` adds them to a parser; :func:`control_overrides` turns the parsed
flags into :class:`~sfe_live.controls.settings.ControlSettings` fields — only those given on the
command line, so saved settings (the window's Settings dialog) fill in the rest.
"""

from __future__ import annotations

import argparse
from typing import Any

from .settings import ControlSettings

QUANTIZE_CHOICES = ("none", "beat", "bar")


def _host_port(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:9000), got {text!r}")
    return f"{host or '127.0.0.1'}:{int(port)}"


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"a port is 1..65535, got {text!r}")
    return int(text)


def _bpm(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"BPM is a number, got {text!r}") from None
    if not 20.0 <= v <= 999.0:
        raise argparse.ArgumentTypeError(f"BPM must be within 20..999, got {v:g}")
    return v


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    """OSC, MIDI, audio and tempo flags (defaults None: unset flags leave saved settings alone)."""
    g = parser.add_argument_group("live controls")
    g.add_argument("--osc-host", help="address OSC listens on (default 127.0.0.1; 0.0.0.0 = every network)")
    g.add_argument("--osc-port", type=_port, help="OSC port (default 9310)")
    g.add_argument("--osc-push", type=_host_port, metavar="HOST:PORT",
                   help="push state changes to this OSC receiver (TouchDesigner, a tablet)")
    g.add_argument("--osc-reply-port", type=_port, help="send /sfe/get replies to this port of the asker")
    g.add_argument("--no-osc", action="store_true", default=None, help="do not listen for OSC")
    g.add_argument("--midi", metavar="NAME", help="MIDI input port name (substring; default all)")
    g.add_argument("--audio", action="store_true", default=None, help="audio reactivity from an input")
    g.add_argument("--audio-device", metavar="NAME|INDEX", help="audio input device (implies --audio)")
    g.add_argument("--bpm", type=_bpm, help="starting tempo (default 120)")
    g.add_argument("--quantize", choices=QUANTIZE_CHOICES, help="quantise every cue GO to a beat or bar")


def control_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ControlSettings fields given on the command line (nothing for flags left unset)."""
    out: dict[str, Any] = {}
    get = lambda name: getattr(args, name, None)  # noqa: E731 - parsers without the group give None
    if get("osc_host"):
        out["osc_host"] = str(get("osc_host"))
    if get("osc_port") is not None:
        out["osc_port"] = int(get("osc_port"))
    if get("osc_push"):
        out["osc_push"] = str(get("osc_push"))
    if get("osc_reply_port") is not None:
        out["osc_reply_port"] = int(get("osc_reply_port"))
    if get("no_osc"):
        out["osc_enabled"] = False
    if get("midi"):
        out["midi_inputs"] = [str(get("midi"))]
    if get("audio_device") is not None:
        dev = str(get("audio_device"))
        out["audio_device"] = int(dev) if dev.isdigit() else dev
        out["audio_enabled"] = True
    if get("audio"):
        out["audio_enabled"] = True
    if get("bpm") is not None:
        out["bpm"] = float(get("bpm"))
    if get("quantize"):
        out["quantize"] = str(get("quantize"))
    unknown = set(out) - {f for f in ControlSettings.__dataclass_fields__}
    assert not unknown, unknown
    return out
