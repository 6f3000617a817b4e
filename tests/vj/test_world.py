"""The VJ world: every family renders, moves the way its direction word says (by the judge),
its captions carry the words the shipped cue lists use, and paraphrases use unseen words."""

import random
import zlib

import numpy as np
import pytest

from sfe_live.vj import judge as J
from sfe_live.vj import world as W


def test_every_label_is_valid_and_renders_uint8():
    labels = W.all_labels()
    assert len(labels) == sum(len(d) for d in W.FAMILIES.values()) * len(W.PALETTES) * len(W.SPEEDS) * 2
    rng = random.Random(0)
    for fam in W.FAMILIES:
        lab = W.random_label(rng, family=fam)
        fr = W.render(W.Scene(lab, 1), 4, 10)
        assert fr.shape == (4, W.SIZE, W.SIZE, 3) and fr.dtype == np.uint8
        assert fr.std() > 3, fam                                   # not a blank frame


def test_render_is_a_pure_function_of_the_scene():
    lab = W.Label("tunnel", "fire", "out", "fast", True)
    a = W.render(W.Scene(lab, 7), 6, 3)
    b = W.render(W.Scene(lab, 7), 6, 3)
    c = W.render(W.Scene(lab, 8), 6, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # a window of a longer render equals a render that starts later
    assert np.array_equal(W.render(W.Scene(lab, 7), 9, 0)[3:], a)


def test_invalid_direction_is_refused():
    with pytest.raises(ValueError, match="cannot move"):
        W.Label("strobe", "mono", "left", "slow", False)


@pytest.mark.parametrize("family", [f for f in W.FAMILIES if f != "strobe"])
def test_the_judge_reads_each_familys_directions_on_the_world(family):
    # The judge is read over 10 seeded clips per direction, not one: on the world it misreads about 1 clip in
    # 100 (plasma's slow blobs, measured over 300 seeds), which is the evaluator's ceiling, not a bug.
    # The seed is fixed (crc32, not the per-process salted hash()) so the test reads the same clips every run.
    rng = random.Random(zlib.crc32(family.encode()))
    for d in W.FAMILIES[family]:
        ok = 0
        for _ in range(10):
            lab = W.random_label(rng, family=family, direction=d, speed="medium", pulse=False)
            fr = W.render(W.Scene(lab, rng.randrange(10 ** 6)), 8, rng.randrange(100))
            ok += bool(J.motion_ok(d, J.global_motion(fr)))
        assert ok >= 9, (family, d, ok)


def test_judge_tells_opposite_directions_apart():
    lab = W.Label("stripes", "mono", "left", "medium", False)
    fr = W.render(W.Scene(lab, 3), 8)
    m = J.global_motion(fr)
    assert J.motion_ok("left", m) and not J.motion_ok("right", m) and not J.motion_ok("up", m)
    assert J.motion_ok("none", m) is None


def test_palette_switch_keeps_geometry():
    rng = random.Random(3)
    lab, fr, lab2 = W.sample_clip(rng, 9, switch_at=4)
    assert lab2.palette != lab.palette and (lab2.family, lab2.direction) == (lab.family, lab.direction)
    again = W.render(W.Scene(lab, 0), 1)                            # shape only
    assert again.shape[1:] == fr.shape[1:]


def test_captions_use_the_cue_list_words_and_paraphrases_do_not_overlap():
    caps = W.all_captions(W.Label("tunnel", "magenta & cyan", "out", "fast", True))
    assert any("neon tunnel" in c and "magenta and cyan" in c and "rushing toward the camera" in c for c in caps)
    assert all("pulsing" in c or "throbbing" in c or "beating" in c for c in caps)
    vocab = W.training_vocabulary()
    rng = random.Random(1)
    for lab in random.Random(2).sample(W.all_labels(), 40):
        words = set(W.paraphrase(lab, rng).replace(",", " ").split()) - W.SHARED_WORDS
        held = [w for w in words if w in vocab]
        assert not held, (lab, held)


def test_hf_energy_sees_speckle():
    lab = W.Label("plasma", "ice", "left", "slow", False)
    fr = W.render(W.Scene(lab, 5), 4)
    noisy = np.clip(fr.astype(np.int16) + np.random.default_rng(0).integers(-30, 30, fr.shape), 0, 255).astype(np.uint8)
    assert J.hf_energy(noisy) > 5 * J.hf_energy(fr)


def test_blur_keeps_an_image_at_sigma_zero_and_softens_it_otherwise():
    import torch
    fr = W.render(W.Scene(W.Label("starfield", "mono", "out", "fast", False), 3), 1)
    x = torch.from_numpy(fr).permute(0, 3, 1, 2).float().repeat(2, 1, 1, 1) / 255.0     # [2, 3, 96, 96]
    y = J.blur(x, torch.tensor([0.0, 1.5]))
    assert torch.allclose(y[0], x[0], atol=1e-6)                   # sigma 0: the same frame
    assert abs(float(y[1].mean() - x[1].mean())) < 1e-3            # blur keeps the mean (the palette) ...
    assert J.hf_energy((y[1:].permute(0, 2, 3, 1) * 255).numpy()) < 0.5 * J.hf_energy(fr)   # ... and softens


def test_probe_report_covers_every_family_on_a_balanced_held_out_set():
    import torch
    x, fy, py = J.held_out_set(0, per_family=3)
    assert x.shape == (3 * len(J.FAMILY_NAMES), 3, 96, 96)
    assert torch.bincount(fy, minlength=len(J.FAMILY_NAMES)).tolist() == [3] * len(J.FAMILY_NAMES)
    probe, rep = J.train_probe(seconds=0.5)
    assert rep.steps >= 1 and set(rep.family_acc_per_family) == set(J.FAMILY_NAMES)
    assert 0.0 <= rep.family_acc_blurred <= 1.0 and 0.0 <= rep.family_acc <= 1.0
