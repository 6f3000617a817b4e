"""The causal Wan2.1 DiT with Wan's original parameter names.

``CausalWanDiT`` computes the flow prediction ``v = noise - x0`` of Wan2.1-T2V. Two ways to
call it, both on the pipeline layout ``[B, F, C, H, W]``:

* ``dit(x, t, context)``: cache-free, full attention within the clip (what the
  bidirectional Wan2.1 computes), temporal positions ``start_frame + f``.
* ``dit.step(x, t, cross, cache)``: one block of the streaming loop: attends over the
  committed frames of ``cache`` plus this block, writes the block's K/V into the cache's
  scratch slots (``cache.commit`` makes them permanent), cross-attends to a precomputed
  ``CrossKV`` (``dit.cross_kv(context)``, once per prompt).
* ``dit.masked(x, t, positions, mask, spans)``: training's entry: one cache-free call over a
  whole sequence under a self-attention mask, each token range cross-attending to its own
  prompt (``CrossSpan``); the same layers compute it as the streaming call.

Every size comes from ``DiTConfig`` and the input's shape. Parameter names are Wan's, so
``diffusion_pytorch_model.safetensors`` loads with strict key checks (``checkpoints.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sfe_live.config import DiTConfig
from sfe_live.model.attention import attention
from sfe_live.model.cache import CrossKV, KVCache
from sfe_live.model.rope import RopeTables, apply_rope, build_tables, token_cos_sin


def sinusoidal_embedding(freq_dim: int, t: torch.Tensor) -> torch.Tensor:
    """[N] timesteps -> [N, freq_dim] (cos first), computed in float64 like Wan."""
    half = freq_dim // 2
    pos = t.to(torch.float64)
    freqs = torch.pow(torch.tensor(10000.0, dtype=torch.float64, device=t.device),
                      -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    ang = torch.outer(pos, freqs)
    return torch.cat([torch.cos(ang), torch.sin(ang)], dim=1)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 (affine or not), whatever the parameters' dtype.

    The affine weight and bias are cast to float32 inside the call: ``F.layer_norm`` refuses
    a float32 input with half-precision parameters (bf16/fp16 models on CUDA and CPU).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        weight = self.weight.float() if self.weight is not None else None
        bias = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps).type_as(x)


class Attention(nn.Module):
    """q, k, v, o projections with RMS q/k norms over the full width (Wan's names)."""

    def __init__(self, dim: int, num_heads: int, qk_norm: bool, eps: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = RMSNorm(dim, eps) if qk_norm else nn.Identity()
        self.norm_k = RMSNorm(dim, eps) if qk_norm else nn.Identity()

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1))          # [B, L, N, D]

    def kv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.norm_k(self.k(x))), self.heads(self.v(x))


@dataclass(frozen=True)
class CrossSpan:
    """Tokens ``start:end`` of a call cross-attend to the prompt ``cross``."""

    start: int
    end: int
    cross: CrossKV


class LayerCross(NamedTuple):
    """One layer's prompt K/V ([B, L_ctx, N, D]) for tokens ``start:end`` of a call."""

    start: int
    end: int
    k: torch.Tensor
    v: torch.Tensor
    bias: Optional[torch.Tensor]


