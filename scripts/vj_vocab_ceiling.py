"""What a wider training vocabulary would do to the VJ model's text ceiling (paraphrases).

``python scripts/vj_vocab_ceiling.py [--json OUT] [--text-model FOLDER]`` measures :func:`sfe_live.vj.textcheck.text_ceiling`
with the MiniLM encoder the VJ model uses, twice: on the world's captions as they are, and with
the extra synonyms below added to the training vocabulary (each attribute's words, never a
held-out word: a phrase that shares one with the paraphrase vocabulary is left out and named).
The paraphrases and the held-out vocabulary stay as they are, so the second figure says how
far more training words, alone, would carry the held-out ones. ``--text-model`` measures another
local encoder folder the same way (how far a stronger text encoder would carry them). Nothing is
trained on video.
About 4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sfe_live.vj import world as W  # noqa: E402

log = logging.getLogger("vj_vocab_ceiling")

EXTRA_FAMILY = {
    "tunnel": ["tube of light", "spiral passage", "hypnotic tunnel", "infinite tunnel", "zoom tunnel", "neon portal"],
    "plasma": ["plasma clouds", "swirling colours", "psychedelic liquid", "oil slick colours", "melting colour"],
    "starfield": ["space stars", "flying stars", "star warp", "twinkling stars", "night sky stars", "cosmic dust"],
    "ripples": ["rings in water", "circles spreading", "pond ripples", "expanding rings", "water rings"],
    "waves": ["undulating lines", "ocean waves", "wave pattern", "wiggly lines", "sine lines"],
    "stripes": ["striped pattern", "scrolling lines", "lines of light", "pinstripes", "barcode lines"],
    "checkerboard": ["checkered floor", "chequered pattern", "squares pattern", "checkered tiles"],
    "strobe": ["flashing lights", "blinding flashes", "strobe flashes", "light flashes", "club strobe"],
    "kaleidoscope": ["mirror pattern", "kaleidoscope mirror", "symmetrical pattern", "radial symmetry",
                     "fractal flower"],
    "particles": ["sparkles", "fireflies", "glowing dots", "particle swarm", "floating specks"],
    "lasers": ["laser show", "light beams", "beams of light", "laser lights", "spotlight beams"],
    "grid": ["wire grid", "grid landscape", "outrun grid", "vaporwave grid", "grid lines"],
    "smoke": ["clouds", "foggy haze", "dry ice fog", "swirling smoke", "misty fog"],
    "shapes": ["triangles and squares", "geometric forms", "bouncing shapes", "circles", "simple shapes"],
}
EXTRA_PALETTE = {
    "magenta & cyan": ["purple and teal", "hot pink and aqua", "violet and light blue", "pink and blue neon"],
    "red & gold": ["red and orange gold", "ruby and golden", "golden red", "red with gold"],
    "blue & white": ["sky blue and white", "cobalt and white", "pale blue and white", "white on blue"],
    "green & black": ["lime on black", "neon green and black", "dark green", "toxic green"],
    "fire": ["flaming", "orange flames", "lava coloured", "hot orange and red"],
    "ice": ["cold blue", "frosty", "chilly blue", "icy cold"],
    "rainbow": ["all colours", "colourful", "rainbow hues", "many colours"],
    "mono": ["grey", "colourless", "black and grey", "white and black"],
}
EXTRA_DIRECTION = {
    "left": ["going left", "travelling left", "flowing left"],
    "right": ["going right", "travelling right", "flowing right"],
    "up": ["going up", "floating upward", "climbing"],
    "down": ["going down", "sinking down", "dropping"],
    "in": ["pulling away", "shrinking into the middle"],
    "out": ["coming closer", "flying at you"],
    "clockwise": ["swirling clockwise", "circling clockwise"],
    "counter-clockwise": ["swirling anticlockwise", "circling counterclockwise"],
    "none": ["flashing on and off", "blinking lights"],
}
EXTRA_SPEED = {"slow": ["slowly", "calm", "sluggish"], "medium": ["normal speed", "regular"],
               "fast": ["quick", "speedy", "hyper"]}
@contextmanager
def wider_vocabulary() -> Iterator[list[str]]:
    """The world's word tables with the extra synonyms, restored afterwards; yields the phrases
    left out because they use a held-out word."""
    held = W.held_out_vocabulary()
    tables = ((W.FAMILY_WORDS, EXTRA_FAMILY), (W.PALETTE_WORDS, EXTRA_PALETTE),
              (W.DIRECTION_WORDS, EXTRA_DIRECTION), (W.SPEED_WORDS, EXTRA_SPEED))
    saved = [dict(t) for t, _ in tables]
    left_out: list[str] = []
    try:
        for table, extra in tables:
            for key, phrases in extra.items():
                keep = [ph for ph in phrases if not set(ph.split()) & held]
                left_out += [ph for ph in phrases if ph not in keep]
                table[key] = table[key] + keep
        yield left_out
    finally:
        for (table, _), old in zip(tables, saved):
            table.clear()
            table.update(old)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/vj_vocab_ceiling.py", description=__doc__)
    p.add_argument("--json", default=None, help="also write the figures here")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--text-model", default=None, metavar="FOLDER",
                   help="another local sentence-transformers model folder (a BERT-like encoder with "
                        "config.json, tokenizer and weights) to measure instead of the packaged MiniLM: "
                        "how far a stronger text encoder would carry the paraphrases")
    a = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    from sfe_live.model.files import ModelLoadError
    from sfe_live.model.text import MiniLMTextEncoder
    from sfe_live.vj.textcheck import text_ceiling
    torch.set_num_threads(a.threads)
    try:
        encoder = MiniLMTextEncoder(32, path=a.text_model)
    except ModelLoadError as exc:
        raise SystemExit(f"--text-model: {exc}") from None
    out = {"text_model": encoder.source, "text_dim": encoder.config.dim, "as_shipped": text_ceiling(encoder)}
    with wider_vocabulary() as left_out:
        out["wider"] = text_ceiling(encoder)
        out["left_out"] = left_out
        out["training_words"] = len(W.training_vocabulary())
    out["training_words_as_shipped"] = len(W.training_vocabulary())
    text = json.dumps(out, indent=1)
    if a.json:
        Path(a.json).write_text(text)
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
