"""The VJ world: procedural, seeded, full-frame animated visuals with captions.

A scene is a :class:`Label` -- a family (tunnel, plasma, starfield, ripples, waves, stripes,
checkerboard, strobe, kaleidoscope, particles, lasers, grid, smoke, shapes), a named palette,
a direction (left, right, up, down, in, out, clockwise, counter-clockwise, or none for the
strobe), a speed (slow, medium, fast) and pulsing on or off -- plus per-scene random details
(frequencies, phases, star positions) drawn from a seed. ``render(scene, frames, start)`` gives
``uint8 [T, H, W, 3]`` frames; everything is a pure function of the scene, so training clips are
generated on the fly and never stored.

Directions mean what the motion judge (:mod:`sfe_live.vj.judge`) measures: left/right/up/down
are the mean image flow, ``out`` is positive divergence (the pattern expands toward the viewer:
"rushing toward the camera"), ``in`` negative, clockwise/counter-clockwise the sign of the curl
(as seen on screen, y down). Each family has the directions it can show (``FAMILIES``).

Captions (``caption``, ``all_captions``) use many templates and synonyms, including the words the
shipped cue lists use (neon tunnel, magenta and cyan, rushing toward the camera, lasers, smoke,
strobe); ``paraphrase`` builds captions from a separate vocabulary no training caption uses.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

SIZE = 96
FPS = 16

# family -> directions it can show
FAMILIES: dict[str, tuple[str, ...]] = {
    "tunnel": ("in", "out"),
    "plasma": ("left", "right", "up", "down"),
    "starfield": ("in", "out", "left", "right"),
    "ripples": ("in", "out"),
    "waves": ("left", "right", "up", "down"),
    "stripes": ("left", "right", "up", "down"),
    "checkerboard": ("left", "right", "up", "down"),
    "strobe": ("none",),
    "kaleidoscope": ("clockwise", "counter-clockwise"),
    "particles": ("left", "right", "up", "down", "out"),
    "lasers": ("clockwise", "counter-clockwise"),
    "grid": ("in", "out"),
    "smoke": ("left", "right", "up", "down"),
    "shapes": ("left", "right", "up", "down"),
}
DIRECTIONS = ("left", "right", "up", "down", "in", "out", "clockwise", "counter-clockwise", "none")
SPEEDS = {"slow": 0.5, "medium": 1.0, "fast": 1.7}
PULSE_PERIOD = 8            # frames (2 Hz at 16 fps)

# palette -> colour stops (position 0..1, RGB) of a 256-entry lookup table
PALETTES: dict[str, tuple[tuple[float, tuple[int, int, int]], ...]] = {
    "magenta & cyan": ((0.0, (8, 0, 16)), (0.45, (230, 20, 200)), (0.55, (120, 40, 210)), (1.0, (20, 235, 245))),
    "red & gold": ((0.0, (20, 0, 0)), (0.45, (210, 20, 30)), (0.6, (200, 90, 20)), (1.0, (255, 210, 60))),
    "blue & white": ((0.0, (0, 4, 40)), (0.5, (30, 70, 230)), (1.0, (250, 250, 255))),
    "green & black": ((0.0, (0, 0, 0)), (0.55, (10, 150, 30)), (1.0, (90, 255, 90))),
    "fire": ((0.0, (0, 0, 0)), (0.3, (120, 0, 0)), (0.6, (250, 90, 0)), (0.85, (255, 200, 30)), (1.0, (255, 255, 220))),
    "ice": ((0.0, (0, 0, 12)), (0.35, (0, 40, 110)), (0.7, (60, 190, 230)), (1.0, (225, 250, 255))),
    "rainbow": (),          # hue cycle, built below
    "mono": ((0.0, (0, 0, 0)), (1.0, (255, 255, 255))),
}


def _lut(name: str) -> np.ndarray:
    """float32 [256, 3] colours of a palette."""
    x = np.linspace(0, 1, 256, dtype=np.float32)
    if name == "rainbow":
        h = (x * 1.0) % 1.0
        k = (np.array([5.0, 3.0, 1.0])[None] + h[:, None] * 6) % 6
        rgb = 1 - np.clip(np.minimum(k, 4 - k), 0, 1)
        v = np.clip(x * 3.0, 0, 1)[:, None]                    # dark at the bottom of the range
        return (rgb * v * 255).astype(np.float32)
    stops = PALETTES[name]
    pos = np.array([p for p, _ in stops], np.float32)
    col = np.array([c for _, c in stops], np.float32)
    return np.stack([np.interp(x, pos, col[:, c]) for c in range(3)], -1).astype(np.float32)


LUTS = {name: _lut(name) for name in PALETTES}

# -- captions --------------------------------------------------------------------------------------
FAMILY_WORDS = {
    "tunnel": ["tunnel", "neon tunnel", "light tunnel", "tunnel of rings", "vortex tunnel"],
    "plasma": ["plasma", "plasma field", "colour field", "liquid plasma"],
    "starfield": ["starfield", "stars", "warp stars", "star field"],
    "ripples": ["ripples", "concentric ripples", "water ripples", "circular ripples"],
    "waves": ["waves", "wavy lines", "sine waves", "wave lines"],
    "stripes": ["stripes", "bars", "scrolling stripes", "light bars"],
    "checkerboard": ["checkerboard", "checkers", "chessboard pattern", "checker pattern"],
    "strobe": ["strobe", "strobe lights", "strobing flashes", "flashing strobe"],
    "kaleidoscope": ["kaleidoscope", "kaleidoscopic pattern", "mandala", "mirrored symmetry"],
    "particles": ["particles", "sparks", "glowing particles", "flying sparks"],
    "lasers": ["laser beams", "lasers", "laser fan", "rotating beams"],
    "grid": ["grid", "neon grid", "retro grid floor", "synthwave grid"],
    "smoke": ["smoke", "haze", "fog", "drifting smoke"],
    "shapes": ["shapes", "geometric shapes", "floating shapes", "circles and squares"],
}
PALETTE_WORDS = {
    "magenta & cyan": ["magenta and cyan", "pink and cyan", "cyan and magenta", "neon magenta and cyan"],
    "red & gold": ["red and gold", "crimson and gold", "red and yellow", "gold and red"],
    "blue & white": ["blue and white", "white and blue", "deep blue and white"],
    "green & black": ["green and black", "green on black", "matrix green", "black and green"],
    "fire": ["fire", "fiery", "flame coloured", "burning"],
    "ice": ["ice", "icy", "frozen blue", "glacial"],
    "rainbow": ["rainbow", "multicoloured", "psychedelic rainbow", "rainbow coloured"],
    "mono": ["black and white", "monochrome", "greyscale", "mono"],
}
DIRECTION_WORDS = {
    "left": ["moving left", "scrolling left", "drifting left", "sliding to the left"],
    "right": ["moving right", "scrolling right", "drifting right", "sliding to the right"],
    "up": ["moving up", "rising", "scrolling up", "drifting upwards"],
    "down": ["moving down", "falling", "scrolling down", "drifting downwards"],
    "in": ["moving inward", "receding into the distance", "flowing into the centre", "sinking inward"],
    "out": ["rushing toward the camera", "moving outward", "bursting outward", "expanding outward"],
    "clockwise": ["spinning clockwise", "rotating clockwise", "turning clockwise"],
    "counter-clockwise": ["spinning counter-clockwise", "rotating anticlockwise", "turning counterclockwise"],
    "none": ["flashing", "blinking", "flickering"],
}
SPEED_WORDS = {"slow": ["slow", "gentle", "lazy"], "medium": ["steady", "medium speed", "moderate"],
               "fast": ["fast", "rapid", "frantic"]}
PULSE_WORDS = {True: ["pulsing", "throbbing", "beating"], False: [""]}
TEMPLATES = (
    "{s} {p} {f} {d}{q}",
    "{q0}{p} {f}, {s}, {d}",
    "a {s} {f} in {p}, {d}{q}",
    "{p} {f} {d}{q}",
    "{q0}{f} {d}, {p} light, {s}",
)

# held-out vocabulary: no training caption uses these words
HELD_FAMILY = {
    "tunnel": ["wormhole", "glowing corridor"], "plasma": ["lava lamp blobs", "molten goo"],
    "starfield": ["galaxy of points", "hyperspace dots"], "ripples": ["sonar pings", "puddle drops"],
    "waves": ["oscillating curves", "squiggles"], "stripes": ["bands", "racing streaks"],
    "checkerboard": ["tiled mosaic", "harlequin tiles"], "strobe": ["blinders", "flash bursts"],
    "kaleidoscope": ["symmetric rosette", "prism reflections"], "particles": ["embers", "glitter dust"],
    "lasers": ["rays", "searchlights"], "grid": ["wireframe plane", "lattice terrain"],
    "smoke": ["mist", "vapour clouds"], "shapes": ["polygons", "cubes and orbs"],
}
HELD_PALETTE = {
    "magenta & cyan": ["fuchsia and turquoise"], "red & gold": ["scarlet and amber"],
    "blue & white": ["navy and snow"], "green & black": ["emerald and obsidian"],
    "fire": ["blazing inferno"], "ice": ["frosty arctic"], "rainbow": ["prismatic spectrum"],
    "mono": ["grayscale achromatic"],
}
HELD_DIRECTION = {
    "left": ["heading west"], "right": ["heading east"], "up": ["ascending"], "down": ["descending"],
    "in": ["retreating to the horizon"], "out": ["zooming at the viewer"], "clockwise": ["whirling sunwise"],
    "counter-clockwise": ["whirling widdershins"], "none": ["stuttering"],
}
HELD_SPEED = {"slow": ["unhurried"], "medium": ["even paced"], "fast": ["breakneck"]}
HELD_TEMPLATES = ("{s} {f} of {p} hues, {d}{q}", "imagine {p} {f} {d}, {s}{q}")


@dataclass(frozen=True)
class Label:
    family: str
    palette: str
    direction: str
    speed: str
    pulse: bool

    def __post_init__(self) -> None:
        if self.direction not in FAMILIES.get(self.family, ()):
            raise ValueError(f"{self.family} cannot move {self.direction}")


def all_labels() -> list[Label]:
    return [Label(f, p, d, s, q) for f, dirs in FAMILIES.items() for p in PALETTES for d in dirs
            for s in SPEEDS for q in (False, True)]


def _fmt(t: str, s: str, p: str, f: str, d: str, pulse: str) -> str:
    q = f", {pulse}" if pulse else ""
    q0 = f"{pulse} " if pulse else ""
    return " ".join(t.format(s=s, p=p, f=f, d=d, q=q, q0=q0).split()).replace(" ,", ",")


def all_captions(label: Label) -> list[str]:
    out = set()
    for t in TEMPLATES:
        for s in SPEED_WORDS[label.speed]:
            for p in PALETTE_WORDS[label.palette]:
                for f in FAMILY_WORDS[label.family]:
                    for d in DIRECTION_WORDS[label.direction]:
                        for q in PULSE_WORDS[label.pulse]:
                            out.add(_fmt(t, s, p, f, d, q))
    return sorted(out)


def caption(label: Label, rng: random.Random) -> str:
    return _fmt(rng.choice(TEMPLATES), rng.choice(SPEED_WORDS[label.speed]), rng.choice(PALETTE_WORDS[label.palette]),
                rng.choice(FAMILY_WORDS[label.family]), rng.choice(DIRECTION_WORDS[label.direction]),
                rng.choice(PULSE_WORDS[label.pulse]))


def paraphrase(label: Label, rng: random.Random) -> str:
    """A caption from the held-out vocabulary only (plus 'pulsing')."""
    return _fmt(rng.choice(HELD_TEMPLATES), rng.choice(HELD_SPEED[label.speed]),
                rng.choice(HELD_PALETTE[label.palette]), rng.choice(HELD_FAMILY[label.family]),
                rng.choice(HELD_DIRECTION[label.direction]), "pulsing" if label.pulse else "")


# function words both vocabularies may use
SHARED_WORDS = frozenset({"pulsing", "of", "hues", "imagine", "the", "to", "at", "a", "on", "and"})


def _table_words(*tables: dict[str, list[str]]) -> set[str]:
    """Every word of every phrase in the word tables."""
    return {w for table in tables for phrases in table.values() for ph in phrases
            for w in ph.replace(",", " ").split()}


def held_out_vocabulary() -> set[str]:
    """The paraphrases' words, less the function words both vocabularies may use."""
    return _table_words(HELD_FAMILY, HELD_PALETTE, HELD_DIRECTION, HELD_SPEED) - SHARED_WORDS


