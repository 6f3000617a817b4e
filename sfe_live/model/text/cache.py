"""Prompt-embedding caches: an in-memory LRU in front of any encoder, and an on-disk cache.

:class:`CachedTextEncoder` is what a model bundle holds (``bundle.text``). With a
:class:`DiskEmbeddingCache` behind it, an embedding computed once (umT5-XXL: ~10 s per prompt on
a CPU) is read back in milliseconds in every later session. Disk entries are keyed by
(encoder fingerprint, cleaned prompt): the fingerprint hashes the encoder's weights (sampled
file contents and size for big files, see :func:`weights_fingerprint`), its kind, width, row
count and output dtype, so another encoder or another checkpoint never reads a stale entry.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Optional, Sequence

import torch

from sfe_live.config import TextConfig
from sfe_live.model.text.base import TextEncoder, _as_list, clean_prompt

log = logging.getLogger("sfe_live.model.text")

_SAMPLE = 1 << 20          # bytes read at each of 16 places of a big weight file


def weights_fingerprint(paths: Sequence[Path]) -> str:
    """A content hash of weight files: whole files up to 64 MiB, else the size plus 16 samples
    of 1 MiB spread over the file (fast on an 11 GB umT5-XXL, changes with any re-save)."""
    h = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        size = path.stat().st_size
        h.update(f"{path.name}\0{size}\0".encode())
        with open(path, "rb") as f:
            if size <= 64 * _SAMPLE:
                for chunk in iter(lambda: f.read(1 << 22), b""):
                    h.update(chunk)
            else:
                for i in range(16):
                    f.seek((size - _SAMPLE) * i // 15)
                    h.update(f.read(_SAMPLE))
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$SFE_LIVE_CACHE`` or the platform's user cache folder, ``prompt-embeddings/`` inside."""
    env = os.environ.get("SFE_LIVE_CACHE")
    if env:
        return Path(env).expanduser() / "prompt-embeddings"
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("sfe-live")) / "prompt-embeddings"


class DiskEmbeddingCache:
    """Embeddings ``[1, text_len, dim]`` as safetensors files, one per (encoder, cleaned prompt).

    ``folder/<encoder key[:24]>/<sha256(cleaned prompt)[:32]>.safetensors``; written atomically
    (temporary file, then rename); an unreadable entry is ignored and rewritten.
    """

    def __init__(self, folder: Path, encoder_key: str) -> None:
        self.folder = Path(folder) / encoder_key[:24]
        self.encoder_key = encoder_key

    @classmethod
    def for_encoder(cls, encoder: TextEncoder, weights: Sequence[Path] = (), folder: Optional[Path] = None,
                    extra: str = "") -> "DiskEmbeddingCache":
        cfg: TextConfig = encoder.config
        parts = [cfg.kind, str(cfg.dim), str(cfg.text_len), str(encoder.dtype), extra,
                 weights_fingerprint(weights) if weights else ""]
        key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return cls(folder if folder is not None else default_cache_dir(), key)

    def path(self, prompt: str) -> Path:
        digest = hashlib.sha256(clean_prompt(prompt).encode("utf-8")).hexdigest()[:32]
        return self.folder / f"{digest}.safetensors"

    def contains(self, prompt: str) -> bool:
        return self.path(prompt).is_file()

    def load(self, prompt: str) -> Optional[torch.Tensor]:
        """The stored embedding, or None (absent, unreadable, or another encoder's / prompt's)."""
        path = self.path(prompt)
        if not path.is_file():
            return None
        try:
            from safetensors import safe_open
            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
                if meta.get("encoder") != self.encoder_key or meta.get("prompt") != clean_prompt(prompt):
                    return None
                return f.get_tensor("embedding")
        except Exception as exc:  # a truncated or foreign file: re-encode (and overwrite) it
            log.warning("prompt cache entry %s unreadable (%s): re-encoding", path.name, exc)
            return None

    def store(self, prompt: str, embedding: torch.Tensor) -> None:
        """Write atomically (sfe_live.io.atomic_path); a failing disk only logs a warning."""
        from safetensors.torch import save_file

        from sfe_live.io import atomic_path
        path = self.path(prompt)
        try:
            with atomic_path(path) as tmp:
                save_file({"embedding": embedding.detach().cpu().contiguous()}, str(tmp),
                          metadata={"encoder": self.encoder_key, "prompt": clean_prompt(prompt)})
        except OSError as exc:   # a full or read-only disk never stops the show
            log.warning("prompt cache: could not write %s (%s)", path, exc)


