"""Cue lists: ordered prompts with transitions, loaded from TOML, played by :class:`CuePlayer`.

A cue list file::

    schema = 1
    name = "Woman to cat"
    quantize = "none"          # default for cues: none | beat | bar
    loop = false               # auto-advance past the last cue wraps to the first

    [[cue]]
    name = "woman"
    prompt = "a woman walking down a rainy neon street"
    transition = "cut"         # cut | purge | blend | recache
    strength = 3               # purge strength 0..3 (transition "purge"; none = reactivity)
    purge_mode = "keep-last"   # what the purge keeps: full | keep-last | keep-sink (none = the live setting)
    blend_blocks = 4           # blocks of a "blend"
    blend_mode = "linear"      # linear | slerp
    advance_blocks = 24        # optional: go to the next cue after N blocks ...
    advance_beats = 16         # ... or after N beats
    quantize = "bar"           # optional: this cue's GO waits for the next beat / bar

Loading validates every field; errors name the file and line. Saving is atomic.
Cue numbers are 1-based everywhere a performer sees them (OSC, MIDI, keys).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Protocol, Union

from sfe_live.engine.commands import BLEND_MODES, MAX_STRENGTH, PURGE_MODES, TRANSITIONS, Command, SetPrompt
from sfe_live.io import DataFileError, key_line, load_toml, save_toml, table_lines
from sfe_live.ratelog import RateLimitedLog


log = logging.getLogger(__name__)

SCHEMA = 1
QUANTIZE = ("none", "beat", "bar")
AUTO_ADVANCE_HORIZON = 0.25    # s: a beat-timed auto-advance is handed to the timer this early
MAX_BLEND_BLOCKS = 64


class CueListError(DataFileError):
    """A cue list that cannot be loaded; ``str()`` reads ``file:line: message``."""


@dataclass(frozen=True)
class Cue:
    prompt: str
    name: str = ""
    transition: str = "cut"
    strength: Optional[int] = None
    purge_mode: Optional[str] = None
    blend_blocks: int = 4
    blend_mode: str = "linear"
    advance_blocks: Optional[int] = None
    advance_beats: Optional[float] = None
    quantize: Optional[str] = None
    notes: str = ""
    line: Optional[int] = field(default=None, compare=False, repr=False)

    def command(self) -> SetPrompt:
        return SetPrompt(text=self.prompt, transition=self.transition, strength=self.strength,
                         blend_blocks=self.blend_blocks, blend_mode=self.blend_mode, purge_mode=self.purge_mode)

    @property
    def title(self) -> str:
        return self.name or self.prompt[:40]


@dataclass(frozen=True)
class CueList:
    cues: tuple[Cue, ...]
    name: str = ""
    description: str = ""
    quantize: str = "none"
    loop: bool = False
    path: Optional[str] = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.cues)


_CUE_KEYS = {f.name for f in fields(Cue)} - {"line"}
_TOP_KEYS = {"schema", "name", "description", "quantize", "loop", "cue"}


def _check_cue(t: Mapping[str, Any], err: Callable[[str, Optional[str]], CueListError], n: int) -> Cue:
    if not isinstance(t, Mapping):
        raise err(f"cue {n} must be a [[cue]] table", None)
    unknown = sorted(set(t) - _CUE_KEYS)
    if unknown:
        raise err(f"cue {n}: unknown field(s) {', '.join(unknown)}; valid: {', '.join(sorted(_CUE_KEYS))}",
                  unknown[0])
    prompt = t.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise err(f"cue {n}: needs a non-empty prompt = \"...\"", "prompt")
    kw: dict[str, Any] = {"prompt": prompt.strip()}
    for key in ("name", "notes"):
        if key in t:
            if not isinstance(t[key], str):
                raise err(f"cue {n}: {key} must be text", key)
            kw[key] = t[key]
    for key, choices in (("transition", TRANSITIONS), ("blend_mode", BLEND_MODES), ("quantize", QUANTIZE),
                         ("purge_mode", PURGE_MODES)):
        if key in t:
            if t[key] not in choices:
                raise err(f"cue {n}: {key} must be one of {', '.join(choices)}, got {t[key]!r}", key)
            kw[key] = t[key]

    def integer(key: str, lo: int, hi: int) -> None:
        if key in t:
            v = t[key]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise err(f"cue {n}: {key} must be an integer {lo}..{hi}, got {v!r}", key)
            kw[key] = v

    integer("strength", 0, MAX_STRENGTH)
    integer("blend_blocks", 1, MAX_BLEND_BLOCKS)
    integer("advance_blocks", 1, 1_000_000)
    if "advance_beats" in t:
        v = t["advance_beats"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 100_000:
            raise err(f"cue {n}: advance_beats must be a number > 0, got {v!r}", "advance_beats")
        kw["advance_beats"] = float(v)
    if "advance_blocks" in kw and "advance_beats" in kw:
        raise err(f"cue {n}: give advance_blocks or advance_beats, not both", "advance_beats")
    if "strength" in kw and kw.get("transition", "cut") != "purge":
        log.debug("cue %d: strength is only used by transition 'purge'", n)
    return Cue(**kw)


def parse_cue_list(data: Mapping[str, Any], text: str = "", path: Optional[Union[str, Path]] = None
                   ) -> CueList:
    """Validate parsed TOML data; ``text`` (the file's text) lets errors carry line numbers."""
    lines = table_lines(text, "cue") if text else []

    def top_err(msg: str, key: Optional[str] = None) -> CueListError:
        return CueListError(msg, path, key_line(text, None, key) if (text and key) else None)

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise top_err(f"unknown top-level field(s) {', '.join(unknown)}; valid: {', '.join(sorted(_TOP_KEYS))}",
                      unknown[0])
    schema = data.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise top_err(f"schema {schema!r} is not supported (this version reads schema {SCHEMA})", "schema")
    quantize = data.get("quantize", "none")
    if quantize not in QUANTIZE:
        raise top_err(f"quantize must be one of {', '.join(QUANTIZE)}, got {quantize!r}", "quantize")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise top_err(f"{key} must be text", key)
    loop = data.get("loop", False)
    if not isinstance(loop, bool):
        raise top_err("loop must be true or false", "loop")
    raw = data.get("cue", [])
    if not isinstance(raw, list):
        raise top_err("cues must be written as [[cue]] tables", "cue")
    if not raw:
        raise CueListError("a cue list needs at least one [[cue]]", path)
    cues = []
    for i, t in enumerate(raw):
        ln = lines[i] if i < len(lines) else None

        def err(msg: str, key: Optional[str], ln: Optional[int] = ln) -> CueListError:
            return CueListError(msg, path, key_line(text, ln, key) if (key and ln) else ln)

        cues.append(replace(_check_cue(t, err, i + 1), line=ln))
    return CueList(tuple(cues), name=data.get("name", ""), description=data.get("description", ""),
                   quantize=quantize, loop=loop, path=None if path is None else str(path))


def load_cue_list(path: Union[str, Path]) -> CueList:
    """Load and validate a cue list file (raises :class:`CueListError` naming file and line)."""
    try:
        data, text = load_toml(path)
    except DataFileError as e:
        raise CueListError(e.message, e.path, e.line) from None
    cl = parse_cue_list(data, text, path)
    if not cl.name:
        cl = replace(cl, name=Path(path).stem.replace("_", " "))
    return cl


def cue_list_to_data(cl: CueList) -> dict[str, Any]:
    defaults = {f.name: f.default for f in fields(Cue)}
    out: dict[str, Any] = {"schema": SCHEMA}
    if cl.name:
        out["name"] = cl.name
    if cl.description:
        out["description"] = cl.description
    out["quantize"] = cl.quantize
    if cl.loop:
        out["loop"] = True
    cues = []
    for c in cl.cues:
        d: dict[str, Any] = {}
        for f in fields(Cue):
            if f.name == "line":
                continue
            v = getattr(c, f.name)
            if f.name == "prompt" or (v is not None and v != defaults[f.name]):
                d[f.name] = v
        cues.append(d)
    out["cue"] = cues
    return out


def save_cue_list(cl: CueList, path: Union[str, Path]) -> None:
    """Write atomically (temporary file + rename): a crash never leaves half a cue list."""
    save_toml(path, cue_list_to_data(cl), header="sfe-live cue list")


# ---------------------------------------------------------------------- playing
class BeatClock(Protocol):
    def next_boundary(self, unit: str = "beat", t: Optional[float] = None, lookahead: float = 0.0) -> float: ...

    def time_of_beat(self, beat: float) -> float: ...

    def beat_at(self, t: Optional[float] = None) -> float: ...


class TimerLike(Protocol):
    def call_at(self, when: float, fn: Callable[[], None]) -> int: ...

    def cancel(self, job: int) -> None: ...


class BlockEdgeTimer:
    """A :class:`TimerLike` whose jobs run at block edges, not on a thread: ``run_due(t)`` (called where
    the engine takes the commands for its next block, ``t`` that block's presentation time) runs every
    job due by ``t``, in order. Render and the live runner both drive their cue player with one, so a
    cue lands on the same block in both (:meth:`CuePlayer.block_edge`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, tuple[float, Callable[[], None]]] = {}
        self._ids = 0

    def call_at(self, when: float, fn: Callable[[], None]) -> int:
        with self._lock:
            self._ids += 1
            self._jobs[self._ids] = (when, fn)
            return self._ids

    def cancel(self, job: int) -> None:
        with self._lock:
            self._jobs.pop(job, None)

    def run_due(self, t: float) -> None:
        with self._lock:
            due = sorted((when, job) for job, (when, _) in self._jobs.items() if when <= t + 1e-9)
            fns = [self._jobs.pop(job)[1] for _, job in due]
        for fn in fns:
            fn()


class CuePlayer:
    """Holds the loaded cue list and the current cue; fires cues as ``SetPrompt`` commands.

    ``go(n)`` fires cue ``n`` (1-based) now or, when quantised, at the next beat/bar minus the
    look-ahead (a later GO replaces a pending one). ``tick()`` (called ~30×/s by the hub) runs
    auto-advance after N blocks (from ``block()``) or N beats (from the tempo clock).

    Driven by blocks (``timer`` a :class:`BlockEdgeTimer`, ``clock`` the presentation time of the
    block the engine makes next: video time in render, :meth:`Runner.presentation_time` live), every
    timed cue fires in :meth:`block_edge`, just before the engine takes that block's commands, and
    lands on the first block shown at or after its beat; a GO sent from another thread goes to the
    engine at once and takes the beat of the block it lands on (the next edge) as its own. The same
    cue list, tempo and model so switch on the same block offline and on stage.
    """

    def __init__(self, submit: Callable[[Command], None], *, tempo: Optional[BeatClock] = None,
                 timer: Optional[TimerLike] = None, block: Optional[Callable[[], Optional[int]]] = None,
                 lookahead: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._submit = submit
        self.tempo = tempo
        self.timer = timer
        self._block = block or (lambda: None)
        self.lookahead = float(lookahead)
        self._clock = clock
        self._in_edge = False            # inside block_edge: a cue fired there lands on that edge's block
        self._beat_at_edge = False       # the current cue's beat is set by the next block edge
        self._lock = threading.RLock()
        self._ratelog = RateLimitedLog(log)
        self.cue_list: Optional[CueList] = None
        self.index: Optional[int] = None        # 0-based index of the current cue
        self.quantize_override: Optional[str] = None
        self._pending: Optional[tuple[int, int]] = None  # (index, timer job)
        self._pending_index: Optional[int] = None
        self._fired_block: Optional[int] = None
        self._fired_beat: Optional[float] = None
        self._auto_done = False
        self.fired = 0
        # called with every prompt of a newly loaded list (the engine encodes them in the background)
        self.on_load: Optional[Callable[[list[str]], None]] = None

    @property
    def _edges(self) -> bool:
        """Driven by blocks: timed cues fire in :meth:`block_edge`."""
        return isinstance(self.timer, BlockEdgeTimer)

    # ------------------------------------------------------------------ loading
    def drive_by_blocks(self, presentation_time: Callable[[], float]) -> None:
        """Fire timed cues at block edges from now on, on ``presentation_time()`` (see the class
        docstring); the engine's worker calls :meth:`block_edge`. A GO pending on the old timer is cancelled."""
        with self._lock:
            self._cancel_pending()
            self.timer, self._clock = BlockEdgeTimer(), presentation_time

    def block_edge(self) -> None:
        """Where the engine takes the commands for its next block (the player's clock reads when that
        block is shown): auto-advance, then every GO due by then, so a cue's command lands on this block."""
        with self._lock:
            self._in_edge = True
            try:
                if self._beat_at_edge and self.tempo is not None:
                    self._beat_at_edge = False
                    self._fired_beat = self.tempo.beat_at(self._clock() + self.lookahead)
                self.tick()
                if isinstance(self.timer, BlockEdgeTimer):      # (the type narrowed for run_due)
                    self.timer.run_due(self._clock())
            finally:
                self._in_edge = False

    def load(self, cue_list: Optional[CueList]) -> None:
        with self._lock:
            self._cancel_pending()
            self.cue_list = cue_list
            self.index = None
            self._fired_block = self._fired_beat = None
        if cue_list is not None and self.on_load is not None:
            try:
                self.on_load([c.prompt for c in cue_list.cues])
            except Exception:
                log.exception("pre-encoding the cue list's prompts failed")

    def load_file(self, path: Union[str, Path]) -> CueList:
        cl = load_cue_list(path)
        self.load(cl)
        return cl

    @property
    def count(self) -> int:
        cl = self.cue_list
        return 0 if cl is None else len(cl.cues)

    # ------------------------------------------------------------------ GO
    def go(self, number: int, quantize: Optional[str] = None) -> bool:
        """Fire cue ``number`` (1-based). Returns False when there is no such cue."""
        with self._lock:
            cl = self.cue_list
            if cl is None or not 1 <= int(number) <= len(cl.cues):
                self._ratelog("no such cue", "cue %s: no such cue (%d loaded)", number, self.count)
                return False
            i = int(number) - 1
            unit = quantize or self.quantize_override or cl.cues[i].quantize or cl.quantize
            if unit in (None, "none") or self.tempo is None or self.timer is None:
                self._cancel_pending()
                self._fire(i)
                return True
            return self._fire_at(i, self.tempo.next_boundary(unit, t=self._clock(), lookahead=self.lookahead))

    def _fire_at(self, i: int, when: float) -> bool:
        """Fire cue index ``i`` at clock time ``when`` (now if that has come); replaces a pending GO.

        The cue is recorded as landing on the beat at ``when`` + look-ahead, however late the timer runs,
        so beat-timed auto-advance does not accumulate the timer's lateness.
        """
        self._cancel_pending()
        beat = None if self.tempo is None else self.tempo.beat_at(when + self.lookahead)
        if self.timer is None or (not self._edges and when <= self._clock() + 1e-3):
            self._fire(i, beat)
            return True
        job = self.timer.call_at(when, lambda i=i, beat=beat: self._fire_pending(i, beat))
        self._pending = (i, job)
        self._pending_index = i
        return True

    def next(self) -> bool:
        with self._lock:
            if not self.count:
                return False
            base = self._pending_index if self._pending_index is not None else self.index
            if base is None:
                return self.go(1)
            n = base + 2
            if n > self.count:
                if not (self.cue_list and self.cue_list.loop):
                    return False
                n = 1
            return self.go(n)

    def prev(self) -> bool:
        with self._lock:
            if not self.count:
                return False
            base = self._pending_index if self._pending_index is not None else self.index
            if base is None:
                return self.go(1)
            n = base
            if n < 1:
                if not (self.cue_list and self.cue_list.loop):
                    return False
                n = self.count
            return self.go(n)

    def _cancel_pending(self) -> None:
        if self._pending is not None and self.timer is not None:
            self.timer.cancel(self._pending[1])
        self._pending = None
        self._pending_index = None

    def _fire_pending(self, i: int, beat: Optional[float] = None) -> None:
        with self._lock:
            if self._pending is None or self._pending[0] != i:
                return
            self._pending = None
            self._pending_index = None
            self._fire(i, beat)

    def _fire(self, i: int, beat: Optional[float] = None) -> None:
        cl = self.cue_list
        if cl is None:
            return
        cue = cl.cues[i]
        self.index = i
        self._fired_block = self._safe_block()
        # the beat on which this cue reaches the screen (a quantised GO fires look-ahead early); driven by
        # blocks, a GO from another thread learns it at the edge of the block its command lands on
        self._beat_at_edge = self._edges and beat is None and not self._in_edge
        self._fired_beat = (None if self.tempo is None or self._beat_at_edge else
                            beat if beat is not None else self.tempo.beat_at(self._clock() + self.lookahead))
        self._fired_time = self._clock()
        self._auto_done = False
        self.fired += 1
        log.info("cue %d/%d %s (%s)", i + 1, len(cl.cues), cue.title, cue.transition)
        try:
            self._submit(cue.command())
        except Exception:
            log.exception("submitting cue %d failed", i + 1)

    def _safe_block(self) -> Optional[int]:
        try:
            b = self._block()
            return None if b is None else int(b)
        except Exception:
            return None

    # ------------------------------------------------------------------ auto-advance
    def tick(self) -> None:
        with self._lock:
            cl = self.cue_list
            if cl is None or self.index is None or self._auto_done or self._pending is not None:
                return
            cue = cl.cues[self.index]
            due = False
            if cue.advance_blocks is not None:
                b = self._safe_block()
                if b is not None and self._fired_block is not None:
                    due = b - self._fired_block >= cue.advance_blocks
            elif cue.advance_beats is not None and self.tempo is not None and self._fired_beat is not None:
                # bar-exact: the next cue lands on (fired beat + N), not on the bar after it (a
                # re-quantised GO from a tick that comes just after the boundary is one bar late)
                target = self._fired_beat + cue.advance_beats
                when = self.tempo.time_of_beat(round(target, 6)) - self.lookahead
                horizon = AUTO_ADVANCE_HORIZON if self.timer is not None else 0.0
                if when <= self._clock() + horizon:
                    nxt = self._next_index()
                    self._auto_done = True
                    if nxt is not None:
                        self._fire_at(nxt, when)
                return
            if due:
                self._auto_done = True
                self.next()

    def _next_index(self) -> Optional[int]:
        """The index after the current cue, wrapping only for looping lists."""
        if self.index is None or not self.count:
            return None
        n = self.index + 1
        if n >= self.count:
            return 0 if (self.cue_list and self.cue_list.loop) else None
        return n

    # ------------------------------------------------------------------ state
    def status(self) -> dict[str, Any]:
        with self._lock:
            cl = self.cue_list
            cur = None if (cl is None or self.index is None) else cl.cues[self.index]
            return {"cue": 0 if self.index is None else self.index + 1,
                    "cue_name": "" if cur is None else cur.title,
                    "cue_count": self.count,
                    "cue_pending": 0 if self._pending_index is None else self._pending_index + 1,
                    "cue_list": "" if cl is None else cl.name,
                    "quantize": self.quantize_override or (cl.quantize if cl else "none")}