def training_vocabulary() -> set[str]:
    words = _table_words(FAMILY_WORDS, PALETTE_WORDS, DIRECTION_WORDS, SPEED_WORDS)
    for t in TEMPLATES:
        words.update(w for w in t.replace(",", " ").split() if "{" not in w)
    words.update(PULSE_WORDS[True])
    return words


# -- scenes ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scene:
    label: Label
    seed: int                      # per-scene details (frequencies, phases, points)
    palette_from: Optional[tuple[int, str]] = None    # (absolute frame, palette) switch


def random_label(rng: random.Random, **fixed) -> Label:
    fam = fixed.get("family") or rng.choice(list(FAMILIES))
    return Label(fam, fixed.get("palette") or rng.choice(list(PALETTES)),
                 fixed.get("direction") or rng.choice(FAMILIES[fam]),
                 fixed.get("speed") or rng.choice(list(SPEEDS)),
                 fixed["pulse"] if "pulse" in fixed else rng.random() < 0.35)


_C = (np.arange(SIZE, dtype=np.float32) + 0.5) / SIZE * 2 - 1          # pixel centres in [-1, 1]
_X = np.broadcast_to(_C[None, :], (SIZE, SIZE))
_Y = np.broadcast_to(_C[:, None], (SIZE, SIZE))
_R = np.sqrt(_X ** 2 + _Y ** 2)
_A = np.arctan2(_Y, _X)                  # angle, increasing clockwise on screen (y down)

