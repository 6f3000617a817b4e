"""3-D rotary position embedding of the Wan DiT: tables, application, re-anchoring.

A head of size D is split into D/2 complex pairs made from adjacent channels (2j real,
2j+1 imaginary); the pairs are divided between (frame, row, col) as
``DiTConfig.rope_split``. Each part has its own table of ``rope_positions`` rows with
angle(p, j) = p * theta^(-2j/d_part). Angles are computed in float64 and kept as
float32 cos/sin, which the model multiplies in float32 (|error| ~1e-7 against the
reference's float64 complex product).

The temporal position of a frame is chosen by the engine (see ``model/cache.py``): this
module only rotates by the positions it is given, and can rotate already-rotated keys by a
frame offset (``shift_frames``), which is how cached keys are re-anchored without being
recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sfe_live.config import DiTConfig


def _inv_freq(d_part: int, theta: float) -> torch.Tensor:
    """[d_part/2] float64 inverse frequencies theta^(-2j/d_part)."""
    return 1.0 / torch.pow(torch.tensor(theta, dtype=torch.float64),
                           torch.arange(0, d_part, 2, dtype=torch.float64) / d_part)


def _angles(positions: int, d_part: int, theta: float) -> torch.Tensor:
    """[positions, d_part/2] float64 angles."""
    return torch.outer(torch.arange(positions, dtype=torch.float64), _inv_freq(d_part, theta))


@dataclass(frozen=True)
class RopeTables:
    """cos/sin tables per axis, float32, on one device: each [positions, pairs_of_axis]."""

    cos_f: torch.Tensor
    sin_f: torch.Tensor
    cos_h: torch.Tensor
    sin_h: torch.Tensor
    cos_w: torch.Tensor
    sin_w: torch.Tensor
    inv_freq_f: torch.Tensor  # [pairs_f] float64, for re-anchoring by a frame offset

    @property
    def positions(self) -> int:
        return self.cos_f.shape[0]


def build_tables(cfg: DiTConfig, device: torch.device | str = "cpu") -> RopeTables:
    pf, ph, pw = cfg.rope_split
    af = _angles(cfg.rope_positions, 2 * pf, cfg.rope_theta)
    ah = _angles(cfg.rope_positions, 2 * ph, cfg.rope_theta)
    aw = _angles(cfg.rope_positions, 2 * pw, cfg.rope_theta)
    f32 = dict(dtype=torch.float32, device=device)
    return RopeTables(
        af.cos().to(**f32), af.sin().to(**f32), ah.cos().to(**f32), ah.sin().to(**f32),
        aw.cos().to(**f32), aw.sin().to(**f32),
        inv_freq_f=_inv_freq(2 * pf, cfg.rope_theta).to(device),
    )


def token_cos_sin(tables: RopeTables, frame_positions: torch.Tensor, h: int, w: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin for tokens in (frame, row, col) order: each [F*h*w, 1, D/2] float32.

    ``frame_positions``: [F] int64 temporal positions of the frames.
    """
    if int(frame_positions.max()) >= tables.positions or int(frame_positions.min()) < 0:
        raise ValueError(f"temporal position {int(frame_positions.max())} outside the RoPE table "
                         f"(0..{tables.positions - 1})")
    nf = frame_positions.shape[0]
    def grid(cf: torch.Tensor, ch: torch.Tensor, cw: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            cf[frame_positions][:, None, None, :].expand(nf, h, w, cf.shape[1]),
            ch[:h][None, :, None, :].expand(nf, h, w, ch.shape[1]),
            cw[:w][None, None, :, :].expand(nf, h, w, cw.shape[1]),
        ], dim=-1).reshape(nf * h * w, 1, -1)
    cos = grid(tables.cos_f, tables.cos_h, tables.cos_w)
    sin = grid(tables.sin_f, tables.sin_h, tables.sin_w)
    return cos, sin


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x [B, L, N, D] by per-token angles (cos/sin [L, 1, D/2]); float32 math."""
    dtype = x.dtype
    xf = x.float().unflatten(-1, (-1, 2))        # [B, L, N, D/2, 2]
    re, im = xf[..., 0], xf[..., 1]
    out = torch.stack((re * cos - im * sin, re * sin + im * cos), dim=-1)
    return out.flatten(-2).to(dtype)


def shift_frames(k: torch.Tensor, tables: RopeTables, delta: torch.Tensor, pairs_f: int) -> torch.Tensor:
    """Rotate already-roped keys k [B, L, N, D] by ``delta`` [L] frames on the temporal part.

    R(p + d) = R(d) R(p): re-anchoring cached keys to new positions costs one rotation.
    """
    ang = torch.outer(delta.to(torch.float64), tables.inv_freq_f)      # [L, pairs_f]
    cos = ang.cos().float()[:, None, :]
    sin = ang.sin().float()[:, None, :]
    dtype = k.dtype
    kf = k.float().unflatten(-1, (-1, 2))                                # [B, L, N, D/2, 2]
    re, im = kf[..., :pairs_f, 0], kf[..., :pairs_f, 1]
    rot = torch.stack((re * cos - im * sin, re * sin + im * cos), dim=-1)
    kf = torch.cat([rot, kf[..., pairs_f:, :]], dim=-2)
    return kf.flatten(-2).to(dtype)
