"""``RemoteApp``: the laptop's :class:`~sfe_live.app.App` when the engine runs elsewhere.

It is the same composition root as a local app — the same ``ControlHub`` (OSC, MIDI, keys, audio),
the same ``OutputManager`` (preview, recording, virtual camera, NDI) and the same app-level actions —
with the model replaced by a :class:`~sfe_live.remote.link.RemoteLink`:

* every named action except the laptop's own output actions (``protocol.LOCAL_ACTIONS``: record,
  virtual camera, fullscreen, blackout, freeze) is forwarded to the server, where its router applies
  it at the next block; engine commands submitted directly are forwarded too. Cues: a cue list
  loaded on the laptop is played here (its SetPrompt commands go to the server); without one,
  ``cue.go`` fires the server's list (``serve --cues``);
* received frames enter the outputs' playout like engine blocks do, so the playout's jitter buffer
  paces them and, when the link drops, every output holds the last frame;
* ``status()`` is the remote engine's status plus a ``remote`` entry (state, RTT, jitter, dropped
  frames, bitrate, queued/expired actions).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Optional

import numpy as np

from sfe_live.app import App, AppSettings, Progress
from sfe_live.config import RemoteConfig
from sfe_live.engine import commands as C
from sfe_live.engine.runner import EngineStatus

from .link import RemoteLink
from .protocol import LOCAL_ACTIONS

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0
_FIELDS = {f.name for f in dataclasses.fields(EngineStatus)}


def engine_status(d: dict[str, Any]) -> EngineStatus:
    """The server's engine status dict as the local ``EngineStatus`` (lists back to tuples)."""
    return EngineStatus(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in _FIELDS})


class RemoteRunner:
    """Stands where the local ``Runner`` stands: ``submit`` forwards, ``status`` reads the server's."""

    def __init__(self, link: RemoteLink) -> None:
        self.link = link

    def submit(self, cmd: C.Command) -> None:
        self.link.send_command(cmd)

    def status(self) -> EngineStatus:
        return engine_status(self.link.remote.get("engine") or {})

    def prefetch(self, prompts: Any) -> None:
        """Cue-list prompts are encoded where the engine is (the server), not here."""

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class RemoteApp(App):
    """An ``App`` whose engine is a ``sfe-live serve`` across the network."""

    def __init__(self, settings: AppSettings) -> None:
        super().__init__(settings)
        if settings.remote is None:
            raise ValueError("RemoteApp needs settings.remote (the server URL and token)")
        self.remote: RemoteConfig = settings.remote
        self.link: Optional[RemoteLink] = None
        self._n = 0
        self._local_cues: dict[str, Any] = {}
        self._local_tempo: dict[str, Any] = {}

    def load(self, progress: Optional[Progress] = None) -> "App":
        from sfe_live.outputs import OutputManager
        from .server import ice_configuration
        say = progress or (lambda f, m: None)
        r = self.remote
        say(0.1, f"connecting to {r.url}")
        self.link = RemoteLink(r.url, r.token, self._on_frame, self.message, ttl_s=r.ttl_s, ca_file=r.ca_file,
                               ice=ice_configuration(r.ice_servers, r.ice_username, r.ice_credential)).start()
        if not self.link.wait_connected(CONNECT_TIMEOUT_S):
            self.link.stop()
            raise ConnectionError(self.link.error or f"no answer from {r.url} within {CONNECT_TIMEOUT_S:g} s")
        fps = float((self.link.remote.get("engine") or {}).get("fps_target") or 16)
        self.outputs = OutputManager(fps=fps)
        self.runner = RemoteRunner(self.link)   # type: ignore[assignment]
        say(0.85, "wiring controls")
        self._wire_controls()
        for spec in self.hub.router.registry:
            if spec.id not in LOCAL_ACTIONS:
                self.hub.register_handler(spec.id, lambda v, a=spec.id: self._forward(a, v))
        self._wire_outputs()
        self._local_cues = {"cue.go": lambda v: self.hub.cues.go(int(v)), "cue.next": lambda v: self.hub.cues.next(),
                            "cue.prev": lambda v: self.hub.cues.prev(),
                            "cue.quantize": lambda v: setattr(self.hub.cues, "quantize_override", v)}
        self._local_tempo = {"tempo.tap": lambda v: self.hub.tempo.tap(),
                             "tempo.set": lambda v: self.hub.tempo.set_bpm(float(v), source="internal"),
                             "tempo.sync": lambda v: self.hub.tempo.sync()}
        self.loaded = True
        say(1.0, "ready")
        return self

    def describe_model(self) -> dict[str, Any]:
        assert self.link is not None
        return {**(self.link.remote.get("model") or {}), "source": self.remote.url}

    def _forward(self, action_id: str, value: Any) -> None:
        """Send an action to the server. Cue actions run on the laptop's cue player instead when a cue
        list is loaded here (GUI or ``--cues``): its cue commands then go to the server as engine
        commands. Tempo actions run on both sides (either side's cue list quantises to the taps)."""
        assert self.link is not None
        if action_id in self._local_cues and self.hub.cues.cue_list is not None:
            self._local_cues[action_id](value)
            return
        if action_id in self._local_tempo:
            self._local_tempo[action_id](value)
        self.link.send_action(action_id, value)

    def _on_frame(self, rgb: np.ndarray) -> None:
        """The link's thread: one received frame into the playout (like an engine block)."""
        if self.outputs is None or self.frozen:
            return
        self._n += 1
        self.outputs.on_block(self._n, (np.zeros_like(rgb) if self.blackout else rgb)[None])

    def start(self) -> None:
        self.outputs.start()
        if self.hub is not None:
            self.hub.start()

    def stop(self) -> None:
        super().stop()
        if self.link is not None:
            self.link.stop()

    def set_command_log(self, path: Optional[str]) -> str:
        self.settings.log = path or None
        if not path:
            return ""
        return "command log: a remote show's log is written where the engine runs (sfe-live serve --log)"

    def write_command_log(self) -> None:
        if self.settings.log:
            log.warning("command log not written to %s: the engine runs on the server (sfe-live serve --log)",
                        self.settings.log)

    def status(self) -> dict[str, Any]:
        out = super().status()
        if self.link is not None:
            out["remote"] = dataclasses.asdict(self.link.stats())
            out["remote"]["frames_sent"] = self.link.remote.get("frames_sent", 0)
        return out

