"""scripts/vj_compare.py pools evaluations per model: counts and means over all runs, one line on bad input."""

import importlib.util
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "vj_compare", Path(__file__).resolve().parents[2] / "scripts" / "vj_compare.py")
assert _spec and _spec.loader
C = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(C)


def _run(fam, pal, moved, hf, family="tunnel"):
    return {"family_ok": fam, "palette_ok": pal, "direction_ok": moved, "hf_ratio": hf,
            "label": [family, "mono", "in", "slow", False]}


def _write(folder: Path, runs):
    folder.mkdir()
    part = {"runs": runs}
    (folder / "metrics.json").write_text(json.dumps({"held_in": part, "paraphrase": part}))


def test_pools_runs_over_seeds(tmp_path, capsys):
    _write(tmp_path / "a0", [_run(1.0, 1.0, True, 0.1), _run(0.0, 0.5, None, 0.3)])
    _write(tmp_path / "a1", [_run(0.5, 0.0, False, 0.2, family="smoke")])
    _write(tmp_path / "b0", [_run(0.25, 1.0, True, 0.4)])
    assert C.main([str(tmp_path / "a0"), str(tmp_path / "a1"), "--", str(tmp_path / "b0")]) == 0
    a, b = json.loads(capsys.readouterr().out)
    assert a["held_in"] == {"runs": 3, "family_obeyed": 0.5, "palette_obeyed": 0.5, "direction_ok": 0.5,
                            "direction_rollouts": 2, "hf_ratio_median": 0.2,
                            "family_obeyed_per_family": {"smoke": 0.5, "tunnel": 0.5}}
    assert b["paraphrase"]["family_obeyed"] == 0.25 and b["paraphrase"]["direction_rollouts"] == 1


def test_missing_metrics_is_one_line(tmp_path, capsys):
    assert C.main([str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "metrics.json" in err
    assert C.main([]) == 2
