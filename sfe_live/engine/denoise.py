"""One denoising block of Self-Forcing: the sampler steps, then the context pass and commit.

The streaming pipeline and the demo model's training (its rollouts) both call
``denoise_block``, so what the model is trained on and what it runs are one piece of code.

For a block ``x`` (pure noise, or a v2v input re-noised to ``steps[start]``) at cache
``positions``:

1. steps ``start .. stop - 1``: the flow prediction at ``steps[s]``, ``x0 = x - sigma v``,
   and (except after the last of ``steps``) re-noising to ``steps[s + 1]`` with ``eps[s]``;
   a purge due at step ``s`` calls ``on_purge`` first, which empties the cache and returns
   the positions the block continues at;
2. with ``commit``: the context pass writes the block's K/V from the clean ``x0`` at
   timestep ``context_noise`` and ``cache.commit`` makes them permanent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from sfe_live.engine.schedule import Schedule, flow_to_x0, renoise
from sfe_live.model.cache import CrossKV, KVCache
from sfe_live.model.dit import CausalWanDiT

# (step index, x_t, x0) after each step: the pipeline's per-step observer
StepObserver = Callable[[int, torch.Tensor, torch.Tensor], None]


@dataclass
class DenoisedBlock:
    x: torch.Tensor            # the noisy input of step ``stop`` (after the last step: that step's input)
    x0: torch.Tensor           # the last clean prediction [B, F, C, h, w]
    positions: torch.Tensor    # the positions the block was written at (changed by a purge)


def write_context(dit: CausalWanDiT, x0: torch.Tensor, cross: CrossKV, cache: KVCache, positions: torch.Tensor,
                  context_noise: float = 0.0, memory: float = 1.0, frame_ids: Optional[list[int]] = None) -> None:
    """The context pass: K/V of the clean latents ``x0`` at timestep ``context_noise``, committed."""
    t = torch.full(x0.shape[:2], float(context_noise), device=x0.device)
    dit.step(x0, t, cross, cache, positions, memory, kv_only=True)
    cache.commit(positions, frame_ids)


def denoise_block(dit: CausalWanDiT, x: torch.Tensor, cross: CrossKV, cache: KVCache, positions: torch.Tensor,
                  steps: torch.Tensor, schedule: Schedule, eps: Sequence[torch.Tensor], *,
                  start: int = 0, stop: Optional[int] = None, memory: float = 1.0,
                  purge_at: Optional[int] = None, on_purge: Optional[Callable[[], torch.Tensor]] = None,
                  on_step: Optional[StepObserver] = None, commit: bool = True, context_noise: float = 0.0,
                  frame_ids: Optional[list[int]] = None) -> DenoisedBlock:
    """Denoise one block over ``steps[start:stop]`` (warped timesteps) and, with ``commit``,
    write its context. ``eps[s]`` re-noises to ``steps[s + 1]``."""
    n = len(steps)
    stop = n if stop is None else stop
    b, f = x.shape[:2]
    x0 = x
    for s in range(start, stop):
        if purge_at == s:
            if on_purge is None:
                raise ValueError("a purge step needs on_purge")
            positions = on_purge()
        t = steps[s].to(x.device).expand(b, f)
        v = dit.step(x, t, cross, cache, positions, memory)
        assert v is not None
        x0 = flow_to_x0(x, v, steps[s], schedule)
        if on_step is not None:
            on_step(s, x, x0)
        if s < n - 1:
            x = renoise(x0, eps[s], steps[s + 1], schedule)
    if commit:
        write_context(dit, x0, cross, cache, positions, context_noise, memory, frame_ids)
    return DenoisedBlock(x, x0, positions)
