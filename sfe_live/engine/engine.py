"""The single-threaded engine: a session, its live parameters, commands and their log.

``Engine`` owns one ``StreamPipeline`` and one ``SessionState``. ``apply(cmd)`` changes
state or parameters at a block edge (the caller decides when: the runner drains its queue
between blocks; ``render`` replays a timeline); ``next_block()`` generates one block. Every
applied command is appended to ``log`` with the block index it took effect at, and a purge
with the denoising step that actually ran (filled in once its block has run), so a
performance can be re-rendered frame for frame (``replaylog``).
"""

from __future__ import annotations

import dataclasses
import logging
import random
from pathlib import Path
from typing import Any, Iterable, Optional

from sfe_live.config import StreamConfig
from sfe_live.engine import commands as C
from sfe_live.engine.pipeline import Block, FrameSource, NoiseProvider, StreamPipeline
from sfe_live.engine.replaylog import SUPERSEDED, LogEntry, LogHeader, SourceSpec, write_log
from sfe_live.engine.state import Blend, LiveParams, PendingPurge, SessionState

log = logging.getLogger(__name__)

# command type -> (LiveParams attribute, command field) for commands that only set one value
_LIVE_PARAMS: dict[type, tuple[str, str]] = {
    C.SetReactivity: ("reactivity", "strength"), C.SetPurgeMode: ("purge_mode", "mode"),
    C.SetMemory: ("memory", "value"), C.SetNoiseScale: ("noise_scale", "value"),
    C.SetV2V: ("v2v_amount", "amount"), C.LockSeed: ("seed_locked", "locked"),
}