class AttentionBlock(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm1 = LayerNorm(d, eps=cfg.eps, elementwise_affine=False)
        self.self_attn = Attention(d, cfg.num_heads, cfg.qk_norm, cfg.eps)
        self.norm3 = LayerNorm(d, eps=cfg.eps, elementwise_affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.cross_attn = Attention(d, cfg.num_heads, cfg.qk_norm, cfg.eps)
        self.norm2 = LayerNorm(d, eps=cfg.eps, elementwise_affine=False)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(cfg.ffn_dim, d))
        self.modulation = nn.Parameter(torch.randn(1, 6, d) / d ** 0.5)

    def forward(self, x: torch.Tensor, e0: torch.Tensor, frames: int, cos: torch.Tensor, sin: torch.Tensor,
                cross: Sequence[LayerCross], kb: Optional[torch.Tensor], vb: Optional[torch.Tensor], start: int,
                self_bias: Optional[torch.Tensor], kv_only: bool = False) -> torch.Tensor:
        """x [B, L, dim]; e0 [B, F, 6, dim]; cos/sin [L, 1, D/2]; ``cross`` this layer's prompt K/V
        per token span; ``kb``/``vb`` this layer's self-attention cache [B, capacity, N, D] (None:
        no cache), the block's K/V written at token ``start``; ``self_bias`` an additive or
        boolean self-attention mask (None: every key). Only tensors and stream-wide numbers come
        in (no layer index, no cache object), so a compiled block is one graph for every layer."""
        shift1, scale1, gate1, shift2, scale2, gate2 = (self.modulation.unsqueeze(1) + e0).unbind(2)  # [B, F, dim]
        bsz, n_tok, d = x.shape

        def per_frame(t: torch.Tensor) -> torch.Tensor:
            return t.unflatten(1, (frames, -1))                  # [B, F, S, dim]

        y = (per_frame(self.norm1(x)) * (1 + scale1.unsqueeze(2)) + shift1.unsqueeze(2)).flatten(1, 2)
        sa = self.self_attn
        q = apply_rope(sa.heads(sa.norm_q(sa.q(y))), cos, sin)
        k = apply_rope(sa.heads(sa.norm_k(sa.k(y))), cos, sin)
        v = sa.heads(sa.v(y))
        if kb is not None and vb is not None:
            kb[:, start:start + n_tok] = k.to(kb.dtype)
            vb[:, start:start + n_tok] = v.to(vb.dtype)
            k, v = kb[:, : start + n_tok], vb[:, : start + n_tok]
        if kv_only:
            return x
        a = sa.o(attention(q, k, v, self_bias).flatten(2))
        x = x + (per_frame(a) * gate1.unsqueeze(2)).flatten(1, 2)

        ca = self.cross_attn
        qc = ca.heads(ca.norm_q(ca.q(self.norm3(x))))
        outs = [attention(qc[:, c.start:c.end], c.k, c.v, c.bias) for c in cross]
        x = x + ca.o((outs[0] if len(outs) == 1 else torch.cat(outs, 1)).flatten(2))

        y = (per_frame(self.norm2(x)) * (1 + scale2.unsqueeze(2)) + shift2.unsqueeze(2)).flatten(1, 2)
        x = x + (per_frame(self.ffn(y)) * gate2.unsqueeze(2)).flatten(1, 2)
        return x


class Head(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.norm = LayerNorm(cfg.dim, eps=cfg.eps, elementwise_affine=False)
        self.head = nn.Linear(cfg.dim, cfg.out_dim * cfg.patch_volume)
        self.modulation = nn.Parameter(torch.randn(1, 2, cfg.dim) / cfg.dim ** 0.5)

    def forward(self, x: torch.Tensor, e: torch.Tensor, frames: int) -> torch.Tensor:
        """x [B, L, dim], e [B, F, dim] -> [B, L, out_dim * patch_volume]."""
        shift, scale = (self.modulation.unsqueeze(1) + e.unsqueeze(2)).unbind(2)   # [B, F, dim]
        y = self.norm(x).unflatten(1, (frames, -1)) * (1 + scale.unsqueeze(2)) + shift.unsqueeze(2)
        return self.head(y.flatten(1, 2))


class CausalWanDiT(nn.Module):
    """Wan2.1 DiT, block-causal with a KV cache (Wan's parameter names)."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.patch_embedding = nn.Conv3d(cfg.in_dim, d, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.text_embedding = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.GELU(approximate="tanh"), nn.Linear(d, d))
        self.time_embedding = nn.Sequential(nn.Linear(cfg.freq_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(d, d * 6))
        self.blocks = nn.ModuleList([AttentionBlock(cfg) for _ in range(cfg.num_layers)])
        self.head = Head(cfg)
        self._rope: dict[str, RopeTables] = {}
        self._rope_last: Optional[tuple[tuple, tuple[torch.Tensor, torch.Tensor]]] = None

    # -- helpers ------------------------------------------------------------------------
    def rope_tables(self, device: torch.device) -> RopeTables:
        key = str(device)
        if key not in self._rope:
            self._rope[key] = build_tables(self.cfg, device)
        return self._rope[key]

    def _token_rope(self, tables: RopeTables, positions: torch.Tensor, h: int, w: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token cos/sin, memoised for the last (positions, grid): a block's denoising steps and
        context pass share them."""
        key = (tuple(int(p) for p in positions), h, w, str(tables.cos_f.device))
        if self._rope_last is None or self._rope_last[0] != key:
            self._rope_last = (key, token_cos_sin(tables, positions.to(tables.cos_f.device), h, w))
        return self._rope_last[1]

    def embed_text(self, context: torch.Tensor) -> torch.Tensor:
        """[B, L, text_dim] (L <= text_len) -> [B, text_len, dim], zero-padding missing rows."""
        b, n, c = context.shape
        if c != self.cfg.text_dim:
            raise ValueError(f"context width {c} != text_dim {self.cfg.text_dim}")
        if n > self.cfg.text_len:
            raise ValueError(f"context has {n} rows, more than text_len {self.cfg.text_len}")
        if n < self.cfg.text_len:
            context = torch.cat([context, context.new_zeros(b, self.cfg.text_len - n, c)], dim=1)
        w = self.patch_embedding.weight
        return self.text_embedding(context.to(device=w.device, dtype=w.dtype))

    def cross_kv(self, context: torch.Tensor, compact: bool = True) -> CrossKV:
        """Cross-attention K/V of a text context for every layer (compute once per prompt).

        With ``compact`` the trailing all-zero padding rows (identical K/V) collapse into one
        row with a log-count logit bias: exact, and attention over ~L_valid + 1 rows, not 512.
        """
        b, n, _ = context.shape
        bias = None
        if compact and b == 1 and n >= 1:
            nonzero = context[0].abs().amax(dim=-1) > 0                   # [L]
            valid = int(nonzero.nonzero().max()) + 1 if bool(nonzero.any()) else 0
            pad = self.cfg.text_len - valid
            if pad > 1:
                context = context[:, : valid + 1]
                if context.shape[1] < valid + 1:                                # one zero row stands for all
                    context = torch.cat([context, context.new_zeros(1, 1, context.shape[2])], dim=1)
                bias = torch.zeros(1, 1, 1, valid + 1, dtype=self.patch_embedding.weight.dtype,
                                   device=self.patch_embedding.weight.device)
                bias[..., valid] = math.log(pad)
        ctx = self.text_embedding(context.to(self.patch_embedding.weight)) if bias is not None \
            else self.embed_text(context)
        ks, vs = [], []
        for blk in self.blocks:
            k, v = blk.cross_attn.kv(ctx)
            ks.append(k)
            vs.append(v)
        return CrossKV(ks, vs, bias)

    def _time(self, t: torch.Tensor, b: int, f: int) -> tuple[torch.Tensor, torch.Tensor]:
        """t [B], [B, F] or scalar -> e [B, F, dim], e0 [B, F, 6, dim]."""
        t = torch.as_tensor(t, device=self.patch_embedding.weight.device)
        if t.dim() == 0:
            t = t.expand(b)
        if t.dim() == 1:
            t = t[:, None].expand(b, f)
        dtype = self.patch_embedding.weight.dtype
        e = self.time_embedding(sinusoidal_embedding(self.cfg.freq_dim, t.reshape(-1)).to(dtype))
        e0 = self.time_projection(e).unflatten(1, (6, self.cfg.dim))
        return e.unflatten(0, (b, f)), e0.unflatten(0, (b, f))

    def _patchify(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """[B, F, C, H, W] -> tokens [B, F*h*w, dim] and grid (F', h, w)."""
        w = self.patch_embedding.weight
        y = self.patch_embedding(x.permute(0, 2, 1, 3, 4).to(w.dtype))   # [B, dim, F', h, w]
        grid = tuple(y.shape[2:])
        return y.flatten(2).transpose(1, 2), grid  # type: ignore[return-value]

    def _unpatchify(self, y: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """[B, L, pt*ph*pw*C] -> [B, F, C, H, W]."""
        b = y.shape[0]
        f, h, w = grid
        pt, ph, pw = self.cfg.patch_size
        c = self.cfg.out_dim
        u = y.reshape(b, f, h, w, pt, ph, pw, c)
        u = torch.einsum("bfhwpqrc->bfpchqwr", u)
        return u.reshape(b, f * pt, c, h * ph, w * pw)

    def _run(self, x: torch.Tensor, t: torch.Tensor, cross: CrossKV | Sequence[CrossSpan], positions: torch.Tensor,
             cache: Optional[KVCache], memory: float, kv_only: bool,
             mask: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        b = x.shape[0]
        tokens, grid = self._patchify(x)
        f, h, w = grid
        e, e0 = self._time(t, b, f)
        tables = self.rope_tables(tokens.device)
        cos, sin = self._token_rope(tables, positions, h, w)
        self_bias = mask if cache is None else cache.memory_bias(tokens.shape[1], memory, tokens.dtype, tokens.device)
        spans = [CrossSpan(0, tokens.shape[1], cross)] if isinstance(cross, CrossKV) else list(cross)
        last = len(self.blocks) - 1
        start = cache.valid_tokens if cache is not None else 0
        for i, blk in enumerate(self.blocks):
            layer_cross = [LayerCross(s.start, s.end, s.cross.k[i], s.cross.v[i], s.cross.bias) for s in spans]
            kb, vb = (cache.k[i], cache.v[i]) if cache is not None else (None, None)
            tokens = blk(tokens, e0, f, cos, sin, layer_cross, kb, vb, start, self_bias, kv_only=kv_only and i == last)
        if kv_only:
            return None
        return self._unpatchify(self.head(tokens, e, f), grid)

    # -- public calls -------------------------------------------------------------------
    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, start_frame: int = 0) -> torch.Tensor:
        """Cache-free forward over a whole clip: x [B, F, C, H, W], t [B, F] or [B],
        context [B, L, text_dim] -> flow prediction [B, F, C, H, W]."""
        f = x.shape[1] // self.cfg.patch_size[0]
        positions = torch.arange(start_frame, start_frame + f, dtype=torch.int64)
        out = self._run(x, t, self.cross_kv(context), positions, None, 1.0, False)
        assert out is not None
        return out

    def masked(self, x: torch.Tensor, t: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor,
               cross: CrossKV | Sequence[CrossSpan]) -> torch.Tensor:
        """Training's forward: x [B, N, C, H, W] at t [B, N] with temporal ``positions`` [N] ->
        flow [B, N, C, H, W], self-attention under ``mask`` (bool [L, L], True = attend, or
        additive), each ``CrossSpan`` of tokens cross-attending to its own prompt."""
        out = self._run(x, t, cross, positions, None, 1.0, False, mask=mask)
        assert out is not None
        return out

    def step(self, x: torch.Tensor, t: torch.Tensor, cross: CrossKV, cache: KVCache,
             positions: Optional[torch.Tensor] = None, memory: float = 1.0,
             kv_only: bool = False) -> Optional[torch.Tensor]:
        """One streaming call for a block x [B, F, C, H, W] at timestep t ([B, F] or [B]).

        Attends over the committed frames of ``cache`` plus this block and leaves the block's
        K/V in the scratch slots; the caller commits them after the context pass. ``positions``
        ([F] int64) default to the cache's next positions. ``kv_only`` stops after the last
        layer's K/V (the context pass needs nothing else) and returns None.
        """
        f = x.shape[1] // self.cfg.patch_size[0]
        if positions is None:
            positions = cache.block_positions(f)
        return self._run(x, t, cross, positions, cache, memory, kv_only)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_call(self, frames: int, latent_h: int, latent_w: int, cached_frames: int) -> int:
        """Analytic multiply-adds x2 of one streaming call (linear layers + attention)."""
        cfg = self.cfg
        s = cfg.tokens_per_frame(latent_h, latent_w)
        n = frames * s
        kv = (cached_frames + frames) * s
        d, ff, lt = cfg.dim, cfg.ffn_dim, cfg.text_len
        per_layer = (4 * n * d * d          # self q, k, v, o
                     + 2 * n * kv * d       # self scores + values
                     + 2 * n * d * d        # cross q, o
                     + 2 * n * lt * d       # cross scores + values
                     + 2 * n * d * ff)      # ffn
        embed = n * cfg.in_dim * cfg.patch_volume * d + n * d * cfg.out_dim * cfg.patch_volume
        return 2 * (cfg.num_layers * per_layer + embed)
