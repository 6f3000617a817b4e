"""Cue lists: TOML round trip, validation errors with file:line, atomic save, the cue player."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sfe_live.engine import commands as C
from sfe_live.show.cues import Cue, CueList, CueListError, CuePlayer, load_cue_list, save_cue_list
from sfe_live.show.presets import list_cue_lists, list_profiles, resolve

PRESETS = Path(__file__).resolve().parents[2] / "presets"

GOOD = """schema = 1
name = "test"
quantize = "beat"

[[cue]]
name = "a"
prompt = "a woman walking"

[[cue]]
prompt = "a cat walking"
transition = "purge"
strength = 3
advance_blocks = 4
"""


def test_round_trip(tmp_path):
    p = tmp_path / "cues.toml"
    p.write_text(GOOD)
    cl = load_cue_list(p)
    assert [c.prompt for c in cl.cues] == ["a woman walking", "a cat walking"]
    assert cl.cues[1] == Cue("a cat walking", transition="purge", strength=3, advance_blocks=4)
    assert [c.line for c in cl.cues] == [5, 9] and cl.quantize == "beat"
    out = tmp_path / "saved" / "cues.toml"
    save_cue_list(cl, out)
    assert load_cue_list(out) == cl
    assert not [f for f in os.listdir(out.parent) if f.endswith(".tmp")]


@pytest.mark.parametrize("bad,line,needle", [
    ('\n[[cue]]\nprompt = "x"\ntransition = "wipe"\n', 4, "transition must be one of"),
    ('[[cue]]\nprompt = "x"\n\n[[cue]]\nprompt = ""\n', 5, "non-empty prompt"),
    ('[[cue]]\nprompt = "x"\nstrength = 5\n', 3, "strength must be an integer 0..3"),
    ('[[cue]]\nprompt = "x"\nblend_blocks = 0\n', 3, "blend_blocks"),
    ('[[cue]]\nprompt = "x"\nadvance_blocks = 2\nadvance_beats = 4\n', 4, "not both"),
    ('[[cue]]\nprompt = "x"\nspeed = 2\n', 3, "unknown field(s) speed"),
    ('quantize = "half"\n[[cue]]\nprompt = "x"\n', 1, "quantize must be one of"),
    ('schema = 9\n[[cue]]\nprompt = "x"\n', 1, "schema 9"),
    ('[[cue]]\nprompt = "x\n', 2, "TOML syntax error"),
])
def test_validation_errors_name_file_and_line(tmp_path, bad, line, needle):
    p = tmp_path / "bad.toml"
    p.write_text(bad)
    with pytest.raises(CueListError) as e:
        load_cue_list(p)
    assert str(e.value).startswith(f"{p}:{line}:"), str(e.value)
    assert needle in str(e.value)


def test_empty_and_missing(tmp_path):
    p = tmp_path / "e.toml"
    p.write_text("schema = 1\n")
    with pytest.raises(CueListError, match="at least one"):
        load_cue_list(p)
    with pytest.raises(CueListError, match="cannot read"):
        load_cue_list(tmp_path / "missing.toml")


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "c.toml"
    p.write_text(GOOD)
    cl = load_cue_list(p)
    import sfe_live.io as tio

    def boom(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(tio.os, "replace", boom)
    with pytest.raises(OSError):
        save_cue_list(CueList((Cue("other"),)), p)
    assert load_cue_list(p) == cl
    assert not list(tmp_path.glob("*.tmp"))


def test_shipped_presets_load():
    lists = list_cue_lists()
    assert len(lists) >= 3
    for name, path in lists.items():
        cl = load_cue_list(path)
        assert len(cl) >= 2, name
    woman = load_cue_list(resolve("woman_to_cat"))
    assert woman.cues[1].transition == "purge" and "cat" in woman.cues[1].prompt
    rocket = load_cue_list(resolve("rocket_launch"))
    assert rocket.cues[1].transition == "blend" and "rocket" in rocket.cues[0].prompt
    assert {"akai_apc_mini_mk2", "novation_launch_control_xl", "korg_nanokontrol2",
            "midi_fighter_twister"} <= set(list_profiles())


# ---------------------------------------------------------------------- player
class FakeTempo:
    def __init__(self, clock):
        self.clock = clock

    def next_boundary(self, unit="beat", t=None, lookahead=0.0):
        size = 0.5 if unit == "beat" else 2.0
        now = self.clock()
        k = int((now + lookahead) // size) + 1
        return k * size - lookahead

    def beat_at(self, t=None):
        return (self.clock() if t is None else t) / 0.5

    def time_of_beat(self, beat):
        return beat * 0.5


class FakeTimer:
    def __init__(self):
        self.jobs = {}
        self.n = 0

    def call_at(self, when, fn):
        self.n += 1
        self.jobs[self.n] = (when, fn)
        return self.n

    def cancel(self, job):
        self.jobs.pop(job, None)

    def run_until(self, t):
        for j, (when, fn) in sorted(self.jobs.items(), key=lambda kv: kv[1][0]):
            if when <= t:
                del self.jobs[j]
                fn()


def _list(**kw):
    return CueList(tuple(Cue(f"p{i}", name=f"c{i}", **kw) for i in range(1, 4)))


def test_player_go_next_prev():
    sent = []
    pl = CuePlayer(sent.append)
    pl.load(_list(transition="purge", strength=2))
    assert pl.next() and pl.status()["cue"] == 1
    assert pl.next() and pl.next() and not pl.next()
    assert pl.prev() and pl.status()["cue"] == 2
    assert not pl.go(9)
    assert [c.text for c in sent] == ["p1", "p2", "p3", "p2"]
    assert sent[0] == C.SetPrompt("p1", "purge", 2, 4, "linear")


def test_player_quantised_go_with_lookahead():
    t = [10.1]
    clock = lambda: t[0]  # noqa: E731
    sent, timer = [], FakeTimer()
    pl = CuePlayer(sent.append, tempo=FakeTempo(clock), timer=timer, lookahead=0.1, clock=clock)
    pl.load(_list(quantize="bar"))
    pl.go(2)
    assert sent == [] and pl.status()["cue_pending"] == 2
    (when, _), = timer.jobs.values()
    assert when == pytest.approx(11.9)  # bar at 12.0 minus 0.1 s look-ahead
    pl.go(3)  # a later GO replaces the pending one
    assert len(timer.jobs) == 1
    pl.next()  # next from the pending cue 3: wraps? no loop → nothing
    timer.run_until(12.0)
    assert [c.text for c in sent] == ["p3"] and pl.status()["cue"] == 3
    pl.go(1, quantize="none")
    assert sent[-1].text == "p1"


def test_player_auto_advance_blocks_and_beats():
    block = [0]
    sent = []
    pl = CuePlayer(sent.append, block=lambda: block[0])
    pl.load(CueList((Cue("a", advance_blocks=3), Cue("b"), Cue("c")), loop=False))
    pl.go(1)
    for b in range(1, 6):
        block[0] = b
        pl.tick()
    assert [c.text for c in sent] == ["a", "b"]
    t = [0.0]
    pl2 = CuePlayer(sent.append, tempo=FakeTempo(lambda: t[0]), timer=FakeTimer(), clock=lambda: t[0])
    pl2.load(CueList((Cue("x", advance_beats=4), Cue("y", advance_beats=4)), loop=True))
    pl2.go(1)
    for i in range(1, 45):
        t[0] = i * 0.1
        pl2.timer.run_until(t[0])
        pl2.tick()
    assert [c.text for c in sent[2:]] == ["x", "y", "x"]  # 4 beats = 2 s at 120 BPM


def test_auto_advance_is_bar_exact_at_120_bpm():
    """neon_club_set's 16-beat cues (quantize = bar) at 120 BPM advance every 8.0 s, not every 10 s (a bar
    late: the tick after the 16th beat re-quantised the GO to the following bar)."""
    from sfe_live.controls.tempo import TempoClock

    t = [0.0]
    clock = lambda: t[0]  # noqa: E731
    tempo = TempoClock(120.0, clock=clock)
    timer, fired = FakeTimer(), []
    pl = CuePlayer(lambda c: fired.append((t[0], c.text)), tempo=tempo, timer=timer, lookahead=0.1, clock=clock)
    pl.load(load_cue_list(PRESETS / "neon_club_set.toml"))
    t[0] = 0.3
    pl.go(1)                                   # quantised to the next bar (2.0 s) minus the look-ahead
    while t[0] < 40.0:
        t[0] = round(t[0] + 1 / 30, 6)         # the hub ticks ~30x/s; the timer runs a little late
        timer.run_until(t[0])
        pl.tick()
    times = [round(w, 2) for w, _ in fired]
    assert len(times) == 5 and times[0] == pytest.approx(1.9, abs=0.04), times
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(g == pytest.approx(8.0, abs=1 / 30 + 1e-6) for g in gaps), gaps
    # each cue lands on a bar boundary (beat multiple of 4) once the look-ahead has passed
    assert all(tempo.beat_at(w + 0.1) % 4 == pytest.approx(0, abs=0.07) for w, _ in fired)


def test_player_without_list_is_quiet():
    pl = CuePlayer(lambda c: None)
    assert not pl.go(1) and not pl.next() and not pl.prev()
    assert pl.status()["cue"] == 0


def test_block_driven_player_fires_only_at_block_edges_on_the_shown_beat():
    """Driven by blocks (render, and the live runner), a quantised GO and an auto-follow fire at a block
    edge: on the first block shown at or after their beat; a plain GO counts its beats from its block."""
    from sfe_live.controls.tempo import TempoClock
    from sfe_live.show.cues import BlockEdgeTimer

    t = [0.0]                                   # the presentation time of the block made next
    clock = lambda: t[0]  # noqa: E731
    fired = []
    pl = CuePlayer(lambda c: fired.append((round(t[0], 6), c.text)), tempo=TempoClock(120.0, clock=clock),
                   timer=BlockEdgeTimer(), clock=clock)
    pl.load(CueList((Cue("x", advance_beats=3), Cue("y"), Cue("z")), quantize="bar"))
    t[0] = 0.3
    pl.go(1)                                    # quantised to the bar at 2.0 s
    for k in range(2, 14):                      # blocks of 0.3 s; the hub's ticks between edges fire nothing
        t[0] = round(0.3 * k - 0.15, 6)
        pl.tick()
        t[0] = round(0.3 * k, 6)
        pl.block_edge()
    # x on the first block shown at or after 2.0 s (2.1), y 3 beats (1.5 s) later: first edge >= 3.5 (3.6)
    assert fired == [(2.1, "x"), (3.6, "y")]
    assert pl.status()["cue"] == 2
    pl.load(CueList((Cue("x", advance_beats=1), Cue("y"))))
    t[0] = 4.05
    pl.go(1)                                    # from another thread between edges: sent at once ...
    assert fired[-1] == (4.05, "x") and pl.status()["cue"] == 1
    for t[0] in (4.2, 4.5, 4.8):                # ... and timed from the block it lands on (4.2): y at 4.7
        pl.block_edge()
    assert fired[-1] == (4.8, "y")
