"""The composition root without Qt: builds model, engine, runner, outputs and controls.

``App`` is what both the GUI (``ui/``) and the headless ``sfe-live run`` drive:

* ``App(settings).load(progress)`` loads the model (slow: call it off the GUI thread) and
  builds every part: bundle, engine, runner, outputs, control hub with its router, cue player
  and key map. An app is either not loaded (``loaded`` False: only ``load``, ``status`` and
  ``stop`` answer) or fully built; nothing checks for missing parts after that;
* ``start()`` / ``stop()`` run the engine worker, the playout and the enabled sinks;
* ``submit(cmd)`` sends an engine command; ``router`` triggers named actions (MIDI, OSC,
  keys, audio and cues all go through it);
* ``status()`` is a plain dict snapshot (the engine's part is one ``EngineStatus``) and
  ``latest_frame()`` the frame the audience sees; the GUI polls both on a timer. Nothing here
  calls back into the GUI.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from sfe_live.config import RemoteConfig, StreamConfig, StreamOptions
from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.pipeline import Block
from sfe_live.outputs.options import OutputOptions
from sfe_live.engine.runner import EngineStatus, Runner
from sfe_live.model.decoders.options import DecoderChoice
from sfe_live.model.runtime import RuntimeOptions

if TYPE_CHECKING:
    from sfe_live.controls.hub import ControlHub
    from sfe_live.controls.router import ActionRouter
    from sfe_live.model.bundle import ModelBundle
    from sfe_live.outputs.manager import OutputManager
    from sfe_live.outputs.playout import PlayoutConfig
    from sfe_live.sources.base import Source

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
LIVE_LOG_LIMIT = 2000                    # command-log entries a live show keeps in memory


@dataclass
class AppSettings:
    model: str = ""                      # "" = the default built-in model
    checkpoint: Optional[str] = None
    decoder: DecoderChoice = field(default_factory=DecoderChoice)   # Wan VAE or TAEHV
    device: Optional[str] = None
    width: Optional[int] = None          # None = the model's native size
    height: Optional[int] = None
    prompt: Optional[str] = None         # None = the model's own first prompt (model.json "prompt")
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
    link: bool = False                   # Ableton Link tempo (aalink extra)
    outputs: OutputOptions = OutputOptions()   # Spout, Syphon, NDI, virtual camera, recording
    v2v_source: Optional[str] = None     # KIND[:NAME] (sources.options.make_source), opened at start
    v2v_amount: float = 0.5             # 0..1: how much of each block video-to-video re-generates
    low_latency: bool = False            # 1 latent frame per block and a minimal playout buffer
    pace: bool = True                    # spread a slower engine's frames evenly (playout.py), not freezes
    threads: Optional[int] = None        # torch CPU threads (default: cores - 1)
    controls: dict[str, Any] = field(default_factory=dict)   # ControlSettings fields (flags, Settings dialog)
    remote: Optional[RemoteConfig] = None  # the engine runs on a `sfe-live serve` (sfe_live.remote)
    runtime: RuntimeOptions = dataclasses.field(default_factory=RuntimeOptions)  # dtype, text device, compile, fp8
    log: Optional[str] = None            # write the command log (replayable) here when the show stops

    def stream_options(self) -> StreamOptions:
        """The stream as chosen (validated; raises ValueError naming the bad value)."""
        size = (self.width, self.height) if self.width and self.height else None
        return StreamOptions(size=size, frames_per_block=1 if self.low_latency else self.frames_per_block,
                             kv_window=self.kv_window, sink_frames=self.sink_frames, steps=self.steps, seed=self.seed)


def playout_config(low_latency: bool, pace: bool = True) -> "PlayoutConfig":
    """Normal: a 4-frame prebuffer that rides out a slow block. Low latency: start on the first frame
    and hold 1 frame after an underrun (a stutter is possible on a loaded machine). ``pace``: an
    engine slower than the model's fps is shown evenly at its own rate instead of in bursts."""
    from sfe_live.outputs.playout import PlayoutConfig
    if low_latency:
        return PlayoutConfig(prebuffer=1, rebuffer_hold=1, pace=pace)
    return PlayoutConfig(pace=pace)


def runner_lookahead(block_s: float, low_latency: bool) -> float:
    """Seconds of video the engine may run ahead of the screen: 0.5 s (or 1.5 blocks) normally; one
    block in low-latency mode, so a command waits behind at most one block already made."""
    return block_s if low_latency else max(0.5, 1.5 * block_s)


