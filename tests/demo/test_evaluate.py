"""Evaluation helpers on tiny inputs (rendered world frames, where the truth is known)."""

import random

import numpy as np

from sfe_live.demo import evaluate as E
from sfe_live.demo import world as W


def test_colour_of_rendered_frames():
    rng = random.Random(0)
    for colour in W.COLOURS:
        for bg in W.BACKGROUNDS:
            s = W.random_scene(rng, colour=colour, obj="square", motion="left", background=bg)
            cols = E.frame_colours(W.render(s, 2), bg)
            assert cols == [colour, colour], (colour, bg, cols)
    empty = np.zeros((2, W.SIZE, W.SIZE, 3), np.uint8)
    assert E.frame_colours(empty) == [None, None]


def test_direction_and_teleports():
    s = W.random_scene(random.Random(1), colour="blue", obj="circle", motion="up", background="grid")
    fr = W.render(s, 12)
    ms = E.motion_stats(E.centroids(fr, "blue"))
    assert E.direction_ok("up", ms) is True and E.direction_ok("down", ms) is False
    assert ms["teleport"] == 0.0
    jumpy = np.concatenate([fr[:3], np.roll(fr[3:6], 25, axis=2)])
    assert E.motion_stats(E.centroids(jumpy, "blue"))["teleport"] > 0


def test_flicker_ratio():
    fr = np.zeros((6, 4, 4, 3), np.uint8)
    fr[3:] = 90           # a jump exactly at the block boundary (fpb 3)
    f = E.flicker(fr, 3)
    assert f["boundary"] > 0 and f["within"] == 0


def test_flicker_says_what_jumps_at_the_boundary():
    rng = np.random.default_rng(0)
    n, side = 12, 48
    drift = np.arange(n)[:, None, None, None] * 2.0                 # a slow, even change within and across
    layout = np.zeros((n, side, side, 3), np.float32)
    for blk in range(n // 3):                                        # each block: one big bright square
        y, x = rng.integers(0, side - 16, 2)
        layout[blk * 3:(blk + 1) * 3, y:y + 16, x:x + 16] = 120.0
    fine = rng.normal(0, 20, (n, side, side, 3)).astype(np.float32)  # fresh fine noise every frame
    fr = np.clip(60 + drift + layout + fine, 0, 255).astype(np.uint8)
    f = E.flicker(fr, 3)
    assert f["ratio"] > 1.2                                          # it flickers at the boundaries...
    assert f["coarse_ratio"] > 3 * f["detail_ratio"]                 # ...because the layout jumps there
    assert 0.5 < f["detail_ratio"] < 1.3                             # the fine noise is the same everywhere


def test_relative_colour_counts_faint_objects():
    s = W.random_scene(random.Random(2), colour="cyan", obj="square", motion="left", background="black")
    fr = W.render(s, 2)
    faint = (fr.astype(np.float32) * 0.4).astype(np.uint8)       # a dim cyan the strict test misses
    assert E.frame_colours(faint) == [None, None]
    assert E.frame_colours_relative(faint, "black") == ["cyan", "cyan"]


def test_object_area_measures_the_object_not_the_background():
    rng = random.Random(3)
    s = W.random_scene(rng, colour="yellow", obj="square", motion="right", background="sunset")
    fr = W.render(s, 3)
    area = E.object_area(fr, "yellow", "sunset")
    side = 2 * 0.8 * s.radius
    assert 0.7 * side ** 2 < area < 1.3 * side ** 2
    big = W.render(W.Scene(**{**s.__dict__, "radius": 2 * s.radius}), 3)
    assert E.object_area(big, "yellow", "sunset") > 3 * area
    assert E.object_area(fr, "cyan", "sunset") == 0.0


def test_paraphrase_can_keep_the_colour_name():
    rng = random.Random(4)
    s = W.random_scene(rng, colour="orange")
    text = W.paraphrase(s, rng, held_colour=False)
    assert "orange" in text and not any(w in text for w in W.HELD_COLOUR["orange"])
