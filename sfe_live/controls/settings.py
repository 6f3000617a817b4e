"""Settings of the live controls (OSC, MIDI, audio, tempo, cues), with defaults that work offline.

The app passes a mapping (its settings file, CLI flags) or a :class:`ControlSettings`; unknown
keys are logged and ignored so an older settings file still loads.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from sfe_live.io import config_dir

from .osc import DEFAULT_HOST, DEFAULT_OSC_PORT

log = logging.getLogger(__name__)


@dataclass
class ControlSettings:
    # OSC
    osc_enabled: bool = True
    osc_host: str = DEFAULT_HOST              # "0.0.0.0" opens OSC to the network
    osc_port: int = DEFAULT_OSC_PORT
    osc_reply_port: Optional[int] = None      # /sfe/get replies go here (default: the sender's port)
    osc_push: Optional[str] = None            # "host:port" to push state changes to
    # MIDI
    midi_enabled: bool = True
    midi_backend: Optional[str] = None        # e.g. "mido.backends.rtmidi/UNIX_JACK"
    midi_inputs: Optional[list[str]] = None   # parts of port names to open (None = all)
    midi_profiles: list[str] = field(default_factory=lambda: ["*"])  # names/paths; "*" = all known
    midi_clock: bool = True                   # follow MIDI clock into the tempo
    midi_rescan_s: float = 2.0
    # audio
    audio_enabled: bool = False
    audio_device: Union[int, str, None] = None
    audio_gain_db: float = 0.0
    audio_falloff: float = 2.0                # band fall-off per second (0..1 scale)
    # tempo and cues
    bpm: float = 120.0
    link: bool = False                        # Ableton Link (needs the aalink extra)
    cues: Optional[str] = None                # cue list to load at start (path or name)
    quantize: Optional[str] = None            # force cue GO quantisation: none | beat | bar
    lookahead_ms: float = 0.0                 # fire quantised GO this much before the beat
    # user bindings (keys, OSC, audio, learned MIDI): one TOML file
    bindings_file: Optional[str] = None       # default: <config dir>/bindings.toml

    @classmethod
    def from_any(cls, value: Union["ControlSettings", Mapping[str, Any], None]) -> "ControlSettings":
        if value is None:
            return cls()
        if isinstance(value, ControlSettings):
            return value
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            log.warning("ignoring unknown control settings: %s", ", ".join(unknown))
        return cls(**{k: v for k, v in value.items() if k in known})

    @property
    def bindings_path(self) -> Path:
        return Path(self.bindings_file) if self.bindings_file else config_dir() / "bindings.toml"

    def push_target(self) -> Optional[tuple[str, int]]:
        if not self.osc_push:
            return None
        host, _, port = str(self.osc_push).rpartition(":")
        try:
            return (host or "127.0.0.1", int(port))
        except ValueError:
            log.warning("osc_push must be host:port, got %r", self.osc_push)
            return None
