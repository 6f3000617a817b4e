"""scripts/vj_vocab_ceiling.py widens the training vocabulary without touching the held-out one."""

import importlib.util
import random
from pathlib import Path

from sfe_live.vj import world as W

_spec = importlib.util.spec_from_file_location(
    "vj_vocab_ceiling", Path(__file__).resolve().parents[2] / "scripts" / "vj_vocab_ceiling.py")
assert _spec and _spec.loader
V = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(V)


def test_wider_vocabulary_never_uses_a_held_out_word_and_is_undone():
    before = W.training_vocabulary()
    tunnels = list(W.FAMILY_WORDS["tunnel"])
    with V.wider_vocabulary() as left_out:
        wide = W.training_vocabulary()
        assert len(wide) > len(before) + 50
        held = W.held_out_vocabulary()
        assert wide & held == before & held == {"glowing"}    # shipped: 'glowing particles' / 'glowing corridor'
        assert "hypnotic tunnel" in W.FAMILY_WORDS["tunnel"]
        rng = random.Random(0)
        lab = W.Label("tunnel", "ice", "out", "fast", False)
        drawn = [W.caption(lab, rng) for _ in range(200)]
        assert sum(any(ph in c for ph in V.EXTRA_FAMILY["tunnel"]) for c in drawn) > 50   # captions use them
    assert W.training_vocabulary() == before and W.FAMILY_WORDS["tunnel"] == tunnels
    assert all(set(ph.split()) & W.held_out_vocabulary() for ph in left_out)


def test_a_wrong_text_model_folder_gets_one_line(tmp_path):
    import pytest
    with pytest.raises(SystemExit, match=r"--text-model: .*no config.json"):
        V.main(["--text-model", str(tmp_path)])
