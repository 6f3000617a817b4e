"""Flow-matching schedule of Self-Forcing: pure functions, no state.

Table (shift s, N = num_train_timesteps entries): ``u_i = 1 - i/N``,
``sigma_i = s u_i / (1 + (s-1) u_i)``, ``T_i = N sigma_i`` (float32). A timestep t maps to
the sigma of the nearest table entry (first on ties). Nominal steps (1000, 750, 500, 250)
are warped to ``T[N - step]``. x0 = x_t - sigma v (in float64), and re-noising is
``(1 - sigma) x0 + sigma eps``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Schedule:
    sigmas: torch.Tensor      # [N] float32, descending
    timesteps: torch.Tensor   # [N] float32

    def index(self, t: torch.Tensor | float) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
        return (self.timesteps.double()[None, :] - t[:, None]).abs().argmin(dim=1)

    def sigma(self, t: torch.Tensor | float) -> torch.Tensor:
        """sigma of the nearest table entry, float32, shape of t flattened."""
        return self.sigmas[self.index(t)]


def shifted_sigma(u: float, shift: float) -> float:
    """The shifted sigma of a uniform position u in [0, 1] (1 = pure noise): the table's formula."""
    return shift * u / (1 + (shift - 1) * u)


@functools.lru_cache(maxsize=8)
def make_schedule(shift: float = 5.0, num_train_timesteps: int = 1000) -> Schedule:
    u = torch.linspace(1.0, 0.0, num_train_timesteps + 1)[:-1]
    sigmas = shift * u / (1 + (shift - 1) * u)
    return Schedule(sigmas, sigmas * num_train_timesteps)


def warp_steps(steps: tuple[int, ...], shift: float = 5.0, num_train_timesteps: int = 1000) -> torch.Tensor:
    """Nominal steps (e.g. 1000, 750, 500, 250) -> the warped float32 timesteps fed to the model."""
    sched = make_schedule(shift, num_train_timesteps)
    bad = [s for s in steps if not 0 < s <= num_train_timesteps]
    if bad:
        raise ValueError(f"denoising steps must be in 1..{num_train_timesteps}, got {bad}")
    idx = torch.tensor([num_train_timesteps - int(s) for s in steps], dtype=torch.int64)
    return sched.timesteps[idx]


def flow_to_x0(x_t: torch.Tensor, flow: torch.Tensor, t: float | torch.Tensor, sched: Schedule) -> torch.Tensor:
    """x0 = x_t - sigma(t) * v, computed in float64, returned in x_t's dtype."""
    sigma = sched.sigmas.double()[sched.index(t)][0]
    return (x_t.double() - sigma * flow.double()).to(x_t.dtype)


def renoise(x0: torch.Tensor, eps: torch.Tensor, t: float | torch.Tensor, sched: Schedule) -> torch.Tensor:
    """(1 - sigma(t)) x0 + sigma(t) eps (float32 math, like the reference)."""
    sigma = sched.sigma(t)[0].to(x0.dtype)
    return (1 - sigma) * x0 + sigma * eps.to(x0.dtype)


def v2v_start_step(n_steps: int, amount: float) -> int:
    """The denoising step video-to-video enters at: amount 1 = step 0 (pure noise), small amounts
    enter late; never past the last step."""
    return min(n_steps - 1, int(round((1.0 - amount) * n_steps)))


def purge_step(n_steps: int, strength: int, max_strength: int, start_step: int = 0) -> int:
    """The denoising step before which a purge clears the cache, for any number of steps.

    ``strength`` 0..max_strength is spread over the steps: ``max_strength`` purges before the
    first step (the whole block re-generated without memory, most reactive), 0 before the last
    (least change). A block that enters late (video-to-video at ``start_step``) purges no earlier
    than its first step: that is the step that runs and the one the log records.
    """
    if n_steps < 1:
        raise ValueError("a purge needs at least one denoising step")
    if not 0 <= strength <= max_strength:
        raise ValueError(f"purge strength must be 0..{max_strength}, got {strength}")
    step = int(round((1.0 - strength / max_strength) * (n_steps - 1)))
    return max(start_step, step)
