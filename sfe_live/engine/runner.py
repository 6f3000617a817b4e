"""The engine's worker thread, its command queue and its status snapshot.

``Runner.submit(cmd)`` is safe from any thread: discrete commands go to a FIFO that is
never dropped; continuous ones (``cmd.coalesce``) keep only the latest per type. The worker
drains both at every block edge (so a command submitted during block b applies at b + 1),
generates the next block and hands it to the listeners (which must only enqueue). A
listener that raises is logged and kept; the show goes on. In real-time mode the worker
stays at most ``lookahead_s`` of video ahead of the wall clock instead of racing ahead.

``status()`` returns an immutable snapshot the GUI, OSC and CLI poll; nothing calls into
them from here.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import psutil

from sfe_live.engine import commands as C
from sfe_live.engine.engine import Engine
from sfe_live.engine.pipeline import Block, FrameSource
from sfe_live.engine.replaylog import SourceSpec

log = logging.getLogger(__name__)

BlockListener = Callable[[Block], None]


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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __getitem__(self, key: str) -> Any:      # Mapping-like access for controls
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


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
                 ahead: Optional[Callable[[], float]] = None) -> None:
        """``ahead()`` (optional) reports the seconds of video buffered downstream (the playout);
        in real-time mode the worker waits while it exceeds ``lookahead_s``."""
        self.engine = engine
        self.realtime = realtime
        self.lookahead_s = lookahead_s
        self._ahead = ahead
        self.queue = CommandQueue()
        self._listeners: list[BlockListener] = []
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._status = EngineStatus(model=engine.bundle.name)
        self._times: collections.deque[tuple[float, int]] = collections.deque(maxlen=8)
        self._error = ""
        self._last_cmd = ""
        self._proc = psutil.Process()
        self._clock_start: Optional[float] = None
        self._frames_out = 0
        self.blocks_done = 0
        self._source_lock = threading.Lock()
        self._pending_source: Optional[tuple[Optional[FrameSource], SourceSpec]] = None

    # -- public API (any thread) -----------------------------------------------------------------
    def submit(self, cmd: C.Command) -> None:
        if not isinstance(cmd, C.Command):
            raise TypeError(f"not a command: {cmd!r}")
        self.queue.put(cmd)

    def set_source(self, source: Optional[FrameSource], spec: SourceSpec) -> None:
        """Switch the video-to-video input at the next block edge (logged there, for replay)."""
        with self._source_lock:
            self._pending_source = (source, spec)
        self.queue.wakeup.set()

    def add_listener(self, fn: BlockListener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: BlockListener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def status(self) -> EngineStatus:
        return self._status

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sfe-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.queue.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
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
            try:
                was_paused = self.engine.paused
                self.engine.apply(cmd)
                self._last_cmd = f"{cmd.name} @ block {self.engine.state.block_index}"
                if was_paused and not self.engine.paused:
                    self._clock_start = None
            except Exception as exc:  # a bad command never stops the show
                log.error("command %s rejected: %s", cmd, exc)
                self._error = f"{cmd.name}: {exc}"

    def _pace(self) -> None:
        """Real time: stay at most lookahead_s of video ahead of the wall clock."""
        if not self.realtime:
            return
        if self._ahead is not None:
            while not self._stop.is_set() and self._ahead() > self.lookahead_s and not len(self.queue):
                self.queue.wakeup.wait(0.02)
            return
        fps = self.engine.stream.fps
        now = time.perf_counter()
        if self._clock_start is None:
            self._clock_start, self._frames_out = now, 0
            return
        ahead = self._frames_out / fps - (now - self._clock_start)
        if ahead > self.lookahead_s:
            self.queue.wakeup.wait(ahead - self.lookahead_s)
        elif ahead < -2 * self.lookahead_s:   # fell behind (slow model): re-anchor the clock
            self._clock_start, self._frames_out = now, 0

    def _loop(self) -> None:
        self._publish(running=True)
        while not self._stop.is_set():
            self._apply_pending()
            if self.engine.paused:
                self._publish(running=True)
                self.queue.wakeup.wait(0.1)
                continue
            self._pace()
            if self._stop.is_set():
                break
            self._apply_pending()
            if self.engine.paused:
                continue
            try:
                block = self.engine.next_block()
            except Exception as exc:
                log.exception("block generation failed")
                self._error = f"generation failed: {exc}"
                self._publish(running=True)
                self._stop.wait(1.0)
                continue
            self.blocks_done += 1
            self._frames_out += block.frames.shape[0]
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
        if len(self._times) >= 2:
            dt = self._times[-1][0] - self._times[0][0]
            fps = sum(n for _, n in list(self._times)[1:]) / dt if dt > 0 else 0.0
        lb = block or e.last_block
        pos = st.kv.frame_positions
        self._status = EngineStatus(
            running=running, paused=e.paused, model=e.bundle.name, width=e.stream.width, height=e.stream.height,
            fps_target=e.stream.fps, block=st.block_index, latent_frame=st.latent_frame,
            prompt=st.blend.dst.prompt if st.blend else st.cond.prompt, blending=st.blend is not None,
            reactivity=p.reactivity, memory=p.memory, noise_scale=p.noise_scale, steps=tuple(p.steps),
            seed=st.seed, seed_locked=p.seed_locked, purge_mode=p.purge_mode, v2v_amount=p.v2v_amount, fps=fps,
            block_ms=1000 * lb.timings.get("block_s", 0.0) if lb else 0.0,
            decode_ms=1000 * lb.timings.get("decode_s", 0.0) if lb else 0.0,
            queue_depth=len(self.queue), kv_frames=st.kv.cached_frames,
            positions=(min(pos), max(pos)) if pos else (0, 0), reanchors=st.kv.reanchors, purges=st.purges,
            recaches=st.recaches, drift_guard=p.drift_guard, drift=tuple(st.drift.last or ()),
            drift_deviation=st.drift.deviation, drift_triggers=st.drift.triggers,
            rss_mb=self._proc.memory_info().rss / 2 ** 20, error=self._error, last_command=self._last_cmd)
