"""Measure the VJ model through the real engine: ``python -m sfe_live.vj.evaluate OUT``.

Writes ``OUT/metrics.json``, PNG strips (``OUT/strip_*.png``, generated rows above the world's
own rows for the same caption), a drift plot and a per-family bar chart. Every rollout runs
through ``Engine`` -- the app's block loop, KV cache, purge and drift guard.

Judges (:mod:`sfe_live.vj.judge`), none of them trained on model outputs:

* prompt obeyed: a probe CNN trained on the world's ground-truth frames names each generated
  frame's family and palette (its accuracy on fresh world frames is reported beside it), for
  held-in captions and for paraphrases from words no training caption uses;
* motion as told: an affine optical-flow fit per frame pair (mean flow, divergence, curl) says
  whether a rollout moved left/right/up/down/in/out/clockwise/counter-clockwise as asked
  (its score on the world itself is reported too); continuity: share of frame pairs whose
  change is over 3x the world's largest for the same caption ("jumps");
* clean: high-frequency energy (mean squared Laplacian) of generated frames over the world's
  for the same caption (speckle shows up as a ratio well above 1);
* alive and stable: one long stream (``--minutes``), per minute saturation, contrast, frozen,
  flicker ratio (mean frame change across block boundaries over within blocks), probe accuracy;
* purge: blocks until a new prompt (new palette, then new family) is on screen, per purge
  strength and per purge mode;
* speed: frames per second of the engine (DiT + decode) at the native size;
* ceilings (not figures of the model as it runs, but of what bounds it): how far the model's
  own text encoder carries a paraphrase at all (:mod:`sfe_live.vj.textcheck`), what the codec
  keeps of the world, and the first block by the engine's 4 steps against a many-step ODE of
  the same model (:mod:`sfe_live.vj.diagnose`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from sfe_live.demo.evaluate import (_public, flicker, make_engine, measure_fps, sat_contrast, save_drift_plot,
                                    save_strip)
from sfe_live.vj import judge as J
from sfe_live.vj import world as W

log = logging.getLogger("sfe_live.vj.evaluate")
FPS = W.FPS
SIZE = W.SIZE


def vj_engine(bundle: Any, prompt: str, seed: int) -> Any:
    return make_engine(bundle, prompt, seed, height=SIZE, width=SIZE)


def rollout(bundle: Any, prompt: str, blocks: int, seed: int) -> np.ndarray:
    eng = vj_engine(bundle, prompt, seed)
    return np.concatenate([eng.next_block().frames for _ in range(blocks)])


def balanced_labels(rng: random.Random, n: int) -> list[W.Label]:
    """n labels cycling through the families, the rest random."""
    fams = list(W.FAMILIES)
    return [W.random_label(rng, family=fams[i % len(fams)]) for i in range(n)]


def frame_diffs(frames: np.ndarray) -> np.ndarray:
    f = frames.astype(np.float32)
    return np.abs(f[1:] - f[:-1]).mean(axis=(1, 2, 3))


def eval_prompts(bundle: Any, probe: J.Probe, n: int, blocks: int, seed: int, paraphrase: bool) -> dict[str, Any]:
    rng = random.Random(seed + (1 if paraphrase else 0))
    fam_ok = pal_ok = total = 0
    dirs, hf, jumps, world_dirs, per, rows = [], [], [], [], [], []
    per_family: dict[str, list[float]] = {f: [] for f in W.FAMILIES}
    for i, lab in enumerate(balanced_labels(rng, n)):
        prompt = W.paraphrase(lab, rng) if paraphrase else W.caption(lab, rng)
        frames = rollout(bundle, prompt, blocks, seed + i)
        real = W.render(W.Scene(lab, rng.randrange(2 ** 31)), frames.shape[0], rng.randrange(0, 400))
        fi, pi = probe.classify(frames)
        f_ok = float(np.mean(fi == J.FAMILY_NAMES.index(lab.family)))
        p_ok = float(np.mean(pi == J.PALETTE_NAMES.index(lab.palette)))
        fam_ok += f_ok * len(fi)
        pal_ok += p_ok * len(pi)
        total += len(fi)
        per_family[lab.family].append(f_ok)
        d = J.motion_ok(lab.direction, J.global_motion(frames[3:]))      # the first block has no context
        dw = J.motion_ok(lab.direction, J.global_motion(real[3:]))
        if d is not None:
            dirs.append(bool(d))
            world_dirs.append(bool(dw))
        ratio = J.hf_energy(frames) / max(J.hf_energy(real), 1e-9)
        hf.append(ratio)
        gd, wd = frame_diffs(frames), frame_diffs(real)
        jump = float(np.mean(gd > 3 * max(float(wd.max()), 1.0)))
        jumps.append(jump)
        per.append({"prompt": prompt, "label": [lab.family, lab.palette, lab.direction, lab.speed, lab.pulse],
                    "family_ok": round(f_ok, 3), "palette_ok": round(p_ok, 3), "direction_ok": d,
                    "hf_ratio": round(ratio, 3), "jump_pairs": round(jump, 3),
                    "probe_family": J.FAMILY_NAMES[int(np.bincount(fi).argmax())],
                    "probe_palette": J.PALETTE_NAMES[int(np.bincount(pi).argmax())]})
        if len(rows) < 14:
            rows.append((f"model: {prompt}", frames))
            rows.append(("world", real))
    return {"family_obeyed": fam_ok / max(1, total), "palette_obeyed": pal_ok / max(1, total),
            "direction_ok": float(np.mean(dirs)) if dirs else None, "direction_rollouts": len(dirs),
            "direction_ok_world": float(np.mean(world_dirs)) if world_dirs else None,
            "hf_ratio_median": float(np.median(hf)), "hf_ratio_within_1_5": float(np.mean(np.array(hf) <= 1.5)),
            "jump_pairs_mean": float(np.mean(jumps)),
            "family_obeyed_per_family": {f: (round(float(np.mean(v)), 3) if v else None)
                                         for f, v in per_family.items()},
            "runs": per, "_rows": rows}


def eval_stream(bundle: Any, probe: J.Probe, lab: W.Label, minutes: float, seed: int, guard: bool,
                record: Optional[Path] = None) -> dict[str, Any]:
    from sfe_live.engine import commands as C
    rng = random.Random(seed)
    prompt = W.caption(lab, rng)
    eng = vj_engine(bundle, prompt, seed)
    if guard:
        eng.apply(C.SetDriftGuard(enabled=True))
    per_min = FPS * 60
    total = int(minutes * per_min)
    done, minute, stats, block_stats, samples = 0, [], [], [], []
    writer = None
    if record is not None:
        import av
        container = av.open(str(record), "w")
        vstream = container.add_stream("libx264", rate=FPS)
        vstream.width = vstream.height = SIZE
        vstream.pix_fmt = "yuv420p"
        writer = (container, vstream)
    gen_s = 0.0
    while done < total:
        ts = time.perf_counter()
        b = eng.next_block()
        gen_s += time.perf_counter() - ts
        minute.append(b.frames)
        block_stats.append(sat_contrast(b.frames))
        done += b.frames.shape[0]
        if writer is not None and len(stats) == 0:          # the first minute goes to the recording
            import av
            for f in b.frames:
                for pkt in writer[1].encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                    writer[0].mux(pkt)
        if sum(len(m) for m in minute) >= per_min or done >= total:
            fr = np.concatenate(minute)
            fi, pi = probe.classify(fr[::4])
            diffs = frame_diffs(fr)
            sat, con = sat_contrast(fr)
            fl = flicker(fr, b.frames.shape[0])
            stats.append({"minute": len(stats) + 1, "frames": len(fr), "saturation": sat, "contrast": con,
                          "mean_frame_diff": float(diffs.mean()), "frozen": bool(diffs.mean() < 0.3),
                          "flicker_ratio": fl["ratio"], "flicker_coarse_ratio": fl["coarse_ratio"],
                          "flicker_detail_ratio": fl["detail_ratio"],
                          "flicker_brightness_ratio": fl["brightness_ratio"],
                          "family_obeyed": float(np.mean(fi == J.FAMILY_NAMES.index(lab.family))),
                          "palette_obeyed": float(np.mean(pi == J.PALETTE_NAMES.index(lab.palette)))})
            samples.append(fr[:24])
            minute = []
            log.info("stream minute %d: %s", len(stats), {k: round(v, 3) if isinstance(v, float) else v
                                                          for k, v in stats[-1].items()})
    if writer is not None:
        for pkt in writer[1].encode():
            writer[0].mux(pkt)
        writer[0].close()
    first, last = stats[0], stats[-1]
    world = W.render(W.Scene(lab, seed), 240, 0)
    return {"prompt": prompt, "minutes": stats, "generation_fps": done / max(gen_s, 1e-9),
            "saturation_change": last["saturation"] / max(first["saturation"], 1e-6) - 1,
            "contrast_change": last["contrast"] / max(first["contrast"], 1e-6) - 1,
            "any_frozen": any(s["frozen"] for s in stats),
            "flicker_ratio": float(np.mean([s["flicker_ratio"] for s in stats])),
            "world_flicker_ratio": flicker(world, 3)["ratio"],
            "drift_triggers": eng.state.drift.triggers, "_block_stats": block_stats, "_samples": samples}


def blocks_to_adopt(bundle: Any, probe: J.Probe, a: str, b: str, want: tuple[str, int], transition: str,
                    strength: Optional[int], mode: Optional[str], seed: int, before: int = 6,
                    after: int = 8) -> dict[str, Any]:
    """Blocks after the switch until the probe sees the new prompt's family or palette
    (``want = ("family" | "palette", index)``) in most frames of a block (None = never), and the
    continuity of the switch (mean |difference| between the last frame before and the first after)."""
    from sfe_live.engine import commands as C
    eng = vj_engine(bundle, a, seed)
    last = None
    for _ in range(before):
        last = eng.next_block().frames[-1]
    if transition == "cut":
        eng.apply(C.SetPrompt(b, transition="cut"))
    else:
        eng.apply(C.SetPrompt(b, transition="purge", strength=strength, purge_mode=mode))
    adopt, frames = None, []
    for k in range(after):
        fr = eng.next_block().frames
        frames.append(fr)
        fi, pi = probe.classify(fr)
        got = fi if want[0] == "family" else pi
        if adopt is None and np.sum(got == want[1]) * 2 > len(got):
            adopt = k + 1
    cont = float(np.abs(frames[0][0].astype(np.float32) - last.astype(np.float32)).mean()) if last is not None else None
    return {"blocks_to_adopt": adopt, "continuity_mad": cont, "_frames": np.concatenate(frames)}


PURGE_VARIANTS = [("none", "cut", None, None)] + [(f"strength_{s}", "purge", s, "full") for s in range(4)] + \
    [("keep-last", "purge", 3, "keep-last"), ("keep-sink", "purge", 3, "keep-sink")]


def eval_purge(bundle: Any, probe: J.Probe, pairs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed + 7)
    cases = []
    for i in range(pairs):
        a = W.random_label(rng, pulse=False)
        if i % 2 == 0:        # a new palette, same family and motion
            b = W.Label(a.family, rng.choice([p for p in W.PALETTES if p != a.palette]), a.direction, a.speed, False)
            want = ("palette", J.PALETTE_NAMES.index(b.palette))
        else:                 # a new family
            fam = rng.choice([f for f in W.FAMILIES if f != a.family])
            b = W.random_label(rng, family=fam, pulse=False)
            want = ("family", J.FAMILY_NAMES.index(b.family))
        cases.append((W.caption(a, rng), W.caption(b, rng), want))
    out: dict[str, Any] = {}
    strips = {}
    for name, transition, strength, mode in PURGE_VARIANTS:
        res = [blocks_to_adopt(bundle, probe, a, b, want, transition, strength, mode, seed + i)
               for i, (a, b, want) in enumerate(cases)]
        vals = [r["blocks_to_adopt"] for r in res]
        adopted = [v for v in vals if v is not None]
        out[name] = {"blocks_to_adopt": vals, "mean": float(np.mean(adopted)) if adopted else None,
                     "adopted": f"{len(adopted)}/{len(vals)}",
                     "within_1_block": float(np.mean([v == 1 for v in vals])),
                     "continuity_mad": float(np.mean([r["continuity_mad"] for r in res]))}
        strips[name] = res[0]["_frames"]
        log.info("purge %s: %s", name, out[name])
    out["cases"] = [[a, b, want[0]] for a, b, want in cases]
    out["_strips"] = strips
    return out


def save_family_plot(path: Path, results: dict[str, dict[str, Any]]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fams = list(W.FAMILIES)
    fig, ax = plt.subplots(figsize=(10, 3))
    w = 0.8 / max(1, len(results))
    for k, (name, res) in enumerate(results.items()):
        vals = [res["family_obeyed_per_family"].get(f) or 0.0 for f in fams]
        ax.bar(np.arange(len(fams)) + k * w, vals, w, label=name)
    ax.axhline(0.8, color="k", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(fams)) + 0.4 - w / 2, fams, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("family right (share of frames)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def load_or_train_probe(path: Path, seconds: float) -> tuple[J.Probe, dict[str, Any]]:
    """The probe saved at ``path`` (trained on the world only), else train and save it."""
    from safetensors.torch import load_file, save_file
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        probe = J.Probe()
        probe.load_state_dict(load_file(str(path)))
        return probe.eval(), json.loads(meta_path.read_text())
    probe, rep = J.train_probe(seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in probe.state_dict().items()}, str(path))
    meta = {"steps": rep.steps, "seconds": round(rep.seconds, 1), "family_acc_world": rep.family_acc,
            "palette_acc_world": rep.palette_acc, "family_acc_world_blurred": rep.family_acc_blurred,
            "family_acc_world_per_family": rep.family_acc_per_family}
    meta_path.write_text(json.dumps(meta, indent=1))
    return probe.eval(), meta


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sfe_live.vj.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="folder for metrics.json, PNG strips and plots")
    p.add_argument("--model", default="vj", help="model spec (default: the built-in vj model)")
    p.add_argument("--prompts", type=int, default=28, help="rollouts per caption test (cycling the families)")
    p.add_argument("--blocks", type=int, default=8, help="blocks per rollout")
    p.add_argument("--minutes", type=float, default=10.0, help="stream minutes of the stability test")
    p.add_argument("--guard-minutes", type=float, default=0.0, help="stream minutes with the drift guard on")
    p.add_argument("--purge-pairs", type=int, default=8)
    p.add_argument("--probe", default=None, help="probe weights (default OUT/probe.safetensors; trained if missing)")
    p.add_argument("--probe-seconds", type=float, default=1500.0,
                   help="training time of a new probe (docs/vj/probe.safetensors: 1,500 s on 2 cores)")
    p.add_argument("--record", action="store_true", help="also write the stream's first minute to OUT/minute.mp4")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", nargs="*", default=[], choices=("speed", "ceilings", "prompts", "stream", "purge"))
    a = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(a.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    from sfe_live.model.bundle import load_model
    bundle = load_model(a.model, device="cpu", dtype=torch.float32)
    bundle.dit.eval()
    probe, probe_meta = load_or_train_probe(Path(a.probe) if a.probe else out / "probe.safetensors", a.probe_seconds)
    metrics: dict[str, Any] = {"model": a.model, "dit_parameters": bundle.dit.num_parameters(),
                               "codec_parameters": sum(p.numel() for p in bundle.vae.parameters()),
                               "native_size": [SIZE, SIZE], "probe": probe_meta}
    path = out / "metrics.json"

    def flush() -> None:
        path.write_text(json.dumps(_public(metrics), indent=1))

    if "speed" not in a.skip:
        metrics["speed"] = measure_fps(bundle, prompt="fast magenta and cyan tunnel rushing toward the camera",
                                       size=SIZE)
        log.info("speed: %s", metrics["speed"])
        flush()
    if "ceilings" not in a.skip:
        from sfe_live.model.aecodec import AECodec
        from sfe_live.vj.diagnose import codec_ceiling, sampler_gap
        from sfe_live.vj.textcheck import text_ceiling
        ceilings: dict[str, Any] = {"text": text_ceiling(bundle.text.encoder, seed=a.seed)}
        if isinstance(bundle.vae, AECodec):
            ceilings["codec"] = codec_ceiling(bundle.vae, probe, seed=a.seed)
            ceilings["sampler"] = sampler_gap(bundle.dit, bundle.vae, bundle.text.encoder.encode, probe,
                                              bundle.config.shift, seed=a.seed)
        metrics["ceilings"] = ceilings
        log.info("ceilings: %s", ceilings)
        flush()
    if "prompts" not in a.skip:
        res = {}
        for name, para in (("held_in", False), ("paraphrase", True)):
            r = eval_prompts(bundle, probe, a.prompts, a.blocks, a.seed, para)
            save_strip(out / f"strip_{name}.png", r.pop("_rows"), every=2)
            metrics[name] = r
            res[name] = r
            log.info("%s: family %.3f palette %.3f direction %s hf %.2f", name, r["family_obeyed"],
                     r["palette_obeyed"], r["direction_ok"], r["hf_ratio_median"])
            flush()
        save_family_plot(out / "family.png", res)
    if "stream" not in a.skip:
        lab = W.Label("tunnel", "magenta & cyan", "out", "medium", True)
        drift = {}
        s = eval_stream(bundle, probe, lab, a.minutes, a.seed, guard=False,
                        record=out / "minute.mp4" if a.record else None)
        drift["no guard"] = s.pop("_block_stats")
        save_strip(out / "strip_stream.png", [(f"minute {i + 1}", x) for i, x in enumerate(s.pop("_samples"))],
                   every=2)
        metrics["stream"] = s
        if a.guard_minutes > 0:
            g = eval_stream(bundle, probe, lab, a.guard_minutes, a.seed, guard=True)
            drift["drift guard"] = g.pop("_block_stats")
            g.pop("_samples")
            metrics["stream_guard"] = g
        save_drift_plot(out / "drift.png", drift, 3)
        flush()
    if "purge" not in a.skip:
        pr = eval_purge(bundle, probe, a.purge_pairs, a.seed)
        save_strip(out / "strip_purge.png", list(pr.pop("_strips").items()), every=1)
        metrics["purge"] = pr
        flush()
    log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
