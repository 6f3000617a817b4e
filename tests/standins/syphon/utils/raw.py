"""Stand-in for ``syphon.utils.raw``: a Metal texture is a numpy array here."""

from __future__ import annotations

from typing import Any

import numpy as np


class MTLTexture:
    def __init__(self, width: int, height: int) -> None:
        self.data = np.zeros((height, width, 4), np.uint8)

    def width(self) -> int:
        return self.data.shape[1]

    def height(self) -> int:
        return self.data.shape[0]


def create_mtl_texture(device: Any, width: int, height: int, pixel_format: Any = None) -> MTLTexture:
    return MTLTexture(width, height)