_DXY = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def _sign(direction: str) -> float:
    return {"out": 1.0, "in": -1.0, "clockwise": 1.0, "counter-clockwise": -1.0}.get(direction, 0.0)


def _soft_square(v: np.ndarray, sharp: float = 6.0) -> np.ndarray:
    """cos-wave phase -> a soft square wave in [0, 1]."""
    return 0.5 + 0.5 * np.tanh(sharp * np.cos(2 * math.pi * v))


def _splat(xs: np.ndarray, ys: np.ndarray, w: np.ndarray, radius) -> np.ndarray:
    """Gaussian dots at positions (x, y in [-1, 1]), [N] each, radius in pixels -> [H, W]."""
    img = np.zeros((SIZE, SIZE), np.float32)
    n = len(xs)
    px = (xs + 1) / 2 * SIZE - 0.5
    py = (ys + 1) / 2 * SIZE - 0.5
    w = np.broadcast_to(np.asarray(w, np.float32), (n,))
    rad = np.broadcast_to(np.asarray(radius, np.float32), (n,))
    for x0, y0, ww, rd in zip(px, py, w, rad):
        rr = int(math.ceil(rd * 2.5))
        ix0, iy0 = int(round(x0)), int(round(y0))
        x_lo, x_hi = max(0, ix0 - rr), min(SIZE, ix0 + rr + 1)
        y_lo, y_hi = max(0, iy0 - rr), min(SIZE, iy0 + rr + 1)
        if x_lo >= x_hi or y_lo >= y_hi:
            continue
        gx = np.exp(-((np.arange(x_lo, x_hi) - x0) ** 2) / (2 * rd ** 2))
        gy = np.exp(-((np.arange(y_lo, y_hi) - y0) ** 2) / (2 * rd ** 2))
        img[y_lo:y_hi, x_lo:x_hi] += ww * gy[:, None] * gx[None, :]
    return img


