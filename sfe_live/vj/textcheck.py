"""How far the text encoder carries a paraphrase, before any video model is involved.

Classifiers read the encoder's features of training captions (:func:`sfe_live.vj.world.caption`)
and learn each attribute of the scene (family, palette, direction, speed); they are then scored
on fresh held-in captions and on paraphrases from the held-out vocabulary
(:func:`sfe_live.vj.world.paraphrase`). Two readers:

* ``pooled`` -- a linear layer on the mean of the token rows (L2-normalised: the sentence vector);
* ``tokens`` -- one learned attention query over the token rows, then a linear layer: the kind of
  read a cross-attention layer makes.

A DiT conditioned on these features can only follow a paraphrase as far as such a reader can
tell what it means, so the paraphrase scores here are a ceiling for the video model's, not
a figure of it.
"""

from __future__ import annotations

import random
from typing import Protocol, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sfe_live.vj import world as W

ATTRIBUTES = ("family", "palette", "direction", "speed")


class TokenEncoder(Protocol):
    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        """[B, L, D] token rows, zero rows after the last token."""
        ...


class _PooledReader(nn.Module):
    def __init__(self, dim: int, classes: int) -> None:
        super().__init__()
        self.head = nn.Linear(dim, classes)

    def forward(self, rows: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        m = valid.float()[..., None]
        pooled = F.normalize((rows * m).sum(1) / m.sum(1), dim=-1)            # [B, D]
        return self.head(10 * pooled)


class _AttnReader(nn.Module):
    def __init__(self, dim: int, classes: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.zeros(dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, rows: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        scores = (rows @ self.query).masked_fill(~valid, float("-inf"))      # [B, L]
        pooled = (scores.softmax(-1)[..., None] * rows).sum(1)                # [B, D]
        return self.head(pooled)


READERS = {"pooled": _PooledReader, "tokens": _AttnReader}


def _features(encoder: TokenEncoder, prompts: list[str], chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    rows = torch.cat([encoder.encode(prompts[i:i + chunk]).float() for i in range(0, len(prompts), chunk)])
    valid = rows.abs().amax(-1) > 0                                           # [B, L]
    valid[:, 0] |= ~valid.any(1)                                               # an all-zero prompt keeps one row
    return F.normalize(rows, dim=-1), valid


def _fit(model: nn.Module, inputs: tuple[torch.Tensor, ...], y: torch.Tensor, steps: int) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(*inputs), y).backward()
        opt.step()


def text_ceiling(encoder: TokenEncoder, n_train: int = 1500, n_test: int = 400, seed: int = 0,
                 steps: int = 200) -> dict[str, dict[str, float]]:
    """{attribute: {"<reader>_held_in": acc, "<reader>_paraphrase": acc}} for both readers."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    train_labels = [W.random_label(rng) for _ in range(n_train)]
    test_labels = [W.random_label(rng) for _ in range(n_test)]
    train = _features(encoder, [W.caption(lab, rng) for lab in train_labels])
    tests = {"held_in": _features(encoder, [W.caption(lab, rng) for lab in test_labels]),
             "paraphrase": _features(encoder, [W.paraphrase(lab, rng) for lab in test_labels])}
    out: dict[str, dict[str, float]] = {}
    for attr in ATTRIBUTES:
        keys = sorted({getattr(lab, attr) for lab in train_labels + test_labels})
        y = torch.tensor([keys.index(getattr(lab, attr)) for lab in train_labels])
        y_test = torch.tensor([keys.index(getattr(lab, attr)) for lab in test_labels])
        scores: dict[str, float] = {}
        for name, reader in READERS.items():
            model = reader(train[0].shape[-1], len(keys))
            _fit(model, train, y, steps)
            with torch.no_grad():
                for split, (rows, valid) in tests.items():
                    acc = (model(rows, valid).argmax(1) == y_test).float().mean()
                    scores[f"{name}_{split}"] = round(float(acc), 3)
        out[attr] = scores
    return out