class Engine:
    def __init__(self, bundle: Any, stream: StreamConfig, prompt: str = "", seed: Optional[int] = None,
                 params: Optional[LiveParams] = None, source: Optional[FrameSource] = None,
                 noise: Optional[NoiseProvider] = None, decode: bool = True,
                 log_limit: Optional[int] = None) -> None:
        """``decode=False`` generates latents only (black frames): for timing the DiT alone.
        ``log_limit`` bounds the in-memory command log (a live show without ``--log``: the newest
        entries are kept; ``None`` keeps all, as writing a replay log needs)."""
        self.bundle = bundle
        self.stream = stream
        self.pipeline = StreamPipeline(bundle, stream, **({"noise": noise} if noise else {}), decode=decode)
        self.params = params or LiveParams(steps=stream.denoising_steps, noise_scale=stream.noise_scale)
        self.state: SessionState = self.pipeline.new_state(prompt, stream.seed if seed is None else seed)
        self.source = source
        self.paused = False
        self.log: list[LogEntry] = []
        self.log_limit = log_limit
        self.log_dropped = 0                         # entries trimmed from the front (bounded memory)
        self._rng = random.Random(self.state.seed)
        self.initial_seed = self.state.seed
        self.initial_prompt = prompt
        self.last_block: Optional[Block] = None
        self._purge_entry: Optional[int] = None     # log index of the purge due in the next block

    # -- commands ----------------------------------------------------------------------------
    def _record(self, cmd: C.Command, **override: Any) -> None:
        args = cmd.args()
        args.update(override)
        self._append(LogEntry(self.state.block_index, cmd.name, args))

    def _append(self, entry: LogEntry) -> None:
        self.log.append(entry)
        if self.log_limit is not None and len(self.log) > 2 * self.log_limit:
            drop = len(self.log) - self.log_limit     # trimmed in chunks: list indices stay cheap
            del self.log[:drop]
            self.log_dropped += drop
            if self._purge_entry is not None:
                self._purge_entry = self._purge_entry - drop if self._purge_entry >= drop else None

    def note_superseded(self, cmd: C.SetPrompt) -> None:
        """Log a prompt that arrived but never went on air (a newer one replaced it before its block
        edge); the replay reader skips these entries, so a replay gives the same frames."""
        self._append(LogEntry(self.state.block_index, SUPERSEDED, cmd.args()))

    def _schedule_purge(self, strength: Optional[int], mode: Optional[str]) -> None:
        """Queue a purge for the next block (strength/mode default to reactivity/purge mode)."""
        self.state.pending_purge = PendingPurge(self.params.reactivity if strength is None else strength,
                                                self.params.purge_mode if mode is None else mode)
        self._purge_entry = len(self.log)

    def set_source(self, source: Optional[FrameSource], spec: SourceSpec = SourceSpec()) -> None:
        """Feed video-to-video frames from ``source`` (None: none) from the next block on; ``spec``
        (what it is) goes to the log so a replay can rebuild a file source."""
        self.source = source
        self._append(LogEntry(self.state.block_index, "SetSource",
                              {"kind": spec.kind, "path": spec.path, "name": spec.name}))

    def apply(self, cmd: C.Command) -> None:
        """Apply one command now (between blocks). Commands validate their values when built."""
        st, p = self.state, self.params
        if type(cmd) in _LIVE_PARAMS:                       # continuous values: copied as they are
            param, field = _LIVE_PARAMS[type(cmd)]
            setattr(p, param, getattr(cmd, field))
            self._record(cmd)
        elif isinstance(cmd, C.SetPrompt):
            new = self.pipeline.condition(cmd.text)
            st.drift.rebase()                               # a new prompt may look different by intent
            if cmd.transition == "blend" and cmd.blend_blocks > 1:
                st.blend = Blend(src=st.cond.embeds, dst=new, blocks=cmd.blend_blocks, mode=cmd.blend_mode)
                self._record(cmd)
                return
            st.blend = None
            st.cond = new
            if cmd.transition == "recache":
                st.pending_recache = True
            if cmd.transition == "purge":
                # the resolved strength and mode go to the log, so a replay needs no live state
                strength = p.reactivity if cmd.strength is None else cmd.strength
                mode = p.purge_mode if cmd.purge_mode is None else cmd.purge_mode
                self._schedule_purge(strength, mode)
                self._record(cmd, strength=strength, purge_mode=mode)
            else:
                self._record(cmd)
        elif isinstance(cmd, C.Purge):
            strength = p.reactivity if cmd.strength is None else cmd.strength
            mode = p.purge_mode if cmd.mode is None else cmd.mode
            self._schedule_purge(strength, mode)
            self._record(cmd, strength=strength, mode=mode)
        elif isinstance(cmd, C.Recache):
            st.pending_recache = True
            self._record(cmd)
        elif isinstance(cmd, C.SetSteps):
            C.check_steps(cmd.steps, self.stream.num_train_timesteps)
            p.steps = cmd.steps
            self._record(cmd)
        elif isinstance(cmd, C.SetSeed):
            st.seed = cmd.seed
            self._record(cmd)
        elif isinstance(cmd, C.NewSeed):
            if p.seed_locked:
                log.info("seed is locked: new seed ignored")
                return
            st.seed = self._rng.randrange(2 ** 31)
            self._append(LogEntry(st.block_index, "SetSeed", {"seed": st.seed}))
        elif isinstance(cmd, C.SetPaused):
            self.paused = cmd.paused
            self._record(cmd)
        elif isinstance(cmd, C.TogglePause):
            self.paused = not self.paused
            self._append(LogEntry(st.block_index, "SetPaused", {"paused": self.paused}))
        elif isinstance(cmd, C.Reset):
            self.pipeline.reset(st)
            self._purge_entry = None
            self._record(cmd)
        elif isinstance(cmd, C.SetDriftGuard):
            p.drift_guard, p.drift_strength, p.drift_threshold = cmd.enabled, cmd.strength, cmd.threshold
            self._record(cmd)
        else:
            raise TypeError(f"not an engine command: {cmd!r}")

    # -- generation -----------------------------------------------------------------------------
    def next_block(self) -> Block:
        block = self.pipeline.step(self.state, self.params, self.source)
        self.last_block = block
        if self._purge_entry is not None and block.purge_step is not None:
            e = self.log[self._purge_entry]
            self.log[self._purge_entry] = LogEntry(e.block, e.command, e.args, block.purge_step)
            self._purge_entry = None
        if block.drift_triggered:
            due = self.state.pending_purge
            assert due is not None
            self._append(LogEntry(self.state.block_index, "DriftPurge",
                                     {"strength": due.strength, "mode": due.mode}))
            self._purge_entry = len(self.log) - 1
        return block

    def run(self, blocks: int, timeline: Optional[dict[int, list[C.Command]]] = None) -> Iterable[Block]:
        """Generate ``blocks`` blocks, applying ``timeline[b]`` before block b."""
        timeline = timeline or {}
        for _ in range(blocks):
            for cmd in timeline.get(self.state.block_index, []):
                self.apply(cmd)
            yield self.next_block()

    # -- log ---------------------------------------------------------------------------------------
    def header(self) -> LogHeader:
        """The log header: model, stream and the end of the performance so far."""
        b = self.bundle
        return LogHeader(model=b.name, model_spec=b.spec or b.name, model_hash=b.content_hash(),
                         checkpoint=b.checkpoint, dtype=str(b.dtype).replace("torch.", ""),
                         prompt=self.initial_prompt, seed=self.initial_seed, stream=self.stream,
                         blocks=self.state.block_index, decode=self.pipeline.decode)

    def write_log(self, path: str | Path, frames: Optional[int] = None) -> None:
        """Write the command log; ``frames``: how many frames of the blocks were kept (a render cut
        to a length), so a replay keeps as many."""
        if self.log_dropped:
            raise ValueError(f"the in-memory command log was trimmed ({self.log_dropped} entries): set the log "
                             "(--log, or Command log in Settings) before the show starts to keep a replayable log")
        write_log(path, dataclasses.replace(self.header(), frames=frames), list(self.log))
