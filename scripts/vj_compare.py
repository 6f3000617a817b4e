"""Pool several VJ evaluations (one per ``--seed``) per model, so two weights are compared on more
rollouts than one evaluation draws (26 per set; one rollout moves a direction figure by 0.04).

    python -m sfe_live.vj.evaluate out/cmp/A_s0 --model vj --seed 0 --probe docs/vj/probe.safetensors \
        --skip speed stream purge ceilings          # ... and so on for each seed and model
    python scripts/vj_compare.py out/cmp/A_s* -- out/cmp/B_s*

Groups are separated by ``--``; each group is one model. Prints JSON: per group and caption set, the
family and palette obeyed over all pooled runs (and the family per family), the share of rollouts that
moved as told (with its count), and the median high-frequency ratio.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any


def pool(folders: list[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {"folders": [str(f) for f in folders]}
    metrics = [json.loads((f / "metrics.json").read_text()) for f in folders]
    for part in ("held_in", "paraphrase"):
        runs = [r for m in metrics for r in m[part]["runs"]]
        moved = [r["direction_ok"] for r in runs if r["direction_ok"] is not None]
        out[part] = {
            "runs": len(runs),
            "family_obeyed": round(statistics.fmean(r["family_ok"] for r in runs), 3),
            "palette_obeyed": round(statistics.fmean(r["palette_ok"] for r in runs), 3),
            "direction_ok": round(sum(moved) / len(moved), 3),
            "direction_rollouts": len(moved),
            "hf_ratio_median": round(statistics.median(r["hf_ratio"] for r in runs), 3),
            "family_obeyed_per_family": {
                fam: round(statistics.fmean(r["family_ok"] for r in runs if r["label"][0] == fam), 2)
                for fam in sorted({r["label"][0] for r in runs})},
        }
    return out


def main(argv: list[str]) -> int:
    groups: list[list[Path]] = [[]]
    for a in argv:
        if a == "--":
            groups.append([])
        else:
            groups[-1].append(Path(a))
    bad = [str(f) for g in groups for f in g if not (f / "metrics.json").is_file()]
    if bad or not all(groups):
        print(f"vj_compare: need folders holding metrics.json, groups split by --; missing: {bad or 'a group'}",
              file=sys.stderr)
        return 2
    print(json.dumps([pool(g) for g in groups], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
