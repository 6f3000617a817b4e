"""Human-readable checks of the control hardware and ports, for ``sfe-live doctor``."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

from sfe_live.show.presets import list_cue_lists, list_profiles

from .audio import list_input_devices
from .midi import backend_label, open_backend
from .osc import port_free
from .settings import ControlSettings
from .tempo import LinkClock, TempoClock


def _midi_apis() -> str:
    try:
        import rtmidi
        apis = [rtmidi.get_api_display_name(a) for a in rtmidi.get_compiled_api()]
        return f"python-rtmidi {getattr(rtmidi, '__version__', '?')}, APIs: {', '.join(apis) or 'none'}"
    except Exception as e:
        return f"python-rtmidi unavailable ({type(e).__name__}: {e})"


def doctor_lines(settings: Union[ControlSettings, Mapping[str, Any], None] = None) -> list[str]:
    """One line per check: MIDI backend and ports, audio devices, OSC port, Link, presets."""
    s = ControlSettings.from_any(settings)
    lines = []
    be, err = open_backend(s.midi_backend)
    ins: list[str] = []
    outs: list[str] = []
    if be is not None:
        backend = backend_label(be)
        try:
            ins, outs = list(be.get_input_names()), list(be.get_output_names())
        except Exception as e:
            err = f"{type(e).__name__}: {e}"
    if err:
        lines.append(f"MIDI: unavailable — {err} [{_midi_apis()}]")
    else:
        lines.append(f"MIDI: {backend} [{_midi_apis()}]: {len(ins)} input(s)"
                     + (f" ({', '.join(ins)})" if ins else "") + f", {len(outs)} output(s)"
                     + (f" ({', '.join(outs)})" if outs else ""))
        if not ins:
            lines.append("MIDI: no controller connected (plug one in; it is picked up within seconds)")
    devices, aerr = list_input_devices()
    if aerr:
        lines.append(f"Audio: unavailable — {aerr}")
    else:
        lines.append(f"Audio: {len(devices)} input device(s)" + (f": {'; '.join(devices)}" if devices else
                                                                 " (audio reactivity needs one)"))
    why: Optional[str] = port_free(s.osc_port, s.osc_host)
    if why is None:
        lines.append(f"OSC: UDP {s.osc_host}:{s.osc_port} is free")
    else:
        lines.append(f"OSC: UDP {s.osc_host}:{s.osc_port} cannot be used ({why}); pick another with --osc-port")
    link = LinkClock(TempoClock())
    lines.append("Tempo: Ableton Link available (aalink; off until --link)" if link.available else
                 f"Tempo: {link.error}; tap tempo and MIDI clock work without it")
    profiles = list_profiles()
    lines.append(f"Controller profiles: {len(profiles)}" + (f" ({', '.join(sorted(profiles))})" if profiles else ""))
    cues = list_cue_lists()
    lines.append(f"Cue lists: {len(cues)}" + (f" ({', '.join(sorted(cues))})" if cues else ""))
    return lines
