"""Measure the demo model through the real engine: ``python -m sfe_live.demo.evaluate OUT``.

Writes ``OUT/metrics.json``, PNG strips (``OUT/strip_*.png``) and a drift plot
(``OUT/drift.png``). Everything runs through ``Engine(bundle, StreamConfig(...))`` -- the
same block loop, KV cache, purge and drift guard the app uses.

Measures (frames are classified by the world's own colour prototypes, background subtracted):

* colour obeyed: share of frames whose dominant object colour is the prompt's, for training
  captions (held-in) and for paraphrases built from words no training caption uses (also with
  the plain colour name kept, and the text encoder's own colour agreement on the unseen colour
  words, the ceiling for paraphrases); the object's area relative to the real world's;
* alive: per minute of one stream, share of empty frames (no object) and whether it froze;
* purge: blocks until a new prompt's colour appears after a switch, per purge strength and
  without a purge;
* tier 2: motion direction per rollout, teleports (centroid jumps), flicker at block
  boundaries vs within blocks, saturation/contrast drift per minute with and without the
  drift guard;
* speed: frames per second of the engine (DiT + decode) at the native size.
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

from sfe_live.demo import world as W

log = logging.getLogger("sfe_live.demo.evaluate")

NAMES = list(W.COLOURS)
PROTOS = np.array([W.COLOURS[c] for c in NAMES], np.float32)      # [8, 3]
TAU = 70.0          # max RGB distance to a prototype
MIN_PX = 20         # pixels an object needs to count as present
FPS = 16
# the colour tests: name -> (paraphrase with unseen words, unseen colour word too)
PROMPT_TESTS = {"held_in": (False, True), "paraphrase": (True, True), "paraphrase_known_colour_names": (True, False)}


# -- frame analysis (pure numpy, fast) ---------------------------------------------------------------

def colour_counts(frames: np.ndarray) -> np.ndarray:
    """uint8 [T, H, W, 3] -> [T, 8] pixels nearest each named colour (within TAU)."""
    x = frames.reshape(frames.shape[0], -1, 3).astype(np.float32)
    d = ((x[:, :, None, :] - PROTOS[None, None]) ** 2).sum(-1)          # [T, P, 8]
    idx = d.argmin(-1)
    ok = np.take_along_axis(d, idx[..., None], -1)[..., 0] < TAU ** 2
    out = np.zeros((frames.shape[0], len(NAMES)), np.int64)
    for c in range(len(NAMES)):
        out[:, c] = ((idx == c) & ok).sum(-1)
    return out


_BG_CACHE: dict[str, np.ndarray] = {}


def background_counts(name: str) -> np.ndarray:
    """[8] colour counts of a bare background (max over a few seeds)."""
    if name not in _BG_CACHE:
        imgs = np.stack([np.clip(W.background(name, s) + 0.5, 0, 255).astype(np.uint8) for s in range(4)])
        _BG_CACHE[name] = colour_counts(imgs).max(0)
    return _BG_CACHE[name]


def object_counts(frames: np.ndarray, background: str) -> np.ndarray:
    """[T, 8] pixels nearest each named colour, less what the bare background has of it."""
    return colour_counts(frames) - background_counts(background)[None]


def frame_colours(frames: np.ndarray, background: str = "black") -> list[Optional[str]]:
    """The dominant object colour of each frame (None = no object)."""
    c = object_counts(frames, background)
    best = c.argmax(-1)
    return [NAMES[b] if c[i, b] >= MIN_PX else None for i, b in enumerate(best)]


def frame_colours_relative(frames: np.ndarray, background: str = "black", min_diff: float = 30.0
                           ) -> list[Optional[str]]:
    """A lenient classifier that also counts faint objects: pixels that differ from the bare
    background by > ``min_diff`` vote for the prototype whose direction from the background
    (cosine) is closest; None when fewer than MIN_PX pixels differ."""
    bg = W.background(background, 0)[None]                                 # [1, H, W, 3]
    d = frames.astype(np.float32) - bg                                      # [T, H, W, 3]
    mask = np.abs(d).max(-1) > min_diff
    pd = PROTOS[None, None, None] - bg[..., None, :]                        # [1, H, W, 8, 3]
    cos = (d[..., None, :] * pd).sum(-1) / (np.linalg.norm(d, axis=-1)[..., None] * np.linalg.norm(pd, axis=-1) + 1e-6)
    best = cos.argmax(-1)                                                   # [T, H, W]
    out: list[Optional[str]] = []
    for t in range(frames.shape[0]):
        if mask[t].sum() < MIN_PX:
            out.append(None)
            continue
        counts = np.bincount(best[t][mask[t]], minlength=len(NAMES))
        out.append(NAMES[int(counts.argmax())])
    return out


def centroids(frames: np.ndarray, colour: str) -> list[Optional[tuple[float, float]]]:
    """Centroid (x, y) of the pixels of ``colour`` per frame, circular (the world wraps)."""
    proto = np.array(W.COLOURS[colour], np.float32)
    d = ((frames.astype(np.float32) - proto) ** 2).sum(-1) < TAU ** 2   # [T, H, W]
    out: list[Optional[tuple[float, float]]] = []
    ang = 2 * np.pi * (np.arange(W.SIZE) + 0.5) / W.SIZE
    for m in d:
        if m.sum() < MIN_PX:
            out.append(None)
            continue
        ys, xs = np.nonzero(m)
        cx = np.angle(np.exp(1j * ang[xs]).mean()) % (2 * np.pi) * W.SIZE / (2 * np.pi)
        cy = np.angle(np.exp(1j * ang[ys]).mean()) % (2 * np.pi) * W.SIZE / (2 * np.pi)
        out.append((float(cx), float(cy)))
    return out


def _wrap(d: float) -> float:
    return (d + W.SIZE / 2) % W.SIZE - W.SIZE / 2


def motion_stats(cents: list[Optional[tuple[float, float]]]) -> dict[str, float]:
    """Mean displacement per frame (dx, dy) and the share of jumps > 8 px (teleports)."""
    steps = [(_wrap(b[0] - a[0]), _wrap(b[1] - a[1])) for a, b in zip(cents, cents[1:])
             if a is not None and b is not None]
    if not steps:
        return {"dx": 0.0, "dy": 0.0, "teleport": float("nan"), "pairs": 0}
    arr = np.array(steps)
    jump = np.hypot(arr[:, 0], arr[:, 1]) > 8.0
    return {"dx": float(arr[:, 0].mean()), "dy": float(arr[:, 1].mean()), "teleport": float(jump.mean()),
            "pairs": len(steps)}


def direction_ok(motion: str, ms: dict[str, float]) -> Optional[bool]:
    dx, dy = ms["dx"], ms["dy"]
    want = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}.get(motion)
    if want is None or ms["pairs"] == 0:
        return None
    along = dx * want[0] + dy * want[1]
    across = abs(dx * want[1] + dy * want[0])
    return bool(along > 0.3 and along > across)


def flicker(frames: np.ndarray, fpb: int) -> dict[str, float]:
    """Mean |frame difference| across block boundaries and within blocks (0..255), and the same
    ratio for three parts of each frame, to say what jumps at a boundary: ``brightness_ratio``
    (the frame's mean), ``coarse_ratio`` (the layout: means over cells of about 1/12 of the
    frame's side) and ``detail_ratio`` (what is left after the coarse layout)."""
    f = frames.astype(np.float32)                                        # [N, H, W, 3]
    n, h, w = f.shape[:3]
    boundary = np.array([(i + 1) % fpb == 0 for i in range(n - 1)])     # diff i -> i+1

    def ratio(x: np.ndarray) -> tuple[float, float, float]:
        d = np.abs(x[1:] - x[:-1]).reshape(n - 1, -1).mean(1)
        b, wi = float(d[boundary].mean()), float(d[~boundary].mean())
        return b, wi, b / max(wi, 1e-6)

    b, wi, r = ratio(f)
    k = max(1, min(h, w) // 12)                                          # coarse cell side
    hc, wc = h // k * k, w // k * k
    cells = f[:, :hc, :wc].reshape(n, hc // k, k, wc // k, k, 3).mean(axis=(2, 4))
    detail = f[:, :hc, :wc] - np.repeat(np.repeat(cells, k, 1), k, 2)
    return {"boundary": b, "within": wi, "ratio": r,
            "brightness_ratio": ratio(f.mean(axis=(1, 2, 3)))[2],
            "coarse_ratio": ratio(cells)[2], "detail_ratio": ratio(detail)[2]}


def sat_contrast(frames: np.ndarray) -> tuple[float, float]:
    x = frames.astype(np.float32) / 255.0
    sat = float((x.max(-1) - x.min(-1)).mean())
    luma = x @ np.array([0.299, 0.587, 0.114], np.float32)
    return sat, float(luma.std())


# -- engine runs ----------------------------------------------------------------------------------

def make_engine(bundle: Any, prompt: str, seed: int, height: int = 64, width: int = 64,
                fpb: int = 3, kv_window: int = -1) -> Any:
    from sfe_live.config import StreamConfig
    from sfe_live.engine.engine import Engine
    stream = StreamConfig(height=height, width=width, frames_per_block=fpb, kv_window=kv_window, seed=seed,
                          shift=bundle.config.shift)
    return Engine(bundle, stream, prompt=prompt, seed=seed)


def rollout(bundle: Any, prompt: str, blocks: int, seed: int, **kw: Any) -> np.ndarray:
    eng = make_engine(bundle, prompt, seed, **kw)
    return np.concatenate([eng.next_block().frames for _ in range(blocks)])


def object_area(frames: np.ndarray, colour: str, background: str) -> float:
    """Mean pixels per frame of ``colour`` (within TAU), less what the bare background has."""
    c = object_counts(frames, background)[:, NAMES.index(colour)]
    return float(np.clip(c, 0, None).mean())


def eval_prompts(bundle: Any, n: int, blocks: int, seed: int, held_out: bool, held_colour: bool = True
                 ) -> dict[str, Any]:
    rng = random.Random(seed + (1 if held_out else 0))
    obeyed, rel, total, dirs, teles, rows, per, areas = 0, 0, 0, [], [], [], [], []
    for i in range(n):
        scene = W.random_scene(rng)
        prompt = W.paraphrase(scene, rng, held_colour) if held_out else W.caption(scene, rng)
        frames = rollout(bundle, prompt, blocks, seed + i)
        real = W.render(scene, frames.shape[0])
        areas.append(object_area(frames, scene.colour, scene.background)
                     / max(1.0, object_area(real, scene.colour, scene.background)))
        cols = frame_colours(frames, scene.background)
        ok = sum(c == scene.colour for c in cols)
        rel_ok = sum(c == scene.colour for c in frame_colours_relative(frames, scene.background))
        rel += rel_ok
        obeyed += ok
        total += len(cols)
        ms = motion_stats(centroids(frames, scene.colour))
        d = direction_ok(scene.motion, ms)
        if d is not None:
            dirs.append(d)
        if ms["pairs"]:
            teles.append(ms["teleport"])
        per.append({"prompt": prompt, "label": scene.label(), "colour_obeyed": ok / len(cols),
                    "colour_obeyed_relative": rel_ok / len(cols),
                    "direction_ok": d, "dx": round(ms["dx"], 3), "dy": round(ms["dy"], 3),
                    "teleport": ms["teleport"]})
        if i < 8:
            rows.append((prompt, frames))
    return {"colour_obeyed": obeyed / max(1, total), "colour_obeyed_relative": rel / max(1, total),
            "object_area_ratio": float(np.median(areas)),
            "direction_ok": float(np.mean(dirs)) if dirs else None,
            "direction_rollouts": len(dirs), "teleport_pairs": float(np.nanmean(teles)) if teles else None,
            "runs": per, "_rows": rows}


def text_colour_ceiling(encoder: Any) -> dict[str, Any]:
    """What the text encoder itself knows: for every held-out colour word, the training colour
    whose names are most similar to it (MiniLM sentence embeddings of "a <word> object", max
    over a colour's names). A model conditioned on this encoder can hardly beat this on
    paraphrases, whatever it learns. ``encoder``: the bundle's MiniLM (``encode_pooled``)."""
    train = [(c, w) for c in NAMES for w in W.COLOUR_WORDS[c]]
    held = [(c, w) for c in NAMES for w in W.HELD_COLOUR[c]]
    a = encoder.encode_pooled([f"a {w} object" for _, w in train])
    b = encoder.encode_pooled([f"a {w} object" for _, w in held])
    sim = b @ a.T                                                            # [held, train]
    score = torch.stack([sim[:, [i for i, (c, _) in enumerate(train) if c == k]].max(1).values
                         for k in NAMES], 1)
    nearest = [NAMES[i] for i in score.argmax(1).tolist()]
    return {"nearest_colour": {w: n for (_, w), n in zip(held, nearest)},
            "agreement": float(np.mean([n == c for n, (c, _) in zip(nearest, held)])),
            "chance": 1.0 / len(NAMES)}


def eval_stream(bundle: Any, prompt: str, colour: str, background: str, minutes: float, seed: int,
                guard: bool) -> dict[str, Any]:
    from sfe_live.engine import commands as C
    eng = make_engine(bundle, prompt, seed)
    if guard:
        eng.apply(C.SetDriftGuard(enabled=True))
    per_min = int(FPS * 60)
    total = int(minutes * per_min)
    frames_done, minute, acc = 0, [], []
    stats: list[dict[str, float]] = []
    block_stats: list[tuple[float, float]] = []
    fl_acc: list[dict[str, float]] = []
    t0 = time.perf_counter()
    gen_s = 0.0
    while frames_done < total:
        ts = time.perf_counter()
        b = eng.next_block()
        gen_s += time.perf_counter() - ts
        minute.append(b.frames)
        block_stats.append(sat_contrast(b.frames))
        frames_done += b.frames.shape[0]
        if sum(len(m) for m in minute) >= per_min or frames_done >= total:
            fr = np.concatenate(minute)
            cols = frame_colours(fr, background)
            diffs = np.abs(fr[1:].astype(np.float32) - fr[:-1]).mean(axis=(1, 2, 3))
            sat, con = sat_contrast(fr)
            fl = flicker(fr, b.frames.shape[0])
            fl_acc.append(fl)
            stats.append({"minute": len(stats) + 1, "frames": len(fr),
                          "empty": float(np.mean([c is None for c in cols])),
                          "colour_obeyed": float(np.mean([c == colour for c in cols])),
                          "mean_frame_diff": float(diffs.mean()), "frozen": bool(diffs.mean() < 0.3),
                          "saturation": sat, "contrast": con, "flicker_ratio": fl["ratio"]})
            acc.append(fr[:48])
            minute = []
    first, last = stats[0], stats[-1]
    return {"minutes": stats, "generation_fps": frames_done / max(gen_s, 1e-9),
            "wall_s": time.perf_counter() - t0, "drift_triggers": eng.state.drift.triggers,
            "saturation_change": last["saturation"] / max(first["saturation"], 1e-6) - 1,
            "contrast_change": last["contrast"] / max(first["contrast"], 1e-6) - 1,
            "max_empty_per_minute": max(s["empty"] for s in stats),
            "any_frozen": any(s["frozen"] for s in stats),
            "flicker_ratio": float(np.mean([f["ratio"] for f in fl_acc])),
            "_block_stats": block_stats, "_samples": acc}


def blocks_to_adopt(bundle: Any, a: str, b: str, colour_b: str, background: str, strength: Optional[int],
                    seed: int, before: int = 6, after: int = 8) -> dict[str, Any]:
    """Blocks after the switch until most of a block's frames have the new colour as their
    dominant object colour (None = never)."""
    from sfe_live.engine import commands as C
    eng = make_engine(bundle, a, seed)
    for _ in range(before):
        eng.next_block()
    if strength is None:
        eng.apply(C.SetPrompt(b, transition="cut"))
    else:
        eng.apply(C.SetPrompt(b, transition="purge", strength=strength))
    adopt = None
    frames = []
    for k in range(after):
        fr = eng.next_block().frames
        frames.append(fr)
        cols = frame_colours(fr, background)          # the classifier of "colour obeyed"
        if adopt is None and sum(c == colour_b for c in cols) * 2 > len(cols):
            adopt = k + 1
    return {"blocks_to_adopt": adopt, "_frames": np.concatenate(frames)}


def eval_purge(bundle: Any, pairs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed + 7)
    out: dict[str, Any] = {}
    cases = []
    for _ in range(pairs):
        s1 = W.random_scene(rng, background="black")
        s2 = W.random_scene(rng, colour=rng.choice([c for c in W.COLOURS if c != s1.colour]), obj=s1.obj,
                            motion=s1.motion, background="black")
        cases.append((W.caption(s1, rng), W.caption(s2, rng), s2.colour))
    strips = {}
    for strength in (None, 0, 1, 2, 3):
        name = "none" if strength is None else f"strength_{strength}"
        res = [blocks_to_adopt(bundle, a, b, cb, "black", strength, seed + i) for i, (a, b, cb) in enumerate(cases)]
        vals = [r["blocks_to_adopt"] for r in res]
        adopted = [v for v in vals if v is not None]
        out[name] = {"blocks_to_adopt": vals, "mean": float(np.mean(adopted)) if adopted else None,
                     "adopted": f"{len(adopted)}/{len(vals)}",
                     "within_1_block": float(np.mean([v == 1 for v in vals]))}
        strips[name] = res[0]["_frames"]
    out["cases"] = [list(c) for c in cases]
    out["_strips"] = strips
    return out


def measure_fps(bundle: Any, blocks: int = 60, seed: int = 0, prompt: Optional[str] = None,
                size: int = 64) -> dict[str, float]:
    """Frames per second of the engine (DiT + decode) after 8 warm-up blocks, at ``size`` x ``size``
    (on ``prompt``, else the model's own first prompt)."""
    eng = make_engine(bundle, bundle.config.first_prompt(prompt), seed, height=size, width=size)
    for _ in range(8):
        eng.next_block()
    t = time.perf_counter()
    n, dit, dec = 0, 0.0, 0.0
    for _ in range(blocks):
        b = eng.next_block()
        n += b.frames.shape[0]
        dit += b.timings["dit_s"]
        dec += b.timings["decode_s"]
    wall = time.perf_counter() - t
    return {"fps": n / wall, "dit_ms_per_block": 1000 * dit / blocks, "decode_ms_per_block": 1000 * dec / blocks,
            "blocks": blocks, "threads": torch.get_num_threads(), "load_average": os.getloadavg()[0]}


# -- pictures ---------------------------------------------------------------------------------------

def save_strip(path: Path, rows: list[tuple[str, np.ndarray]], every: int = 2, max_frames: int = 24) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(rows)
    fig, axes = plt.subplots(n, 1, figsize=(12, 1.1 * n + 0.3), squeeze=False)
    for ax, (title, fr) in zip(axes[:, 0], rows):
        sel = fr[:max_frames:every]
        pad = np.full((sel.shape[1], 2, 3), 255, np.uint8)
        img = np.concatenate([np.concatenate([f, pad], 1) for f in sel], 1)
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title[:110], fontsize=7, loc="left")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_drift_plot(path: Path, runs: dict[str, list[tuple[float, float]]], fpb: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, st in runs.items():
        arr = np.array(st)
        t = np.arange(len(arr)) * fpb / FPS / 60
        k = max(1, len(arr) // 200)
        sm = np.convolve(arr[:, 0], np.ones(k) / k, "valid"), np.convolve(arr[:, 1], np.ones(k) / k, "valid")
        axes[0].plot(t[:len(sm[0])], sm[0], label=name)
        axes[1].plot(t[:len(sm[1])], sm[1], label=name)
    axes[0].set_title("saturation per block")
    axes[1].set_title("contrast (luma std) per block")
    for ax in axes:
        ax.set_xlabel("stream minutes")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _public(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _public(v) for k, v in d.items() if not k.startswith("_")}
    if isinstance(d, list):
        return [_public(v) for v in d]
    return d


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sfe_live.demo.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="folder for metrics.json, PNG strips and the drift plot")
    p.add_argument("--model", default="assets/demo", help="demo folder (model.json or train_meta.json)")
    p.add_argument("--prompts", type=int, default=24, help="rollouts per colour test")
    p.add_argument("--blocks", type=int, default=8, help="blocks per rollout")
    p.add_argument("--minutes", type=float, default=10.0, help="stream minutes of the alive/drift test")
    p.add_argument("--guard-minutes", type=float, default=2.0, help="stream minutes with the drift guard on")
    p.add_argument("--purge-pairs", type=int, default=8)
    p.add_argument("--skip", default="", help="comma list of parts to skip: colour,stream,purge,fps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1234)
    a = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    torch.set_num_threads(a.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from sfe_live.model.bundle import _load_demo
    folder = Path(a.model)
    meta = "model.json" if (folder / "model.json").exists() else "train_meta.json"
    bundle = _load_demo(torch.device("cpu"), torch.float32, folder=folder, meta_name=meta)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, a.skip.split(",")))
    res: dict[str, Any] = {"model": str(folder), "dit_parameters": bundle.dit.num_parameters(),
                           "native_size": [64, 64], "frames_per_block": 3}
    if "fps" not in skip:
        res["speed"] = measure_fps(bundle)
        log.info("speed %s", res["speed"])
    if "colour" not in skip:
        for name, (held, held_colour) in PROMPT_TESTS.items():
            r = eval_prompts(bundle, a.prompts, a.blocks, a.seed, held, held_colour)
            save_strip(out / f"strip_{name}.png", r["_rows"])
            res[name] = r
            log.info("%s colour %.3f (relative %.3f) direction %s teleport %s area %.2f", name,
                     r["colour_obeyed"], r["colour_obeyed_relative"], r["direction_ok"], r["teleport_pairs"],
                     r["object_area_ratio"])
        res["text_colour_ceiling"] = text_colour_ceiling(bundle.text.encoder)
        log.info("text encoder's own colour agreement on held-out words %.2f",
                 res["text_colour_ceiling"]["agreement"])
    if "purge" not in skip:
        r = eval_purge(bundle, a.purge_pairs, a.seed)
        save_strip(out / "strip_purge.png", [(f"switch, {k}", v) for k, v in r["_strips"].items()])
        res["purge"] = r
        log.info("purge %s", {k: v for k, v in _public(r).items() if k != "cases"})
    if "stream" not in skip:
        rng = random.Random(a.seed + 3)
        scene = W.random_scene(rng, colour="red", obj="circle", motion="bouncing", background="black")
        prompt = "a red ball bouncing on a black background"
        drift_runs = {}
        for guard, minutes in ((False, a.minutes), (True, a.guard_minutes)):
            if minutes <= 0:
                continue
            r = eval_stream(bundle, prompt, scene.colour, scene.background, minutes, a.seed, guard)
            key = "stream_guard" if guard else "stream"
            res[key] = r
            drift_runs[f"guard {'on' if guard else 'off'}"] = r["_block_stats"]
            save_strip(out / f"strip_{key}.png", [(f"{prompt}: minute {i + 1}", s) for i, s in
                                                   enumerate(r["_samples"])], every=2, max_frames=48)
            log.info("%s: empty max %.3f frozen %s sat %+.2f con %+.2f flicker %.2f", key,
                     r["max_empty_per_minute"], r["any_frozen"], r["saturation_change"], r["contrast_change"],
                     r["flicker_ratio"])
        save_drift_plot(out / "drift.png", drift_runs, 3)
    (out / "metrics.json").write_text(json.dumps(_public(res), indent=1))
    print(json.dumps(_public({k: v for k, v in res.items() if k not in PROMPT_TESTS}), indent=1)[:3000])
    for k in PROMPT_TESTS:
        if k in res:
            print(k, "colour", round(res[k]["colour_obeyed"], 3), "relative", round(res[k]["colour_obeyed_relative"], 3),
                  "direction", res[k]["direction_ok"], "teleport", res[k]["teleport_pairs"],
                  "area", round(res[k]["object_area_ratio"], 2))
    if "text_colour_ceiling" in res:
        print("text encoder colour agreement", round(res["text_colour_ceiling"]["agreement"], 3))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
