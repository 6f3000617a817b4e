"""The demo model's world: procedural, seeded videos of one simple object, with captions.

A scene is one object (circle, square, triangle, star, ring) in a named colour, moving in a
named way (left, right, up, down -- wrapping around the frame so a stream never runs out --
bouncing, spinning, pulsing) over a named background (black, night sky, sunset gradient,
grid). Motion is steady (a few speeds), so continuing it needs the model's memory.

Captions come from many templates and synonyms (``caption``); a separate vocabulary that
training never sees (``paraphrase``) tests whether paraphrases generalise through the text
encoder. Everything is a pure function of a seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

SIZE = 64

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40), "green": (40, 200, 60), "blue": (50, 90, 245), "yellow": (240, 220, 40),
    "purple": (155, 60, 210), "orange": (250, 140, 25), "white": (245, 245, 245), "cyan": (40, 220, 230),
}
OBJECTS = ("circle", "square", "triangle", "star", "ring")
MOTIONS = ("left", "right", "up", "down", "bouncing", "spinning", "pulsing")
BACKGROUNDS = ("black", "night sky", "sunset", "grid")
SPEEDS = (1.0, 1.5, 2.0)          # pixels per frame

# -- training vocabulary ----------------------------------------------------------------------
# Many names per colour: the text encoder's colour geometry is learned from these anchors, and
# an unseen colour word (``HELD_COLOUR``) lands somewhere between them.
COLOUR_WORDS = {
    "red": ["red", "cherry", "ruby", "rose", "strawberry", "cardinal"],
    "green": ["green", "jade", "grass green", "mint", "clover", "forest green"],
    "blue": ["blue", "sapphire", "cobalt", "royal blue", "ultramarine", "cornflower"],
    "yellow": ["yellow", "canary", "sunflower", "butter", "banana", "daffodil"],
    "purple": ["purple", "violet", "plum", "lilac", "grape", "orchid", "amethyst"],
    "orange": ["orange", "pumpkin", "apricot", "carrot", "mango", "marigold"],
    "white": ["white", "pearl", "milky", "chalk", "cotton", "porcelain"],
    "cyan": ["cyan", "aqua", "aquamarine", "seafoam", "cerulean", "glacier"],
}
OBJECT_WORDS = {
    "circle": ["circle", "ball", "disc", "dot"], "square": ["square", "box", "block"],
    "triangle": ["triangle"], "star": ["star"], "ring": ["ring", "hoop", "donut"],
}
MOTION_WORDS = {
    "left": ["moving left", "drifting to the left", "sliding left", "travelling left"],
    "right": ["moving right", "drifting to the right", "sliding right", "travelling right"],
    "up": ["moving up", "rising", "floating upwards", "drifting up"],
    "down": ["moving down", "falling", "sinking", "drifting down"],
    "bouncing": ["bouncing", "bouncing around", "bouncing off the walls"],
    "spinning": ["spinning", "rotating", "turning in place"],
    "pulsing": ["pulsing", "growing and shrinking", "breathing"],
}
BG_WORDS = {
    "black": ["a black background", "black", "darkness", "an empty black void"],
    "night sky": ["a night sky", "a starry sky", "the stars at night"],
    "sunset": ["a sunset gradient", "a sunset", "an evening sky"],
    "grid": ["a grid", "a grid background", "graph paper"],
}
TEMPLATES = (
    "a {c} {o} {m} on {b}",
    "{c} {o} {m} over {b}",
    "a {c} {o} {m}, {b} behind it",
    "{m}: a {c} {o} on {b}",
    "a {c} {o} {m}",
    "the {c} {o} is {m} in front of {b}",
)

# -- held-out vocabulary (never in training captions) -------------------------------------------
HELD_COLOUR = {
    "red": ["scarlet", "crimson"], "green": ["emerald", "lime"], "blue": ["azure", "navy"],
    "yellow": ["golden", "lemon"], "purple": ["lavender", "magenta"], "orange": ["tangerine", "amber"],
    "white": ["snowy", "ivory"], "cyan": ["turquoise", "teal"],
}
HELD_OBJECT = {"circle": ["orb", "sphere"], "square": ["cube", "tile"], "triangle": ["pyramid", "wedge"],
               "star": ["pentagram", "starburst"], "ring": ["loop", "halo"]}
HELD_MOTION = {"left": ["gliding westward"], "right": ["gliding eastward"], "up": ["ascending"],
               "down": ["descending"], "bouncing": ["ricocheting"], "spinning": ["whirling"],
               "pulsing": ["throbbing"]}
HELD_BG = {"black": ["a pitch-dark backdrop"], "night sky": ["a midnight firmament"],
           "sunset": ["a dusky horizon"], "grid": ["a checkered lattice"]}
HELD_TEMPLATES = ("{c} {o} {m} against {b}", "picture a {c} {o} {m} with {b}")


@dataclass(frozen=True)
class Scene:
    colour: str
    obj: str
    motion: str
    background: str
    x: float                 # centre, pixels
    y: float
    radius: float
    speed: float
    angle: float             # direction of bouncing motion (radians)
    phase: float             # spin / pulse phase
    seed: int                # background details (stars)

    def label(self) -> tuple[str, str, str, str]:
        return self.colour, self.obj, self.motion, self.background


def random_scene(rng: random.Random, colour: Optional[str] = None, obj: Optional[str] = None,
                 motion: Optional[str] = None, background: Optional[str] = None) -> Scene:
    return Scene(
        colour=colour or rng.choice(list(COLOURS)), obj=obj or rng.choice(OBJECTS),
        motion=motion or rng.choice(MOTIONS), background=background or rng.choice(BACKGROUNDS),
        x=rng.uniform(12, SIZE - 12), y=rng.uniform(12, SIZE - 12), radius=rng.uniform(8.0, 11.0),
        speed=rng.choice(SPEEDS), angle=rng.choice([0.6, 2.2, 3.8, 5.4]) + rng.uniform(-0.3, 0.3),
        phase=rng.uniform(0, 2 * math.pi), seed=rng.randrange(2 ** 31),
    )


def caption(scene: Scene, rng: random.Random) -> str:
    t = rng.choice(TEMPLATES)
    return t.format(c=rng.choice(COLOUR_WORDS[scene.colour]), o=rng.choice(OBJECT_WORDS[scene.obj]),
                    m=rng.choice(MOTION_WORDS[scene.motion]), b=rng.choice(BG_WORDS[scene.background]))


def all_captions(colour: str, obj: str, motion: str, background: str) -> list[str]:
    """Every training caption of one scene label (templates x synonyms)."""
    out = []
    for t in TEMPLATES:
        for c in COLOUR_WORDS[colour]:
            for o in OBJECT_WORDS[obj]:
                for m in MOTION_WORDS[motion]:
                    for b in BG_WORDS[background]:
                        out.append(t.format(c=c, o=o, m=m, b=b))
    return sorted(set(out))


def paraphrase(scene: Scene, rng: random.Random, held_colour: bool = True) -> str:
    """A caption built from the held-out vocabulary (words no training caption uses).

    ``held_colour=False`` keeps the plain colour name (the rest stays unseen), which separates
    what the text encoder knows about colour words from how the model copes with new phrasing.
    """
    t = rng.choice(HELD_TEMPLATES)
    colour = rng.choice(HELD_COLOUR[scene.colour]) if held_colour else scene.colour
    return t.format(c=colour, o=rng.choice(HELD_OBJECT[scene.obj]),
                    m=rng.choice(HELD_MOTION[scene.motion]), b=rng.choice(HELD_BG[scene.background]))


def training_vocabulary() -> set[str]:
    words: set[str] = set()
    for table in (COLOUR_WORDS, OBJECT_WORDS, MOTION_WORDS, BG_WORDS):
        for phrases in table.values():
            for p in phrases:
                words.update(p.replace(",", " ").split())
    for t in TEMPLATES:
        words.update(w for w in t.replace(",", " ").replace(":", " ").split() if "{" not in w)
    return words


# -- rendering --------------------------------------------------------------------------------
_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5


def background(name: str, seed: int) -> np.ndarray:
    """float32 [H, W, 3] in 0..255."""
    img = np.zeros((SIZE, SIZE, 3), np.float32)
    if name == "night sky":
        img[:] = (8, 12, 40)
        r = np.random.default_rng(seed)
        n = 14
        ys, xs = r.integers(0, SIZE, n), r.integers(0, SIZE, n)
        img[ys, xs] = (200, 200, 215)
    elif name == "sunset":
        t = (_YY[..., None] / SIZE)
        img[:] = (1 - t) * np.array((70, 20, 90), np.float32) + t * np.array((190, 80, 40), np.float32)
    elif name == "grid":
        img[:] = (28, 28, 28)
        lines = ((_XX.astype(int) % 16) == 0) | ((_YY.astype(int) % 16) == 0)
        img[lines] = (75, 75, 75)
    return img


def _shape_mask(obj: str, dx: np.ndarray, dy: np.ndarray, r: float, rot: float) -> np.ndarray:
    """Soft coverage in [0, 1] of a shape of size r centred at the origin (dx, dy offsets)."""
    c, s = math.cos(rot), math.sin(rot)
    u, v = c * dx + s * dy, -s * dx + c * dy
    if obj == "circle":
        d = np.sqrt(dx * dx + dy * dy) - r
        m = np.clip(0.5 - d, 0, 1)
        # a dark notch so spinning is visible
        notch = np.clip(0.5 - (np.sqrt((u - 0.5 * r) ** 2 + v ** 2) - 0.28 * r), 0, 1)
        return m * (1 - 0.85 * notch)
    if obj == "ring":
        d = np.abs(np.sqrt(dx * dx + dy * dy) - 0.72 * r) - 0.28 * r
        m = np.clip(0.5 - d, 0, 1)
        gap = np.clip(0.5 - (np.abs(v) - 0.12 * r), 0, 1) * (u > 0)
        return m * (1 - gap)
    if obj == "square":
        h = 0.8 * r
        d = np.maximum(np.abs(u), np.abs(v)) - h
        return np.clip(0.5 - d, 0, 1)
    if obj == "triangle":
        # equilateral, pointing along -v (up when rot = 0)
        d = -1e9
        for k in range(3):
            a = rot + math.pi / 2 + k * 2 * math.pi / 3
            nx, ny = math.cos(a), math.sin(a)
            d = np.maximum(d, -(nx * dx + ny * dy) - 0.5 * r)
        return np.clip(0.5 - d, 0, 1)
    if obj == "star":
        ang = np.arctan2(v, u)
        rad = np.sqrt(dx * dx + dy * dy)
        k = 0.5 + 0.5 * np.cos(5 * ang)
        edge = r * (0.45 + 0.55 * k ** 2)
        return np.clip(0.5 - (rad - edge), 0, 1)
    raise ValueError(obj)


def state_at(scene: Scene, f: int) -> tuple[float, float, float, float]:
    """(x, y, radius, rotation) of the object at frame f."""
    x, y, r, rot = scene.x, scene.y, scene.radius, 0.0
    sp = scene.speed
    if scene.motion == "left":
        x = (x - sp * f) % SIZE
    elif scene.motion == "right":
        x = (x + sp * f) % SIZE
    elif scene.motion == "up":
        y = (y - sp * f) % SIZE
    elif scene.motion == "down":
        y = (y + sp * f) % SIZE
    elif scene.motion == "bouncing":
        lo, hi = r, SIZE - r
        span = hi - lo

        def tri(p: float) -> float:
            p = (p - lo) % (2 * span)
            return lo + (p if p < span else 2 * span - p)
        x = tri(x + sp * 1.2 * math.cos(scene.angle) * f)
        y = tri(y + sp * 1.2 * math.sin(scene.angle) * f)
    elif scene.motion == "spinning":
        rot = scene.phase + 0.12 * sp * f
    elif scene.motion == "pulsing":
        r = r * (1.0 + 0.35 * math.sin(scene.phase + 0.25 * sp * f))
    return x, y, r, rot


def render(scene: Scene, frames: int, start: int = 0, colour_from: Optional[tuple[int, str]] = None) -> np.ndarray:
    """uint8 [T, H, W, 3] frames start .. start + frames - 1.

    ``colour_from = (frame, colour)`` switches the object's colour from that (absolute) frame on.
    """
    bg = background(scene.background, scene.seed)
    out = np.empty((frames, SIZE, SIZE, 3), np.uint8)
    wraps = scene.motion in ("left", "right", "up", "down")
    for i in range(frames):
        f = start + i
        x, y, r, rot = state_at(scene, f)
        colour = scene.colour if colour_from is None or f < colour_from[0] else colour_from[1]
        m = np.zeros((SIZE, SIZE), np.float32)
        offs = (-SIZE, 0, SIZE) if wraps else (0,)
        for ox in offs:
            for oy in offs:
                cx, cy = x + ox, y + oy
                if cx < -r - 2 or cx > SIZE + r + 2 or cy < -r - 2 or cy > SIZE + r + 2:
                    continue
                m = np.maximum(m, _shape_mask(scene.obj, _XX - cx, _YY - cy, r, rot))
        col = np.array(COLOURS[colour], np.float32)
        img = bg * (1 - m[..., None]) + col * m[..., None]
        out[i] = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    return out


def sample_clip(rng: random.Random, frames: int, switch_at: Optional[int] = None
                ) -> tuple[Scene, np.ndarray, Optional[Scene]]:
    """A random scene and its first ``frames`` frames; with ``switch_at``, the colour changes
    at that frame to a different colour, returned as the second scene (same geometry)."""
    scene = random_scene(rng)
    start = rng.randrange(0, 200)
    if switch_at is None:
        return scene, render(scene, frames, start), None
    new = rng.choice([c for c in COLOURS if c != scene.colour])
    scene2 = replace(scene, colour=new)
    return scene, render(scene, frames, start, colour_from=(start + switch_at, new)), scene2