class App:
    """The running show; every part below exists once :meth:`load` has returned."""

    bundle: ModelBundle
    engine: Engine
    runner: Runner
    outputs: OutputManager
    hub: ControlHub
    router: ActionRouter            # the hub's router: MIDI, OSC, keys, audio, cues and the UI

    def __init__(self, settings: Optional[AppSettings] = None) -> None:
        self.settings = settings or AppSettings()
        self.loaded = False
        self.v2v_source: Optional[Source] = None
        self.messages: list[str] = []           # human messages for the GUI banner / headless log
        self._lock = threading.Lock()
        self.load_error = ""
        self.output_labels: dict[str, str] = {}
        self._availability: dict[str, tuple[bool, str]] = {}
        self.blackout = False
        self.frozen = False

    # -- loading ----------------------------------------------------------------------------
    def load(self, progress: Optional[Progress] = None) -> "App":
        from sfe_live.model.bundle import default_model_spec
        from sfe_live.model.runtime import load_for_stream, warm_up
        from sfe_live.outputs import OutputManager

        s = self.settings
        say = progress or (lambda f, m: None)
        spec = s.model or default_model_spec()
        say(0.05, f"loading model {spec}")
        plan_stream = StreamConfig(height=s.height or 480, width=s.width or 832, frames_per_block=s.frames_per_block,
                                   kv_window=s.kv_window, sink_frames=s.sink_frames)
        self.bundle = load_for_stream(spec, plan_stream, s.runtime, s.checkpoint, s.device, decoder=s.decoder)
        if self.bundle.device.type == "cpu":
            import torch
            # leave a core for the GUI, playout and sinks
            torch.set_num_threads(s.threads or max(1, (os.cpu_count() or 2) - 1))
            if self.bundle.dit.num_parameters() > 200e6:
                self.message(f"{self.bundle.name} on a CPU: expect many minutes per block; the real model "
                             "needs an NVIDIA GPU (use --model demo to try the app)", logging.WARNING)
        say(0.7, "building the engine")
        stream = s.stream_options().resolve(self.bundle.config)
        # a long show keeps the newest commands in memory, unless --log asks for all of them
        self.engine = Engine(self.bundle, stream, prompt=self.bundle.config.first_prompt(s.prompt), seed=s.seed,
                             log_limit=None if s.log else LIVE_LOG_LIMIT)
        if s.runtime.compile:
            say(0.75, "compiling the DiT (warm-up)")
            reason = warm_up(self.engine)
            if reason:
                self.message(reason, logging.WARNING)
        self.outputs = OutputManager(fps=stream.fps, playout=playout_config(s.low_latency, s.pace))
        block_s = stream.frames_per_block * self.bundle.config.vae.temporal_factor / stream.fps
        self.runner = Runner(self.engine, realtime=s.realtime, lookahead_s=runner_lookahead(block_s, s.low_latency),
                             ahead=self.outputs.ahead_s)
        self.runner.add_listener(self._on_block)
        self.runner.add_pause_listener(self.outputs.set_hold)
        say(0.85, "wiring controls")
        self._wire_controls()
        # cues fire where the engine takes a block's commands, timed by when that block is shown (as in render)
        self.hub.cues.drive_by_blocks(self.runner.presentation_time)
        self.runner.add_edge_hook(self.hub.cues.block_edge)
        self._wire_outputs()
        self.loaded = True
        say(1.0, "ready")
        return self

    def _on_block(self, block: Block) -> None:
        # frozen: blocks still flow through the playout (which shows the held frame), so the engine
        # keeps its real-time pace instead of racing ahead with nothing consuming its frames
        frames = np.zeros_like(block.frames) if self.blackout else block.frames
        self.outputs.on_block(block.index, frames)

    def set_blackout(self, on: Any = None) -> None:
        """Black on every output at once (queued frames dropped); off resumes with the next block."""
        self.blackout = (not self.blackout) if on is None else bool(on)
        if self.blackout:
            self.outputs.clear()
            s = self.engine.stream
            self.outputs.on_block(-1, np.zeros((1, s.height, s.width, 3), np.uint8))
        self.hub.set_state("blackout", self.blackout)

    def set_freeze(self, on: Any = None) -> None:
        """Hold the current frame on every output (generation goes on underneath)."""
        self.frozen = (not self.frozen) if on is None else bool(on)
        self.outputs.set_freeze(self.frozen)
        self.hub.set_state("freeze", self.frozen)

    def _wire_outputs(self) -> None:
        """Every output is added (off unless its flag asked for it) so the panel can switch it."""
        from sfe_live.outputs.options import build_sinks
        self.output_labels: dict[str, str] = {}
        for spec in build_sinks(self.settings.outputs):
            self.outputs.add_sink(spec.sink, name=spec.key)
            self.output_labels[spec.key] = spec.label
        self.refresh_availability()
        for spec in build_sinks(self.settings.outputs):
            if spec.enabled:
                self.set_output(spec.key, True)

    def control_settings(self) -> dict[str, Any]:
        s = self.settings
        out: dict[str, Any] = {"osc_enabled": s.osc, "osc_host": s.osc_host, "audio_enabled": s.audio,
                               "link": s.link}
        if s.osc_port is not None:
            out["osc_port"] = s.osc_port
        if s.midi_port:
            out["midi_inputs"] = [s.midi_port]
        if s.cues:
            out["cues"] = s.cues
        out.update(s.controls)
        return out

    def reconfigure_controls(self, changes: dict[str, Any]) -> list[str]:
        """Apply control settings live (OSC host/port/push, MIDI, audio device, tempo, Link, quantise);
        returns the names that changed. They also apply to the next model load."""
        self.settings.controls.update(changes)
        return self.hub.reconfigure(changes) if self.hub is not None else []

    def _wire_controls(self) -> None:
        from sfe_live.controls import ControlHub
        self.hub = ControlHub(self.submit, self.engine_status, self.control_settings())
        self.router = self.hub.router
        self.hub.cues.on_load = self.runner.prefetch       # cue GO never waits for the text encoder
        # with a value they set (/sfe/record T never stops a recording); without one they flip
        self.hub.register_handler("record.toggle", lambda v=None: self.switch_output("record", v))
        self.hub.register_handler("vcam.toggle", lambda v=None: self.switch_output("vcam", v))
        self.hub.register_handler("blackout", self.set_blackout)
        self.hub.register_handler("freeze", self.set_freeze)
        self.router.add_state_provider("show", self.show_state)

    def show_state(self) -> dict[str, Any]:
        """What the audience gets, read from the outputs themselves (``/sfe/get/recording``, LEDs, the window)."""
        running = set()
        if self.outputs is not None:
            running = {s.name for s in self.outputs.status().sinks
                       if s.state.value in ("running", "starting", "stalled")}
        return {"recording": "record" in running, "vcam": "vcam" in running,
                "blackout": self.blackout, "freeze": self.frozen}

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.loaded:
            self.load()
        self.outputs.start()
        if self.settings.v2v_source and self.v2v_source is None:
            from sfe_live.sources.options import make_source
            try:
                self.set_v2v_source(make_source(self.settings.v2v_source), self.settings.v2v_amount)
            except Exception as exc:  # a missing source never stops generation
                self.message(f"v2v source {self.settings.v2v_source}: {str(exc).splitlines()[0]}", logging.ERROR)
        self.runner.start()
        self.hub.start()

    def summary(self) -> str:
        """One line for the end of a run: blocks, frames generated, dropped and repeated by the playout."""
        if self.runner is None or self.outputs is None:
            return "nothing ran"
        p = self.outputs.status().playout
        return (f"{self.runner.blocks_done} blocks, {p.received} frames generated, {p.overrun_frames} dropped "
                f"by the playout, {p.repeats} repeated in underruns, {p.paced_repeats} to pace a slower engine "
                f"(longest still: {p.longest_still} ticks)")

    def startup_problems(self) -> list[str]:
        """Parts the user asked for by name that did not start (an OSC port, a cue list): one line
        each. ``run --headless`` stops with exit status 2 on them; the window shows them."""
        errors = self.hub.errors if self.hub is not None else {}
        s = self.settings
        out = []
        if s.osc and errors.get("osc"):
            out.append(errors["osc"])
        if s.cues and errors.get("cues"):
            out.append(f"--cues {s.cues}: {errors['cues']}")
        return out

    def stop(self) -> None:
        if not self.loaded:
            return
        try:
            _timed_stop("controls", self.hub.stop)
        except Exception:
            log.exception("stopping controls")
        _timed_stop("engine", self.runner.stop)
        _timed_stop("outputs", self.outputs.stop)
        _timed_stop("command log", self.write_command_log)

    # -- the command log (replayable) ---------------------------------------------------------------
    def set_command_log(self, path: Optional[str]) -> str:
        """Write the command log to ``path`` when the show stops (None: no log; ``--log`` or the Settings
        dialog). Set during a show, the engine keeps every entry from then on, so the log still runs from
        the show's start; returns "" or one line saying why it cannot for this show (it then applies from
        the next start)."""
        self.settings.log = path or None
        if not self.loaded:
            return ""
        self.engine.log_limit = None if path else LIVE_LOG_LIMIT
        if path and self.engine.log_dropped:
            return (f"command log: the first {self.engine.log_dropped} commands of this show are no longer in "
                    f"memory; {path} gets a complete log from the next start")
        return ""

    def write_command_log(self) -> None:
        """At stop: the command log to ``settings.log``; one line in the messages when it cannot be."""
        path = self.settings.log
        if not path:
            return
        try:
            self.engine.write_log(path)
        except (OSError, ValueError) as exc:
            self.message(f"command log not written to {path}: {exc}", logging.ERROR)
            return
        log.info("command log written to %s", path)

    # -- commands and actions ---------------------------------------------------------------------
    def submit(self, cmd: C.Command) -> None:
        if not self.loaded:
            raise RuntimeError("the app is not loaded yet: App.load() first")
        self.runner.submit(cmd)

    def trigger(self, action_id: str, value: Any = None, source: str = "ui") -> bool:
        return self.hub.trigger(action_id, value, source=source)

    # -- sources (video-to-video) ----------------------------------------------------------------
    def set_v2v_source(self, source: Optional[Source], amount: Optional[float] = None) -> None:
        """Feed a source (``latest(n) -> uint8 [n, H, W, 3]``) to the engine from the next block on;
        None stops v2v. A file source stepped at the stream's rate is logged as replayable."""
        old = self.v2v_source
        if old is not None and old is not source:
            try:
                old.close()
            except Exception:
                log.exception("closing the previous v2v source")
        self.v2v_source = source
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
    def set_output(self, key: str, on: bool) -> None:
        """Switch an output on or off live (any thread); the reason shows when it cannot work."""
        if on:
            ok, reason = self._availability.get(key, (True, ""))
            if not ok:  # absent here (other OS, extra not installed): one line, not an error
                self.message(f"{self.output_labels.get(key, key)}: {reason.splitlines()[0]}", logging.WARNING)
                return
            self.outputs.enable(key)
        else:
            self.outputs.disable(key)
        if key == "record":
            self.message("recording started" if on else "recording stopped")
        if self.hub is not None and key in ("record", "vcam"):
            self.hub.set_state("recording" if key == "record" else "vcam", on)

    def toggle_output(self, key: str) -> None:
        self.switch_output(key)

    def switch_output(self, key: str, on: Any = None) -> None:
        """Set an output on/off (a value), or flip it (None); asking for the state it is in changes nothing."""
        want = (not self.outputs.wanted(key)) if on is None else bool(on)
        if want != self.outputs.wanted(key):
            self.set_output(key, want)
        elif key in ("record", "vcam"):
            self.hub.set_state("recording" if key == "record" else "vcam", want)

    def start_recording(self, target: str | Path) -> Path:
        """Record to ``target`` (a folder, or ``DIR/NAME.mp4``) from now on."""
        from sfe_live.outputs.options import record_sink
        self.outputs.remove_sink("record")
        self.outputs.add_sink(record_sink(target), name="record")
        self.set_output("record", True)
        return Path(target)

    def toggle_recording(self) -> None:
        self.toggle_output("record")

    def set_record_dir(self, folder: Optional[str]) -> None:
        """Where Record writes from the next take on (None = the default folder); a take running now
        finishes where it is."""
        from sfe_live.outputs.options import default_record_dir, record_sink
        self.settings.outputs = dataclasses.replace(self.settings.outputs, record_dir=folder or None)
        if not self.outputs.wanted("record"):
            self.outputs.remove_sink("record")
            self.outputs.add_sink(record_sink(folder or default_record_dir()), name="record")

    def refresh_availability(self) -> None:
        """Ask every output whether it can work here (the same text as ``doctor``)."""
        from sfe_live.outputs.doctor import sink_reason
        self._availability = {}
        for key in self.outputs.sink_names:
            sink = self.outputs.runner(key).sink
            try:
                ok, text = bool(sink.is_available()), sink_reason(sink)
            except Exception as exc:  # a broken optional package is one line, not a crash
                ok, text = False, f"{type(exc).__name__}: {exc}"
            self._availability[key] = (ok, text)

    def outputs_view(self) -> list[dict[str, Any]]:
        """One row per output for the Outputs panel (plain values; any thread)."""
        from sfe_live.outputs.ndi import NDISink
        from sfe_live.outputs.recorder import Recorder
        if self.outputs is None:
            return []
        st = {s.name: s for s in self.outputs.status().sinks}
        rows = []
        for key in self.outputs.sink_names:
            s = st[key]
            ok, reason = self._availability.get(key, (True, ""))
            sink = self.outputs.runner(key).sink
            where: Any = None
            if isinstance(sink, Recorder):
                where = sink.path                  # the file being written
            elif isinstance(sink, NDISink):
                where = sink.source_name           # "HOST (sfe-live)", what receivers list
            rows.append({"key": key, "label": self.output_labels.get(key, key), "on": self.outputs.wanted(key),
                         "state": s.state.value, "sent": s.sent, "dropped": s.dropped, "error": s.error,
                         "available": ok, "reason": reason, "size": s.size,
                         "detail": str(where) if where else ""})
        return rows

    # -- reading (any thread) ----------------------------------------------------------------------
    def message(self, text: str, level: int = logging.INFO) -> None:
        log.log(level, text)
        with self._lock:
            self.messages.append(text)
            del self.messages[:-50]

    def describe_model(self) -> dict[str, Any]:
        """The model's description for the status panel (a remote app describes the server's)."""
        return self.bundle.describe()

    def engine_status(self) -> EngineStatus:
        return self.runner.status()

    def latest_frame(self) -> tuple[Optional[np.ndarray], int]:
        return self.outputs.latest() if self.loaded else (None, -1)

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.loaded:
            out["engine"] = self.runner.status().to_dict()
            out["outputs"] = dataclasses.asdict(self.outputs.status())
            out["model"] = self.describe_model()
            out["controls"] = self.hub.status()
        with self._lock:
            out["messages"] = list(self.messages[-5:])
        return out


