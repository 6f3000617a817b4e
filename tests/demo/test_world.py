"""The demo world: seeded, captions cover the vocabulary, paraphrases use unseen words."""

import random

import numpy as np

from sfe_live.demo import world as W


def test_render_is_deterministic_and_shaped():
    a = W.sample_clip(random.Random(3), 9)
    b = W.sample_clip(random.Random(3), 9)
    assert a[0] == b[0]
    assert a[1].shape == (9, W.SIZE, W.SIZE, 3) and a[1].dtype == np.uint8
    assert np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1][0], a[1][-1]) or a[0].motion in ("spinning", "pulsing")


def test_issue_vocabulary_is_covered():
    for c in ("red", "green", "blue", "yellow", "purple", "orange", "white", "cyan"):
        assert c in W.COLOURS
    for m in ("left", "right", "up", "down", "bouncing", "spinning", "pulsing"):
        assert m in W.MOTIONS
    for b in ("black", "night sky", "sunset", "grid"):
        assert b in W.BACKGROUNDS
    caps = W.all_captions("red", "circle", "left", "night sky")
    assert len(caps) > 50 and all(any(w in c for w in W.COLOUR_WORDS["red"]) for c in caps)
    assert any(c.startswith("a red ") for c in caps)
    # held-out colour words never appear in a training colour name
    held = {w for ws in W.HELD_COLOUR.values() for w in ws}
    names = {t for ws in W.COLOUR_WORDS.values() for w in ws for t in w.split()}
    assert not held & names


def test_paraphrases_use_words_training_never_sees():
    vocab = W.training_vocabulary()
    rng = random.Random(0)
    for _ in range(50):
        s = W.random_scene(rng)
        text = W.paraphrase(s, rng)
        colour_word = [w for w in W.HELD_COLOUR[s.colour] if w in text]
        assert colour_word and colour_word[0] not in vocab


def test_motion_moves_the_object():
    s = W.random_scene(random.Random(1), colour="red", obj="square", motion="right", background="black")
    fr = W.render(s, 4)
    xs = [np.nonzero(f[..., 0] > 128)[1].mean() for f in fr]
    assert all(0.5 < ((b - a) % W.SIZE) < 3 for a, b in zip(xs, xs[1:]))


def test_colour_switch_clip():
    scene, fr, scene2 = W.sample_clip(random.Random(5), 6, switch_at=3)
    assert scene2 is not None and scene2.colour != scene.colour and scene2.x == scene.x
