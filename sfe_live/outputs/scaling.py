"""Scaling frames to an output size (a projector at 1920×1080, a 1280×720 virtual camera).

Three modes, the names VJ software uses:

* ``fit``     — the whole picture, aspect kept, black bars (letterbox / pillarbox);
* ``fill``    — the whole output covered, aspect kept, the overflow cropped evenly;
* ``stretch`` — the whole picture into the whole output, aspect ignored.

``placement()`` is the pure geometry. ``Scaler`` applies it once per frame on the sink's thread:
frames that are torch tensors are resized with torch on their own device (the GPU, where the
engine decodes), numpy frames go through libswscale via PyAV (vectorised C, bilinear; ~8 ms for
832×480 → 1872×1080 on this 2-core box, ~3× faster than torch's CPU path). No PIL anywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FitMode", "Placement", "Scaler", "placement", "scale_frame"]


class FitMode(str, enum.Enum):
    FIT = "fit"
    FILL = "fill"
    STRETCH = "stretch"


@dataclass(frozen=True)
class Placement:
    """Where a source picture lands in the output.

    ``crop`` = (x, y, w, h) taken from the source; it is resized to ``scaled`` = (w, h) and put at
    ``offset`` = (x, y) on a black ``out`` = (w, h) canvas.
    """

    crop: tuple[int, int, int, int]
    scaled: tuple[int, int]
    offset: tuple[int, int]
    out: tuple[int, int]

    @property
    def letterboxed(self) -> bool:
        return self.scaled != self.out


def placement(src_w: int, src_h: int, out_w: int, out_h: int, mode: FitMode | str = FitMode.FIT) -> Placement:
    """The geometry of scaling a ``src_w``×``src_h`` picture into ``out_w``×``out_h``."""
    if min(src_w, src_h, out_w, out_h) <= 0:
        raise ValueError(f"sizes must be positive: {src_w}x{src_h} -> {out_w}x{out_h}")
    mode = FitMode(mode)
    full = (0, 0, src_w, src_h)
    if mode is FitMode.STRETCH:
        return Placement(full, (out_w, out_h), (0, 0), (out_w, out_h))
    if mode is FitMode.FIT:
        scale = min(out_w / src_w, out_h / src_h)
        w = min(out_w, max(1, round(src_w * scale)))
        h = min(out_h, max(1, round(src_h * scale)))
        return Placement(full, (w, h), ((out_w - w) // 2, (out_h - h) // 2), (out_w, out_h))
    scale = max(out_w / src_w, out_h / src_h)
    cw = min(src_w, max(1, round(out_w / scale)))
    ch = min(src_h, max(1, round(out_h / scale)))
    return Placement(((src_w - cw) // 2, (src_h - ch) // 2, cw, ch), (out_w, out_h), (0, 0), (out_w, out_h))


class Scaler:
    """Scales frames of any size to ``out_w``×``out_h`` with one mode; geometry cached per size.

    Call it with ``np.uint8 [H, W, 3]`` or a torch ``uint8 [H, W, 3]`` tensor (any device); it
    returns ``np.uint8 [out_h, out_w, 3]`` (C-contiguous, a new array each call).
    """

    def __init__(self, out_w: int, out_h: int, mode: FitMode | str = FitMode.FIT, backend: str = "auto") -> None:
        if backend not in ("auto", "swscale", "torch"):
            raise ValueError(f"unknown scaling backend {backend!r}")
        self.out_w, self.out_h = int(out_w), int(out_h)
        self.mode = FitMode(mode)
        self.backend = backend
        self._cache: dict[tuple[int, int], Placement] = {}

    def placement_for(self, src_w: int, src_h: int) -> Placement:
        key = (src_w, src_h)
        if key not in self._cache:
            self._cache[key] = placement(src_w, src_h, self.out_w, self.out_h, self.mode)
        return self._cache[key]

    def __call__(self, frame: Any) -> np.ndarray:
        h, w = int(frame.shape[0]), int(frame.shape[1])
        if (w, h) == (self.out_w, self.out_h) and isinstance(frame, np.ndarray):
            return frame
        p = self.placement_for(w, h)
        if _is_tensor(frame) or self.backend == "torch":
            return _scale_torch(frame, p)
        return _scale_swscale(frame, p)


def scale_frame(frame: Any, out_w: int, out_h: int, mode: FitMode | str = FitMode.FIT) -> np.ndarray:
    """One-off convenience: ``Scaler(out_w, out_h, mode)(frame)``."""
    return Scaler(out_w, out_h, mode)(frame)


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _scale_swscale(frame: np.ndarray, p: Placement) -> np.ndarray:
    import av

    x, y, cw, ch = p.crop
    src = frame[y : y + ch, x : x + cw] if (cw, ch) != (frame.shape[1], frame.shape[0]) else frame
    src = np.ascontiguousarray(src)
    sw, sh = p.scaled
    if (sw, sh) == (cw, ch):
        resized = src
    else:
        vf = av.VideoFrame.from_ndarray(src, format="rgb24")
        resized = vf.reformat(width=sw, height=sh, format="rgb24", interpolation="BILINEAR").to_ndarray()
    if not p.letterboxed:
        return np.ascontiguousarray(resized)
    out = np.zeros((p.out[1], p.out[0], 3), dtype=np.uint8)
    ox, oy = p.offset
    out[oy : oy + sh, ox : ox + sw] = resized
    return out


def _scale_torch(frame: Any, p: Placement) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t = frame if _is_tensor(frame) else torch.from_numpy(np.ascontiguousarray(frame))
    x, y, cw, ch = p.crop
    t = t[y : y + ch, x : x + cw]
    sw, sh = p.scaled
    with torch.no_grad():
        if (sw, sh) != (cw, ch):
            chw = t.permute(2, 0, 1).unsqueeze(0).float()
            down = sw < cw or sh < ch
            chw = F.interpolate(chw, size=(sh, sw), mode="bilinear", align_corners=False, antialias=down)
            t = chw.round_().clamp_(0, 255).to(torch.uint8)[0].permute(1, 2, 0)
        if p.letterboxed:
            out = torch.zeros((p.out[1], p.out[0], 3), dtype=torch.uint8, device=t.device)
            ox, oy = p.offset
            out[oy : oy + sh, ox : ox + sw] = t
            t = out
        return np.ascontiguousarray(t.cpu().numpy())
