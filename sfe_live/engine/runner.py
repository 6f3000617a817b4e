"""The engine's worker thread, its command queue and its status snapshot.

``Runner.submit(cmd)`` is safe from any thread: discrete commands go to a FIFO that is
never dropped; continuous ones (``cmd.coalesce``) keep only the latest per type. The worker
drains both at every block edge (so a command submitted during block b applies at b + 1),
generates the next block and hands it to the listeners (which must only enqueue). A
listener that raises is logged and kept; the show goes on. In real-time mode the worker
stays at most ``lookahead_s`` of video ahead of the wall clock (or of the playout) instead of
racing ahead.

Pacing is never shortened by input: commands that arrive while the worker waits are applied
at once (so the status shows them and they take effect with the next block) but the wait goes
on. A fader at 30 Hz and no fader give the same blocks per second. Discrete commands do not
skip the wait either: a block generated early only lands behind the frames already buffered
(the playout is FIFO), so it would not reach the audience sooner, it would only overrun the
playout's buffer and drop frames.

Prompts are encoded off this thread (:class:`~sfe_live.engine.prompts.PromptEncoder`). A
``SetPrompt`` whose embedding is not ready is held, with the discrete commands that came after it
(FIFO), while generation goes on under the current prompt; it goes on air at the first block edge
after its encoding is ready (``status().prompt_pending`` / ``encoding_ms`` show the wait). Of
several prompts waiting at once only the newest is encoded and applied; the older ones are
logged as superseded (the command log keeps every prompt that arrived, in order). Continuous
values are never held. Off real time (``realtime=False``) a prompt is encoded in place, so each
command applies at exactly the next block edge.

Block edges: :meth:`add_edge_hook` functions run on the worker just before it takes the commands
for its next block (the cue player fires there), and :meth:`presentation_time` says when the block
those commands land on reaches the screen: the video time of that block on an anchor set at the
first block, moved forward only when the show falls behind real time or resumes from a pause. A
beat-timed cue so lands on the block shown at its beat, whatever the look-ahead, and on the same
block as in an offline render.

``status()`` returns an immutable snapshot the GUI, OSC and CLI poll; nothing calls into
them from here.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import psutil
import torch

from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.pipeline import Block, FrameSource
from sfe_live.engine.prompts import PromptEncoder
from sfe_live.engine.replaylog import SourceSpec

log = logging.getLogger(__name__)

BlockListener = Callable[[Block], None]
MAX_PROMPT_CHARS = 4000  # ≥ 512 umT5 tokens in any language; longer prompts are cut (one warning)
ERROR_SHOWN_S = 10.0     # a rejected command's error stays in the status this long (and 2 blocks);
                         # a generation failure's until the next good block


@dataclass(frozen=True)
class EngineStatus:
    running: bool = False
    paused: bool = False
    model: str = ""
    width: int = 0
    height: int = 0
    fps_target: int = 16
    block: int = 0
    latent_frame: int = 0
    prompt: str = ""
    blending: bool = False
    reactivity: int = 3
    memory: float = 1.0
    noise_scale: float = 1.0
    steps: tuple[int, ...] = ()
    seed: int = 0
    seed_locked: bool = False
    purge_mode: str = "full"
    v2v_amount: float = 0.0
    fps: float = 0.0                 # generated pixel frames per second (recent blocks)
    block_ms: float = 0.0
    decode_ms: float = 0.0
    queue_depth: int = 0
    kv_frames: int = 0
    positions: tuple[int, int] = (0, 0)
    reanchors: int = 0
    purges: int = 0
    recaches: int = 0
    drift_guard: bool = False
    drift: tuple[float, ...] = ()
    drift_deviation: float = 0.0
    drift_triggers: int = 0
    rss_mb: float = 0.0
    error: str = ""
    last_command: str = ""
    prompt_pending: str = ""         # a prompt waiting for its encoding (goes on air when ready)
    encoding_ms: float = 0.0         # how long it has waited so far (or the last one waited)
    prompts_superseded: int = 0      # prompts replaced by a newer one before going on air

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class CommandQueue:
    """Commands in arrival order; discrete ones are never dropped, a continuous one replaces the
    pending command of its type (latest wins) and takes its arrival position, so
    ``SetReactivity(1)`` then ``Purge()`` applies in that order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: collections.OrderedDict[int, C.Command] = collections.OrderedDict()
        self._latest: dict[type, int] = {}        # continuous type -> key of its pending command
        self._next = 0
        self.wakeup = threading.Event()
        self.submitted = 0

    def put(self, cmd: C.Command) -> None:
        with self._lock:
            if cmd.coalesce:
                old = self._latest.pop(type(cmd), None)
                if old is not None:
                    self._items.pop(old, None)
                self._latest[type(cmd)] = self._next
            self._items[self._next] = cmd
            self._next += 1
            self.submitted += 1
        self.wakeup.set()

    def drain(self) -> list[C.Command]:
        with self._lock:
            out = list(self._items.values())
            self._items.clear()
            self._latest.clear()
            self.wakeup.clear()
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class Runner:
    def __init__(self, engine: Engine, realtime: bool = True, lookahead_s: float = 1.5,
                 ahead: Optional[Callable[[], float]] = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        """``ahead()`` (optional) reports the seconds of video buffered downstream (the playout);
        in real-time mode the worker waits while it exceeds ``lookahead_s``. Without it the worker
        paces against ``clock()`` (seconds)."""
        self.engine = engine
        self.realtime = realtime
        self.lookahead_s = lookahead_s
        self._ahead = ahead
        self._clock = clock
        self.prompts = PromptEncoder(engine.bundle.text.get)
        engine.pipeline.embed = self.prompts.embed
        self._held: collections.deque[C.Command] = collections.deque()   # discrete, behind a pending prompt
        self._asked: Optional[C.SetPrompt] = None
        self.superseded = 0
        self._warned_long = False
        self.queue = CommandQueue()
        self._listeners: list[BlockListener] = []
        self._pause_listeners: list[Callable[[bool], None]] = []
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._status = EngineStatus(model=engine.bundle.name)
        self._times: collections.deque[tuple[float, int]] = collections.deque(maxlen=8)
        self._error = ""
        self._error_at = 0.0
        self._error_block = 0
        self._generation_failed = False
        self._last_cmd = ""
        self._proc = psutil.Process()
        self._clock_start: Optional[float] = None
        self._frames_out = 0
        self.blocks_done = 0
        self._source_lock = threading.Lock()
        self._pending_source: Optional[tuple[Optional[FrameSource], SourceSpec]] = None
        self._edge_hooks: list[Callable[[], None]] = []
        self._frames_total = 0
        self._present: Optional[tuple[float, int]] = None    # (anchor, frames before the block commands land on)

    # -- public API (any thread) -----------------------------------------------------------------
    def submit(self, cmd: C.Command) -> None:
        if not isinstance(cmd, C.Command):
            raise TypeError(f"not a command: {cmd!r}")
        if isinstance(cmd, C.SetPrompt) and len(cmd.text) > MAX_PROMPT_CHARS:
            if not self._warned_long:
                self._warned_long = True
                log.warning("a prompt of %d characters was cut to %d (the text encoder reads ~512 tokens); "
                            "later long prompts are cut silently", len(cmd.text), MAX_PROMPT_CHARS)
            cmd = dataclasses.replace(cmd, text=cmd.text[:MAX_PROMPT_CHARS])
        self.queue.put(cmd)

    def set_source(self, source: Optional[FrameSource], spec: SourceSpec) -> None:
        """Switch the video-to-video input at the next block edge (logged there, for replay)."""
        with self._source_lock:
            self._pending_source = (source, spec)
        self.queue.wakeup.set()

    def add_listener(self, fn: BlockListener) -> None:
        self._listeners.append(fn)

    def add_pause_listener(self, fn: Callable[[bool], None]) -> None:
        """``fn(paused)`` on the worker thread whenever pause takes effect or ends."""
        self._pause_listeners.append(fn)

    def add_edge_hook(self, fn: Callable[[], None]) -> None:
        """``fn()`` on the worker thread at every block edge, before that block's commands are taken
        (while paused: every 0.1 s), with :meth:`presentation_time` reading that block's time."""
        self._edge_hooks.append(fn)

    def presentation_time(self) -> float:
        """When the block a command submitted now lands on reaches the screen (``time.monotonic``
        seconds, the tempo clock's time): the anchor plus the video time before that block."""
        p = self._present
        return time.monotonic() if p is None else p[0] + p[1] / self.engine.stream.fps

    def remove_listener(self, fn: BlockListener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def status(self) -> EngineStatus:
        return self._status

    def prefetch(self, prompts: list[str]) -> int:
        """Encode these prompts in the background (a cue list at load) so they go on air at once."""
        self.prompts.clear_prefetch()
        return self.prompts.prefetch(prompts)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.prompts.start()
        self._thread = threading.Thread(target=self._loop, name="sfe-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.queue.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.prompts.stop()
        self._publish(running=False)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- worker ----------------------------------------------------------------------------------
    def _apply_pending(self) -> None:
        with self._source_lock:
            pending, self._pending_source = self._pending_source, None
        if pending is not None:
            self.engine.set_source(*pending)
        for cmd in self.queue.drain():
            if cmd.coalesce:
                self._apply(cmd)                  # continuous values never wait behind a prompt
            else:
                self._held.append(cmd)
        self._release_held()

    def _release_held(self) -> None:
        """Apply held discrete commands in order, up to a prompt whose encoding is not ready."""
        while self._held:
            cmd = self._held[0]
            if isinstance(cmd, C.SetPrompt):
                if any(isinstance(c, C.SetPrompt) for c in itertools.islice(self._held, 1, None)):
                    self._held.popleft()          # a newer prompt is waiting: this one never goes on air
                    self.engine.note_superseded(cmd)
                    self.superseded += 1
                    continue
                if self.realtime and not self.prompts.ready(cmd.text):
                    if self._asked is not cmd:
                        self._asked = cmd
                        self.prompts.want(cmd.text)
                        return
                    err = self.prompts.error(cmd.text)
                    if err is None:
                        return                    # still encoding: generation goes on meanwhile
                    self._held.popleft()
                    self._error, self._error_at = f"SetPrompt: {err}", time.monotonic()
                    self._error_block = self.blocks_done
                    continue
            self._held.popleft()
            self._apply(cmd)

    def _apply(self, cmd: C.Command) -> None:
        try:
            was_paused = self.engine.paused
            self.engine.apply(cmd)
            self._last_cmd = f"{cmd.name} @ block {self.engine.state.block_index}"
            if was_paused and not self.engine.paused:
                self._clock_start = None
            if was_paused != self.engine.paused:
                self._times.clear()              # no stale fps across a pause
                self._tell_paused(self.engine.paused)
        except Exception as exc:  # a bad command never stops the show
            log.error("command %s rejected: %s", cmd, exc)
            self._error, self._error_at = f"{cmd.name}: {exc}", time.monotonic()
            self._error_block = self.blocks_done

    def _wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``; commands arriving meanwhile are applied, the sleep goes on."""
        end = time.perf_counter() + seconds
        while not self._stop.is_set():
            left = end - time.perf_counter()
            if left <= 0:
                return
            if self.queue.wakeup.wait(left):
                self._apply_pending()

    def _edge(self) -> None:
        """A block edge: place the next block on the presentation clock, then run the edge hooks."""
        now, frames, fps = time.monotonic(), self._frames_total, self.engine.stream.fps
        anchor = now if self._present is None else self._present[0]
        if anchor + frames / fps < now:           # behind real time, or resumed: it cannot show earlier than now
            anchor = now - frames / fps
        self._present = (anchor, frames)
        for fn in list(self._edge_hooks):
            try:
                fn()
            except Exception:
                log.exception("edge hook %r failed", fn)

    def _generating(self) -> None:
        """The commands taken: from now on a command lands on the block after the one being made."""
        if self._present is not None:
            e = self.engine
            made = e.bundle.config.vae.pixel_frames(e.stream.frames_per_block, e.state.block_index == 0)
            self._present = (self._present[0], self._frames_total + made)

    def _tell_paused(self, paused: bool) -> None:
        for fn in list(self._pause_listeners):
            try:
                fn(paused)
            except Exception:
                log.exception("pause listener %r failed", fn)

    def _pace(self) -> None:
        """Real time: stay at most lookahead_s of video ahead of the wall clock (or the playout)."""
        if not self.realtime:
            return
        if self._ahead is not None:
            while not self._stop.is_set() and not self.engine.paused and self._ahead() > self.lookahead_s:
                self._wait(0.02)
            return
        fps = self.engine.stream.fps
        while not self._stop.is_set() and not self.engine.paused:
            now = self._clock()
            if self._clock_start is None:        # first block, or resumed after a pause
                self._clock_start, self._frames_out = now, 0
                return
            ahead = self._frames_out / fps - (now - self._clock_start)
            if ahead <= self.lookahead_s:
                if ahead < -2 * self.lookahead_s:   # fell behind (slow model): re-anchor the clock
                    self._clock_start, self._frames_out = now, 0
                return
            self._wait(min(0.1, ahead - self.lookahead_s))

    def _loop(self) -> None:
        self._publish(running=True)
        while not self._stop.is_set():
            self._apply_pending()
            if self.engine.paused:
                self._edge()                      # a GO while paused still applies (as any command does)
                self._apply_pending()
                self._publish(running=True)
                self.queue.wakeup.wait(0.1)
                continue
            self._pace()
            if self._stop.is_set():
                break
            self._edge()
            self._apply_pending()
            if self.engine.paused:
                continue
            self._generating()
            try:
                block = self.engine.next_block()
            except torch.OutOfMemoryError:
                # one line naming what to change (no traceback); free what the failed block held, retry
                from sfe_live.model.runtime import free_accelerator_cache, oom_message
                self._error = oom_message(self.engine.bundle)
                self._error_at, self._generation_failed = time.monotonic(), True   # cleared once blocks come
                log.error(self._error)
                free_accelerator_cache()
                self._publish(running=True)
                self._stop.wait(1.0)
                continue
            except Exception as exc:
                log.exception("block generation failed")
                self._error = f"generation failed: {exc}"
                self._error_at, self._generation_failed = time.monotonic(), True
                self._publish(running=True)
                self._stop.wait(1.0)
                continue
            self.blocks_done += 1
            if self._error and (self._generation_failed or (time.monotonic() - self._error_at > ERROR_SHOWN_S
                                                            and self.blocks_done - self._error_block >= 2)):
                if self._generation_failed:
                    log.info("generation recovered")
                self._error, self._generation_failed = "", False
            self._frames_out += block.frames.shape[0]
            self._frames_total += block.frames.shape[0]
            if self._present is not None:
                self._present = (self._present[0], self._frames_total)
            self._times.append((time.perf_counter(), block.frames.shape[0]))
            for fn in list(self._listeners):
                try:
                    fn(block)
                except Exception:
                    log.exception("block listener %r failed", fn)
            self._publish(running=True, block=block)
        self._publish(running=False)

    def _publish(self, running: bool, block: Optional[Block] = None) -> None:
        e = self.engine
        st, p = e.state, e.params
        fps = 0.0
        if len(self._times) >= 2 and not e.paused:
            dt = self._times[-1][0] - self._times[0][0]
            fps = sum(n for _, n in list(self._times)[1:]) / dt if dt > 0 else 0.0
        lb = block or e.last_block
        pending, waited = self.prompts.pending()
        pos = st.kv.frame_positions
        self._status = EngineStatus(
            running=running, paused=e.paused, model=e.bundle.name, width=e.stream.width, height=e.stream.height,
            fps_target=e.stream.fps, block=st.block_index, latent_frame=st.latent_frame,
            prompt=st.blend.dst.prompt if st.blend else st.cond.prompt, blending=st.blend is not None,
            reactivity=p.reactivity, memory=p.memory, noise_scale=p.noise_scale, steps=tuple(p.steps),
            seed=st.seed, seed_locked=p.seed_locked, purge_mode=p.purge_mode, v2v_amount=p.v2v_amount, fps=fps,
            block_ms=1000 * lb.timings.get("block_s", 0.0) if lb else 0.0,
            decode_ms=1000 * lb.timings.get("decode_s", 0.0) if lb else 0.0,
            queue_depth=len(self.queue) + len(self._held), kv_frames=st.kv.cached_frames,
            positions=(min(pos), max(pos)) if pos else (0, 0), reanchors=st.kv.reanchors, purges=st.purges,
            recaches=st.recaches, drift_guard=p.drift_guard, drift=tuple(st.drift.last or ()),
            drift_deviation=st.drift.deviation, drift_triggers=st.drift.triggers,
            rss_mb=self._proc.memory_info().rss / 2 ** 20, error=self._error, last_command=self._last_cmd,
            prompt_pending=pending, encoding_ms=waited if pending else self.prompts.last_encoding_ms,
            prompts_superseded=self.superseded)
