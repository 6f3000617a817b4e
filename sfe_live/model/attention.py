"""The one attention entry point of the model layer.

torch's scaled_dot_product_attention by default; flash-attn when it is installed, the
tensors are on CUDA in half precision and no bias is requested. Chosen per call from the
inputs' device and dtype, never at import (nothing here queries CUDA at import time).
"""

from __future__ import annotations

import functools
import logging
from typing import Optional

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _flash_attn():
    try:
        from flash_attn import flash_attn_func  # type: ignore
    except Exception:
        return None
    log.info("flash-attn available: used for CUDA half-precision attention")
    return flash_attn_func


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(D) + bias) v, no causal mask.

    q [B, Lq, N, D], k/v [B, Lk, N, D], bias broadcastable to [B, N, Lq, Lk] or None.
    Returns [B, Lq, N, D].
    """
    if bias is None and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
        fa = _flash_attn()
        if fa is not None:
            return fa(q, k, v)
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                         attn_mask=bias)
    return out.transpose(1, 2)