SLOW_STOP_S = 2.0        # a part slower than this to stop is named in the log
STOP_DEADLINE_S = 20.0   # the longest a stop (headless or the window's Ctrl-C) may take before its stacks are dumped


def _timed_stop(name: str, stop: Callable[[], None]) -> None:
    """Run one part's stop; name it in the log when it is slower than ``SLOW_STOP_S``."""
    t0 = time.monotonic()
    stop()
    took = time.monotonic() - t0
    if took > SLOW_STOP_S:
        log.warning("stopping %s took %.1f s", name, took)


def run_until_stopped(app: App, duration: Optional[float], status_line: Callable[[dict[str, Any]], str],
                      stop_reason: Callable[[], Optional[str]] = lambda: None) -> Optional[str]:
    """The headless loop of ``run --headless`` (local or remote): run the started ``app`` until Ctrl-C /
    SIGTERM, ``duration`` seconds, or ``stop_reason()`` gives a reason (which is returned); log
    ``status_line(app.status())`` every 5 s; always stop the app."""
    import signal
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    t_end = time.monotonic() + duration if duration else None
    last = 0.0
    try:
        while not stop.is_set() and (t_end is None or time.monotonic() < t_end):
            reason = stop_reason()
            if reason is not None:
                return reason
            stop.wait(0.05)
            if time.monotonic() - last > 5:
                last = time.monotonic()
                log.info("%s", status_line(app.status()))
    finally:
        arm_stop_deadline()
        try:
            app.stop()
        finally:
            faulthandler.cancel_dump_traceback_later()
    return None


def arm_stop_deadline() -> None:
    """Once a show is stopping, a part that hangs must not leave it unquittable: past ``STOP_DEADLINE_S``
    every thread's stack goes to stderr (what hung, for the report) and the process exits with status 1.
    ``faulthandler.cancel_dump_traceback_later()`` disarms it."""
    faulthandler.dump_traceback_later(STOP_DEADLINE_S, exit=True, file=sys.__stderr__)
