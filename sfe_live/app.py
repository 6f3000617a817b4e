"""The composition root without Qt: builds model, engine, runner, outputs and controls.

``App`` is what both the GUI (``ui/``) and the headless ``sfe-live run`` drive:

* ``App(settings).load(progress)`` loads the model (slow: call it off the GUI thread);
* ``start()`` / ``stop()`` run the engine worker, the playout and the enabled sinks;
* ``submit(cmd)`` sends an engine command; ``router`` triggers named actions (MIDI, OSC,
  keys, audio and cues all go through it);
* ``status()`` is a plain dict snapshot and ``latest_frame()`` the frame the audience
  sees; the GUI polls both on a timer. Nothing here calls back into the GUI.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from sfe_live.config import StreamOptions
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.pipeline import Block
from sfe_live.engine.runner import Runner

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


@dataclass
class AppSettings:
    model: str = ""                      # "" = the default built-in model
    checkpoint: Optional[str] = None
    device: Optional[str] = None
    width: Optional[int] = None          # None = the model's native size
    height: Optional[int] = None
    prompt: str = "a red ball bouncing on a black background"
    seed: int = 0
    frames_per_block: int = 3
    kv_window: int = -1
    sink_frames: int = 0
    steps: tuple[int, ...] = (1000, 750, 500, 250)
    realtime: bool = True
    cues: Optional[str] = None
    osc: bool = True
    osc_host: str = "127.0.0.1"
    osc_port: Optional[int] = None       # None = the controls' documented default
    midi_port: Optional[str] = None
    audio: bool = False
    vcam: bool = False
    vcam_size: tuple[int, int] = (1280, 720)
    record: Optional[str] = None         # a folder or an .mp4 path
    threads: Optional[int] = None        # torch CPU threads (default: cores - 1)
    log: Optional[str] = None            # write the command log (replayable) here when the show stops

    def stream_options(self) -> StreamOptions:
        """The stream as chosen (validated; raises ValueError naming the bad value)."""
        size = (self.width, self.height) if self.width and self.height else None
        return StreamOptions(size=size, frames_per_block=self.frames_per_block, kv_window=self.kv_window,
                             sink_frames=self.sink_frames, steps=self.steps, seed=self.seed)


class App:
    def __init__(self, settings: Optional[AppSettings] = None) -> None:
        self.settings = settings or AppSettings()
        self.bundle: Any = None
        self.engine: Optional[Engine] = None
        self.runner: Optional[Runner] = None
        self.outputs: Any = None
        self.router: Any = None
        self.hub: Any = None
        self.cues: Any = None
        self.messages: list[str] = []           # human messages for the GUI banner / headless log
        self._lock = threading.Lock()
        self.load_error = ""
        self.recording_path: Optional[Path] = None
        self.blackout = False
        self.frozen = False

    # -- loading ----------------------------------------------------------------------------
    def load(self, progress: Optional[Progress] = None) -> "App":
        from sfe_live.model.bundle import default_model_spec, load_model
        from sfe_live.outputs import OutputManager

        s = self.settings
        say = progress or (lambda f, m: None)
        spec = s.model or default_model_spec()
        say(0.05, f"loading model {spec}")
        self.bundle = load_model(spec, checkpoint=s.checkpoint, device=s.device)
        if self.bundle.device.type == "cpu":
            import torch
            # leave a core for the GUI, playout and sinks
            torch.set_num_threads(s.threads or max(1, (os.cpu_count() or 2) - 1))
            if self.bundle.dit.num_parameters() > 200e6:
                self.message(f"{self.bundle.name} on a CPU: expect many minutes per block; the real model "
                             "needs an NVIDIA GPU (use --model demo to try the app)", logging.WARNING)
        say(0.7, "building the engine")
        stream = s.stream_options().resolve(self.bundle.config)
        self.engine = Engine(self.bundle, stream, prompt=s.prompt, seed=s.seed)
        self.outputs = OutputManager(fps=stream.fps)
        block_s = stream.frames_per_block * self.bundle.config.vae.temporal_factor / stream.fps
        self.runner = Runner(self.engine, realtime=s.realtime, lookahead_s=max(0.5, 1.5 * block_s),
                             ahead=self.outputs.ahead_s)
        self.runner.add_listener(self._on_block)
        say(0.85, "wiring controls")
        self._wire_controls()
        self._wire_outputs()
        say(1.0, "ready")
        return self

    def _on_block(self, block: Block) -> None:
        if self.frozen:
            return                                  # the playout holds the last frame
        frames = np.zeros_like(block.frames) if self.blackout else block.frames
        self.outputs.on_block(block.index, frames)

    def set_blackout(self, on: Any = None) -> None:
        """Black on every output at once (queued frames dropped); off resumes with the next block."""
        self.blackout = (not self.blackout) if on is None else bool(on)
        if self.blackout and self.outputs is not None and self.engine is not None:
            self.outputs.clear()
            s = self.engine.stream
            self.outputs.on_block(-1, np.zeros((1, s.height, s.width, 3), np.uint8))
        if self.hub is not None:
            self.hub.set_state("blackout", self.blackout)

    def set_freeze(self, on: Any = None) -> None:
        """Hold the current frame on every output (generation goes on underneath)."""
        self.frozen = (not self.frozen) if on is None else bool(on)
        if self.frozen and self.outputs is not None:
            self.outputs.clear()
        if self.hub is not None:
            self.hub.set_state("freeze", self.frozen)

    def _wire_outputs(self) -> None:
        s = self.settings
        if s.vcam:
            from sfe_live.outputs.virtualcam import VirtualCamSink
            self.outputs.add_sink(VirtualCamSink(size=s.vcam_size), name="vcam")
            self.outputs.enable("vcam")
        if s.record:
            self.start_recording(s.record)

    def control_settings(self) -> dict[str, Any]:
        s = self.settings
        out: dict[str, Any] = {"osc_enabled": s.osc, "osc_host": s.osc_host, "audio_enabled": s.audio}
        if s.osc_port is not None:
            out["osc_port"] = s.osc_port
        if s.midi_port:
            out["midi_inputs"] = [s.midi_port]
        if s.cues:
            out["cues"] = s.cues
        return out

    def _wire_controls(self) -> None:
        from sfe_live.controls import ControlHub
        self.hub = ControlHub(self.submit, self.engine_status, self.control_settings())
        self.router = self.hub.router
        self.hub.register_handler("record.toggle", lambda v=None: self.toggle_recording())
        self.hub.register_handler("vcam.toggle", lambda v=None: self.toggle_sink("vcam"))
        self.hub.register_handler("blackout", self.set_blackout)
        self.hub.register_handler("freeze", self.set_freeze)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.runner is None:
            self.load()
        self.outputs.start()
        self.runner.start()
        if self.hub is not None:
            self.hub.start()

    def stop(self) -> None:
        if self.hub is not None:
            try:
                self.hub.stop()
            except Exception:
                log.exception("stopping controls")
        if self.runner is not None:
            self.runner.stop()
        if self.outputs is not None:
            self.outputs.stop()
        if self.settings.log and self.engine is not None:
            self.engine.write_log(self.settings.log)
            log.info("command log written to %s", self.settings.log)

    # -- commands and actions ---------------------------------------------------------------------
    def submit(self, cmd: C.Command) -> None:
        if self.runner is None:
            raise RuntimeError("the app is not loaded yet")
        self.runner.submit(cmd)

    def trigger(self, action_id: str, value: Any = None, source: str = "ui") -> bool:
        if self.hub is None:
            return False
        return self.hub.trigger(action_id, value, source=source)

    # -- sources (video-to-video) ----------------------------------------------------------------
    def set_v2v_source(self, source: Any, amount: Optional[float] = None) -> None:
        """Feed a source (``latest(n) -> uint8 [n, H, W, 3]``) to the engine from the next block on;
        None stops v2v. A file source stepped at the stream's rate is logged as replayable."""
        if self.engine is None or self.runner is None:
            raise RuntimeError("the app is not loaded yet")
        old = getattr(self, "_v2v_source", None)
        if old is not None and old is not source:
            try:
                old.close()
            except Exception:
                log.exception("closing the previous v2v source")
        self._v2v_source = source
        from sfe_live.engine.replaylog import SourceSpec
        from sfe_live.sources.file import FileSource
        if source is not None:
            source.open(self.engine.stream.width, self.engine.stream.height)
            if isinstance(source, FileSource) and source.stepped_fps == self.engine.stream.fps:
                spec = SourceSpec("file", str(source.path.resolve()), source.name)
            else:
                spec = SourceSpec("live", name=source.name)
            self.runner.set_source(source.latest, spec)
        else:
            self.runner.set_source(None, SourceSpec())
        if amount is not None:
            self.submit(C.SetV2V(amount=amount))

    # -- outputs -----------------------------------------------------------------------------------
    def start_recording(self, target: str | Path) -> Path:
        from sfe_live.outputs.recorder import Recorder
        target = Path(target)
        rec = Recorder(target.parent, stem=target.stem) if target.suffix else Recorder(target)
        name = "record"
        if name in self.outputs.sink_names:
            self.outputs.remove_sink(name)
        self.outputs.add_sink(rec, name=name)
        self.outputs.enable(name)
        self.recording_path = getattr(rec, "path", None)
        self.message(f"recording to {self.recording_path or target}")
        return target

    def toggle_recording(self) -> None:
        if "record" in (self.outputs.sink_names if self.outputs else []):
            self.outputs.remove_sink("record")
            self.message("recording stopped")
        else:
            self.start_recording(self.settings.record or "recordings")
        if self.hub is not None:
            self.hub.set_state("recording", "record" in self.outputs.sink_names)

    def toggle_sink(self, name: str) -> None:
        if name not in self.outputs.sink_names:
            if name == "vcam":
                from sfe_live.outputs.virtualcam import VirtualCamSink
                self.outputs.add_sink(VirtualCamSink(size=self.settings.vcam_size), name="vcam")
            else:
                return
        st = {s.name: s for s in self.outputs.status().sinks}.get(name)
        if st is not None and st.state.value in ("running", "starting"):
            self.outputs.disable(name)
        else:
            self.outputs.enable(name)

    # -- reading (any thread) ----------------------------------------------------------------------
    def message(self, text: str, level: int = logging.INFO) -> None:
        log.log(level, text)
        with self._lock:
            self.messages.append(text)
            del self.messages[:-50]

    def engine_status(self) -> Any:
        return self.runner.status() if self.runner is not None else {}

    def latest_frame(self) -> tuple[Optional[np.ndarray], int]:
        if self.outputs is None:
            return None, -1
        return self.outputs.latest()

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.runner is not None:
            out["engine"] = self.runner.status().to_dict()
        if self.outputs is not None:
            out["outputs"] = dataclasses.asdict(self.outputs.status())
        if self.bundle is not None:
            out["model"] = self.bundle.describe()
        if self.hub is not None:
            out["controls"] = self.hub.status()
        with self._lock:
            out["messages"] = list(self.messages[-5:])
        return out
