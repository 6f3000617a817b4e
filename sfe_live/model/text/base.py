"""The text-encoder interface and the helpers every encoder shares.

:class:`TextEncoder` is what the engine needs from an encoder: ``config``, ``device``, ``dtype``
and ``encode(prompts) -> [B, text_len, dim]`` with rows past each prompt's tokens exactly zero
(as Self-Forcing zeroes them); an over-long prompt is truncated to ``text_len`` tokens with a
logged warning; an empty prompt is allowed. :func:`clean_prompt` is Wan's ``clean='whitespace'``.
"""

from __future__ import annotations

import html
import logging
import os
import re
from typing import Protocol, Sequence, Union, runtime_checkable

import torch

from sfe_live.config import TextConfig

log = logging.getLogger("sfe_live.model.text")

PathLike = Union[str, "os.PathLike[str]"]

# --------------------------------------------------------------------------------------------
# interface and shared helpers


@runtime_checkable
class TextEncoder(Protocol):
    """What the engine needs from a text encoder."""

    config: TextConfig          # kind, dim (row width), text_len (rows)
    device: torch.device
    dtype: torch.dtype

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        """``[B, text_len, dim]`` on ``device`` in ``dtype``; rows past each prompt's tokens are 0."""
        ...



def clean_prompt(text: str) -> str:
    """Wan's ``clean='whitespace'`` exactly: ``ftfy.fix_text`` (mojibake, curly quotes, ligatures,
    full-width forms, NFC), HTML-unescape twice, strip, collapse whitespace runs to one space."""
    try:
        import ftfy   # a declared dependency; imported here so the model layer loads without it
    except ImportError:
        raise ImportError("prompt cleaning needs ftfy (pip install ftfy), as Wan's does") from None
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


def _as_list(prompts: Union[str, Sequence[str]]) -> list[str]:
    if isinstance(prompts, str):
        return [prompts]
    out = list(prompts)
    for p in out:
        if not isinstance(p, str):
            raise TypeError(f"prompts must be strings, got {type(p).__name__}")
    return out


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def _warn_truncated(prompts: Sequence[str], counts: Sequence[int], limit: int) -> None:
    for p, n in zip(prompts, counts):
        if n > limit:
            log.warning("prompt truncated to %d tokens (it has %d): %s", limit, n, _short(p))


def _pad_rows(hidden: torch.Tensor, mask: torch.Tensor, text_len: int) -> torch.Tensor:
    """``hidden [B, n, D]`` with rows where ``mask == 0`` set to exactly 0, zero-padded to
    ``text_len`` rows."""
    b, n, d = hidden.shape
    out = hidden.new_zeros(b, text_len, d)
    keep = min(n, text_len)
    valid = mask[:, :keep].to(device=hidden.device, dtype=torch.bool)[..., None]
    out[:, :keep] = hidden[:, :keep].masked_fill(~valid, 0.0)
    return out


def _device(device: Union[str, torch.device]) -> torch.device:
    return torch.device(device)