def _field(label: Label, seed: int, t: np.ndarray) -> np.ndarray:
    """float32 [T, H, W] values in [0, 1] (the palette index) at frames ``t``."""
    r = np.random.default_rng(seed)
    sp = SPEEDS[label.speed]
    d = label.direction
    sgn = _sign(d)
    dx, dy = _DXY.get(d, (0, 0))
    tt = t[:, None, None].astype(np.float32)
    fam = label.family
    if fam == "tunnel":
        square = r.random() < 0.4
        rad = np.maximum(np.abs(_X), np.abs(_Y)) if square else _R
        k = r.uniform(0.8, 1.1)
        depth = k / (rad + 0.1)
        ph = depth + sgn * sp * 0.05 * tt + r.random()
        rings = _soft_square(ph, 2.5)
        twist = 0.5 + 0.5 * np.cos(r.integers(3, 7) * _A + r.random() * 6.28)
        v = (0.75 * rings + 0.25 * twist * rings) * np.clip(rad * 2.5, 0, 1)
        return v.astype(np.float32)
    if fam in ("plasma", "smoke"):
        n = 4 if fam == "plasma" else 14
        v = np.zeros((len(t), SIZE, SIZE), np.float32)
        ox = _X[None] - dx * sp * 0.018 * tt
        oy = _Y[None] - dy * sp * 0.018 * tt
        tot = 0.0
        for i in range(n):
            ang = r.uniform(0, 2 * math.pi)
            f = r.uniform(1.2, 2.6) if fam == "plasma" else r.uniform(1.0, 2.0) * (1.35 ** (i % 6))
            amp = 1.0 if fam == "plasma" else 1.0 / (1.35 ** (i % 6))
            v += amp * np.sin(math.pi * f * (math.cos(ang) * ox + math.sin(ang) * oy) + r.uniform(0, 6.28))
            tot += amp
        v = v / tot
        if fam == "plasma":
            return (0.5 + 0.5 * np.sin(math.pi * 1.6 * v / 0.55)).astype(np.float32)
        return np.clip(0.5 + 1.3 * v, 0, 1).astype(np.float32) ** 1.6
    if fam == "starfield":
        n = 70
        out = np.zeros((len(t), SIZE, SIZE), np.float32)
        if d in ("in", "out"):
            sx, sy = r.uniform(-1, 1, n), r.uniform(-1, 1, n)
            z0 = r.uniform(0, 1, n)
            for i, f in enumerate(t):
                z = (z0 - sgn * sp * 0.012 * f) % 1.0 + 0.08         # out: z shrinks, stars fly at you
                out[i] = _splat(sx * 0.35 / z, sy * 0.35 / z, np.clip(1.3 - z, 0.3, 1.0) * 1.6, 0.8 + 0.6 * (0.3 / z))
        else:
            sx, sy = r.uniform(-1, 1, n), r.uniform(-1, 1, n)
            layer = r.choice([0.5, 1.0, 1.6], n)
            for i, f in enumerate(t):
                x = (sx + dx * sp * 0.02 * layer * f + 1) % 2 - 1
                out[i] = _splat(x, sy, 0.6 + 0.4 * layer, 0.6 + 0.45 * layer)
        return np.clip(out, 0, 1)
    if fam == "ripples":
        k = r.uniform(3.0, 4.5)
        cx, cy = r.uniform(-0.2, 0.2), r.uniform(-0.2, 0.2)
        rad = np.sqrt((_X - cx) ** 2 + (_Y - cy) ** 2)
        v = 0.5 + 0.5 * np.cos(2 * math.pi * (k * rad - sgn * sp * 0.06 * tt))
        return (v * np.exp(-rad * 0.6)).astype(np.float32)
    if fam == "waves":
        k = r.uniform(2.5, 4.0)
        amp = r.uniform(0.08, 0.16)
        kx = r.uniform(1.0, 2.0)
        if d in ("up", "down"):
            ph = k * (_Y + amp * np.sin(math.pi * kx * _X)) - dy * sp * 0.05 * tt
        else:
            ph = k * (_Y + amp * np.sin(math.pi * kx * (_X - dx * sp * 0.03 * tt)))
        return (0.5 + 0.5 * np.cos(2 * math.pi * ph)) ** 3
    if fam in ("stripes", "checkerboard"):
        k = r.uniform(2.0, 3.5)
        slant = r.uniform(-0.25, 0.25)
        shift = sp * 0.05 * tt
        if fam == "stripes":
            if d in ("left", "right"):
                ph = k * (_X + slant * _Y) - dx * shift * k
            else:
                ph = k * (_Y + slant * _X) - dy * shift * k
            return _soft_square(ph, 4.0)
        a = _soft_square(k * 0.5 * (_X - dx * shift), 5.0) * 2 - 1
        b = _soft_square(k * 0.5 * (_Y - dy * shift), 5.0) * 2 - 1
        return (0.5 + 0.5 * a * b).astype(np.float32)
    if fam == "strobe":
        period = {"slow": 8, "medium": 6, "fast": 4}[label.speed]
        on = ((t + r.integers(0, period)) % period) < max(1, period // 3)
        base = 0.15 + 0.1 * np.cos(2 * math.pi * r.uniform(0.5, 1.5) * _R)
        v = np.where(on[:, None, None], 0.92 + 0.08 * np.cos(3 * _A)[None], base[None])
        return v.astype(np.float32)
    if fam == "kaleidoscope":
        n = int(r.integers(5, 9))
        a = (_A[None] - sgn * sp * 0.035 * tt) % (2 * math.pi / n)
        a = np.abs(a - math.pi / n)                            # mirror inside each wedge
        f1, f2 = r.uniform(2, 4), r.uniform(3, 6)
        v = np.cos(f1 * math.pi * _R[None] + f2 * a + r.uniform(0, 6)) * np.cos(f2 * a * 2 - 2 * _R[None])
        return (0.5 + 0.5 * v) * np.clip(1.4 - _R[None] * 0.7, 0, 1)
    if fam == "particles":
        n = 60
        sx, sy = r.uniform(-1, 1, n), r.uniform(-1, 1, n)
        vel = r.uniform(0.6, 1.4, n)
        out = np.zeros((len(t), SIZE, SIZE), np.float32)
        for i, f in enumerate(t):
            img = np.zeros((SIZE, SIZE), np.float32)
            for trail in range(3):
                ff = f - trail * 1.0
                if d == "out":
                    age = (r.uniform(0, 1, n) * 0 + (sx + 1) / 2 + vel * sp * 0.015 * ff) % 1.0
                    ang = sy * math.pi
                    x, y = np.cos(ang) * age * 1.4, np.sin(ang) * age * 1.4
                else:
                    x = (sx + dx * vel * sp * 0.03 * ff + 1) % 2 - 1
                    y = (sy + dy * vel * sp * 0.03 * ff + 1) % 2 - 1
                img += _splat(x, y, np.full(n, 1.0 - 0.3 * trail), 0.9)
            out[i] = img
        return np.clip(out, 0, 1)
    if fam == "lasers":
        n = int(r.integers(4, 9))
        cx, cy = r.uniform(-0.15, 0.15), r.uniform(-0.15, 0.15)
        ang = np.arctan2(_Y - cy, _X - cx)
        rad = np.sqrt((_X - cx) ** 2 + (_Y - cy) ** 2)
        a = ang[None] - sgn * sp * 0.04 * tt
        v = np.zeros((len(t), SIZE, SIZE), np.float32)
        for i in range(n):
            c = 2 * math.pi * i / n
            diff = np.angle(np.exp(1j * (a - c)))
            v += np.exp(-(diff * rad[None] / 0.035) ** 2)
        return np.clip(v * np.clip(rad * 4, 0, 1)[None] + 0.06, 0, 1)
    if fam == "grid":
        hor = r.uniform(-0.35, -0.1)
        below = np.maximum(_Y - hor, 1e-3)
        z = 0.4 / below                                           # depth of the floor point
        cols = (0.5 + 0.5 * np.cos(2 * math.pi * _X * z * 1.5)) ** 12
        ph = z + sgn * sp * 0.06 * tt                             # out: lines come toward the viewer
        rows = (0.5 + 0.5 * np.cos(2 * math.pi * ph)) ** 12
        fade = np.clip((_Y - hor) * 4, 0, 1)
        floor = np.clip(cols[None] + rows, 0, 1) * fade[None]
        sky = np.clip(0.45 - (hor - _Y) * 0.8, 0, 0.45) * (_Y <= hor)
        return (floor + sky[None]).astype(np.float32)
    if fam == "shapes":
        n = int(r.integers(2, 5))
        out = np.zeros((len(t), SIZE, SIZE), np.float32)
        kinds = r.integers(0, 3, n)
        sx, sy = r.uniform(-1, 1, n), r.uniform(-1, 1, n)
        size = r.uniform(0.2, 0.32, n)
        shade = r.uniform(0.55, 1.0, n)
        for i, f in enumerate(t):
            img = np.zeros((SIZE, SIZE), np.float32)
            for j in range(n):
                cx = (sx[j] + dx * sp * 0.03 * f + 1) % 2 - 1
                cy = (sy[j] + dy * sp * 0.03 * f + 1) % 2 - 1
                for ox in (-2, 0, 2):
                    for oy in (-2, 0, 2):
                        u, w = _X - cx - ox, _Y - cy - oy
                        if kinds[j] == 0:
                            dist = np.sqrt(u * u + w * w) - size[j]
                        elif kinds[j] == 1:
                            dist = np.maximum(np.abs(u), np.abs(w)) - size[j] * 0.85
                        else:
                            dist = np.abs(np.sqrt(u * u + w * w) - size[j] * 0.8) - size[j] * 0.25
                        img = np.maximum(img, shade[j] * np.clip(0.5 - dist * SIZE / 2, 0, 1))
            out[i] = img
        return out
    raise ValueError(f"unknown family {fam!r}")


def render(scene: Scene, frames: int, start: int = 0) -> np.ndarray:
    """uint8 [T, H, W, 3]: frames ``start .. start + frames - 1`` of the scene."""
    t = np.arange(start, start + frames)
    lab = scene.label
    v = np.clip(_field(lab, scene.seed, t), 0, 1)
    if lab.pulse:
        v = v * (0.55 + 0.45 * np.cos(2 * math.pi * t / PULSE_PERIOD))[:, None, None]
    idx = np.clip(v * 255 + 0.5, 0, 255).astype(np.int64)
    out = LUTS[lab.palette][idx]
    if scene.palette_from is not None:
        f0, pal = scene.palette_from
        late = t >= f0
        out[late] = LUTS[pal][idx[late]]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def sample_clip(rng: random.Random, frames: int, switch_at: Optional[int] = None
                ) -> tuple[Label, np.ndarray, Label]:
    """A random scene's ``frames`` frames from a random start; with ``switch_at``, the palette
    changes at that frame (same geometry, as a prompt change without a purge). Returns the first
    label, the frames and the label after the switch (the same label without one)."""
    lab = random_label(rng)
    scene = Scene(lab, rng.randrange(2 ** 31))
    start = rng.randrange(0, 400)
    if switch_at is None:
        return lab, render(scene, frames, start), lab
    new = rng.choice([p for p in PALETTES if p != lab.palette])
    scene = replace(scene, palette_from=(start + switch_at, new))
    return lab, render(scene, frames, start), replace(lab, palette=new)