class CachedTextEncoder:
    """An LRU of prompt embeddings in front of any :class:`TextEncoder` (thread-safe), with an
    optional :class:`DiskEmbeddingCache` behind it.

    The public calls: ``encode_prompt(prompt)`` (= ``get``) returns ``[1, text_len, dim]`` on the
    encoder's device: memory, then disk, then the encoder (whose result is stored in both);
    ``encode(prompts)`` batches the misses into one call of the wrapped encoder;
    ``is_cached(prompt)`` says whether a call would return without running the encoder.
    Every call may come from any thread (one call into the wrapped encoder at a time).
    Returned tensors are copies, so callers may modify them.
    """

    def __init__(self, encoder: TextEncoder, size: int = 64, disk: Optional["DiskEmbeddingCache"] = None) -> None:
        self.encoder = encoder
        self.disk = disk
        self.disk_hits = 0
        self.size = max(0, int(size))
        self.hits = 0
        self.misses = 0
        self._entries: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        self._lock = threading.Lock()          # guards entries and counters
        self._encode_lock = threading.Lock()   # one call into the wrapped encoder at a time

    @property
    def config(self) -> TextConfig:
        return self.encoder.config

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    @property
    def dtype(self) -> torch.dtype:
        return self.encoder.dtype

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, prompt: object) -> bool:
        with self._lock:
            return prompt in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "size": len(self._entries),
                    "capacity": self.size, "disk_hits": self.disk_hits}

    def _remember(self, prompt: str, row: torch.Tensor) -> None:
        """Store in the LRU (caller holds the lock)."""
        if self.size:
            self._entries[prompt] = row
            self._entries.move_to_end(prompt)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def is_cached(self, prompt: str) -> bool:
        """True when ``encode_prompt(prompt)`` would not run the encoder (memory or disk)."""
        with self._lock:
            if prompt in self._entries:
                return True
        return self.disk is not None and self.disk.contains(prompt)

    def encode_prompt(self, prompt: str) -> torch.Tensor:
        """``[1, text_len, dim]`` for one prompt (memory, disk, then the encoder)."""
        return self.encode([prompt])

    def get(self, prompt: str) -> torch.Tensor:
        return self.encode([prompt])

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        prompts = _as_list(prompts)
        found: dict[str, torch.Tensor] = {}
        missing: list[str] = []
        with self._lock:
            for p in prompts:
                if p in found or p in missing:
                    self.hits += 1
                elif p in self._entries:
                    self._entries.move_to_end(p)
                    found[p] = self._entries[p]
                    self.hits += 1
                else:
                    missing.append(p)
                    self.misses += 1
        if missing and self.disk is not None:
            for p in list(missing):
                row = self.disk.load(p)
                if row is not None:
                    missing.remove(p)
                    with self._lock:
                        self.disk_hits += 1
                        found[p] = row.to(device=self.device, dtype=self.dtype)
                        self._remember(p, found[p])
        if missing:
            with self._encode_lock:
                rows = self.encoder.encode(missing)
            if self.disk is not None:
                for p, row in zip(missing, rows):
                    self.disk.store(p, row[None])
            with self._lock:
                for p, row in zip(missing, rows):
                    found[p] = row[None].clone()
                    if self.size:
                        self._entries[p] = found[p]
                        self._entries.move_to_end(p)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        if not prompts:
            return torch.zeros(0, self.config.text_len, self.config.dim, device=self.device, dtype=self.dtype)
        return torch.cat([found[p] for p in prompts], dim=0)
