"""Stand-in for ``syphon.utils.numpy``."""

from __future__ import annotations

from typing import Any

import numpy as np


def copy_image_to_mtl_texture(image: np.ndarray, texture: Any) -> None:
    if image.shape != texture.data.shape or image.dtype != np.uint8:
        raise ValueError(f"image {image.shape} does not match texture {texture.data.shape}")
    texture.data[...] = image


def copy_mtl_texture_to_image(texture: Any) -> np.ndarray:
    return texture.data.copy()
