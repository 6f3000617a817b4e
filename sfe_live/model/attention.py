"""The one attention entry point of the model layer, with a backend chosen once.

``select_backend(preference, device, dtype)`` picks the kernel at load time and logs it:
``sdpa`` (torch's scaled_dot_product_attention, always available), ``flash-attn`` or
``sage`` (SageAttention) when installed and the model runs on CUDA in half precision.
``auto`` prefers flash-attn, then SageAttention, then SDPA. Calls with a logit bias (the
memory knob, compact cross-attention) always use SDPA, which is the only one that takes a
bias. Nothing here queries CUDA at import time.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

BACKENDS = ("auto", "sdpa", "flash-attn", "sage")
_Kernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
_chosen: dict[str, object] = {"name": "sdpa", "kernel": None}


def _flash_attn() -> Optional[_Kernel]:
    try:
        from flash_attn import flash_attn_func  # type: ignore
    except Exception:
        return None
    return flash_attn_func  # type: ignore[no-any-return]


def _sage() -> Optional[_Kernel]:
    try:
        from sageattention import sageattn  # type: ignore
    except Exception:
        return None
    return lambda q, k, v: sageattn(q, k, v, tensor_layout="NHD", is_causal=False)


def available_backends() -> dict[str, bool]:
    return {"sdpa": True, "flash-attn": _flash_attn() is not None, "sage": _sage() is not None}


def select_backend(preference: str, device: torch.device, dtype: torch.dtype) -> str:
    """Choose the kernel once (call at load). Returns the chosen name; a named backend that
    cannot run here raises ValueError with one line saying why."""
    if preference not in BACKENDS:
        raise ValueError(f"attention {preference!r}: expected one of {', '.join(BACKENDS)}")
    half_cuda = device.type == "cuda" and dtype in (torch.float16, torch.bfloat16)
    finders = {"flash-attn": _flash_attn, "sage": _sage}
    name, kernel = "sdpa", None
    if preference in finders:
        kernel = finders[preference]()
        if kernel is None:
            pkg = "flash-attn" if preference == "flash-attn" else "sageattention"
            raise ValueError(f"--attention {preference}: {pkg} is not installed (pip install {pkg})")
        if not half_cuda:
            raise ValueError(f"--attention {preference}: needs CUDA and --dtype bf16 or fp16")
        name = preference
    elif preference == "auto" and half_cuda:
        for cand in ("flash-attn", "sage"):
            kernel = finders[cand]()
            if kernel is not None:
                name = cand
                break
    _chosen["name"], _chosen["kernel"] = name, kernel
    log.info("attention backend: %s", name)
    return name


def backend_name() -> str:
    return str(_chosen["name"])


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(D) + bias) v, no causal mask.

    q [B, Lq, N, D], k/v [B, Lk, N, D], bias broadcastable to [B, N, Lq, Lk] or None.
    Returns [B, Lq, N, D].
    """
    kernel = _chosen["kernel"]
    if bias is None and kernel is not None and q.is_cuda:
        return kernel(q, k, v)  # type: ignore[operator]
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                         attn_mask=bias)
    return out.transpose(1, 2)
