"""The ``tiny-random`` model's text encoder: a seeded hash-of-token embedding (no weights)."""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Sequence, Union

import torch

from sfe_live.config import TextConfig
from sfe_live.model.text.base import _as_list, _device, _warn_truncated, clean_prompt

class RandomTextEncoder:
    """Seeded hash-of-token embedding: no weights, no network, instant.

    Tokens are words and punctuation marks of the cleaned prompt (case kept) followed by an
    end token, so an empty prompt has one valid row, like umT5. Each token's row is drawn from a
    generator seeded by a hash of ``(seed, token)``: the same prompt always gives the same
    tensor, on any machine.
    """

    _EOS = "\x00</s>"

    def __init__(self, dim: int, text_len: int, seed: int = 0,
                 device: Union[str, torch.device] = "cpu", dtype: torch.dtype = torch.float32) -> None:
        if dim < 1 or text_len < 1:
            raise ValueError(f"dim and text_len must be >= 1 (got {dim}, {text_len})")
        self.config = TextConfig(kind="random", dim=int(dim), text_len=int(text_len))
        self.seed = int(seed)
        self.device = _device(device)
        self.dtype = dtype
        self._rows: dict[str, torch.Tensor] = {}
        self._lock = threading.Lock()

    def tokenize(self, prompt: str) -> list[str]:
        return re.findall(r"\w+|[^\w\s]", clean_prompt(prompt)) + [self._EOS]

    def _row(self, token: str) -> torch.Tensor:
        row = self._rows.get(token)
        if row is None:
            digest = hashlib.blake2b(f"{self.seed}\x1f{token}".encode("utf-8"), digest_size=8).digest()
            gen = torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))
            row = torch.randn(self.config.dim, generator=gen)
            with self._lock:
                if len(self._rows) >= 4096:   # bound the memo (4096 rows x dim floats)
                    self._rows.clear()
                self._rows[token] = row
        return row

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        prompts = _as_list(prompts)
        length, dim = self.config.text_len, self.config.dim
        out = torch.zeros(len(prompts), length, dim)
        for i, p in enumerate(prompts):
            tokens = self.tokenize(p)
            if len(tokens) > length:
                _warn_truncated([p], [len(tokens)], length)
                tokens = tokens[:length - 1] + [self._EOS]
            out[i, :len(tokens)] = torch.stack([self._row(t) for t in tokens])
        return out.to(device=self.device, dtype=self.dtype)
