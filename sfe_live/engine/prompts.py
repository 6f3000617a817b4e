"""Prompt encoding off the engine thread: one worker, a bounded store of ready embeddings.

The text encoder can take from milliseconds (MiniLM) to ~10 s per prompt (umT5-XXL on a CPU),
so the engine thread never calls it during a show. :class:`PromptEncoder` runs one thread:

* ``want(prompt)`` asks for the prompt that goes on air next; it jumps ahead of background work
  and replaces an earlier wanted prompt that was not started yet (a superseded prompt in a burst
  is never encoded);
* ``prefetch(prompts)`` queues background work (every prompt of a loaded cue list), so cue GO
  never waits;
* ``ready(prompt)`` / ``embedding(prompt)`` read the store: an LRU of embeddings kept on the CPU,
  bounded by count and bytes (prefetched cue prompts are kept first when it has to evict);
* ``embed(prompt)`` is the pipeline's hook: the stored embedding, or a synchronous encode where
  no worker is involved (offline render, replay, the first prompt).

It wraps any object with the text encoder's ``get(prompt) -> [1, L, D]`` call (the bundle's
cached encoder), so caches inside the encoder (LRU, on disk) stay in the path.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Callable, Iterable, Optional

import torch

log = logging.getLogger(__name__)

Encode = Callable[[str], torch.Tensor]        # prompt -> [1, text_len, dim]

DEFAULT_CAPACITY = 64                         # embeddings kept (a cue list's worth, plus recent prompts)
DEFAULT_MAX_BYTES = 256 << 20                 # 256 MiB: 64 umT5 prompts (512 x 4096 bf16 = 4 MiB each)


class PromptEncoder:
    """One worker thread that encodes prompts; see the module docstring."""

    def __init__(self, encode: Encode, capacity: int = DEFAULT_CAPACITY, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._encode = encode
        self.capacity = max(1, int(capacity))
        self.max_bytes = max(1, int(max_bytes))
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._store: "collections.OrderedDict[str, torch.Tensor]" = collections.OrderedDict()
        self._pinned: set[str] = set()                 # prefetched (cue list) prompts: evicted last
        self._bytes = 0
        self._wanted: Optional[str] = None
        self._wanted_since = 0.0
        self._background: "collections.deque[str]" = collections.deque()
        self._busy: Optional[str] = None
        self._errors: dict[str, str] = {}
        self._stop = False
        self._thread: Optional[threading.Thread] = None
        self.encoded = 0                               # prompts this worker has encoded
        self.last_encoding_ms = 0.0                    # how long the last wanted prompt waited

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="sfe-prompts", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._work:
            self._stop = True
            self._work.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- requests (any thread) -----------------------------------------------------------------
    def want(self, prompt: str) -> None:
        """Encode ``prompt`` next (it goes on air when ready); replaces a wanted prompt not yet started."""
        with self._work:
            if prompt in self._store:
                if self._wanted != self._busy:      # an earlier wanted prompt is superseded
                    self._wanted = None
                return
            if prompt == self._wanted:
                return
            self._wanted, self._wanted_since = prompt, time.perf_counter()
            self._errors.pop(prompt, None)
            self._work.notify_all()

    def prefetch(self, prompts: Iterable[str]) -> int:
        """Queue background encodings (a cue list at load); returns how many were queued."""
        n = 0
        with self._work:
            for p in prompts:
                self._pinned.add(p)
                if p not in self._store and p not in self._background and p != self._busy:
                    self._background.append(p)
                    n += 1
            if len(self._pinned) > self.capacity:
                log.warning("%d cue prompts but room for %d ready embeddings: later GOs may wait for "
                            "their encoding", len(self._pinned), self.capacity)
            self._work.notify_all()
        return n

    def clear_prefetch(self) -> None:
        """Forget queued background work and pins (a new cue list replaces the old one)."""
        with self._work:
            self._background.clear()
            self._pinned.clear()

    # -- reading ----------------------------------------------------------------------------------
    def ready(self, prompt: str) -> bool:
        with self._lock:
            return prompt in self._store

    def error(self, prompt: str) -> Optional[str]:
        """The encoder's error for ``prompt`` (then it will not be retried unless wanted again)."""
        with self._lock:
            return self._errors.get(prompt)

    def embedding(self, prompt: str) -> Optional[torch.Tensor]:
        with self._lock:
            emb = self._store.get(prompt)
            if emb is not None:
                self._store.move_to_end(prompt)
            return emb

    def embed(self, prompt: str) -> torch.Tensor:
        """The pipeline's hook: the stored embedding, else encode here and now."""
        emb = self.embedding(prompt)
        if emb is None:
            emb = self._encode(prompt)
            self._put(prompt, emb)
        return emb

    def pending(self) -> tuple[str, float]:
        """(the wanted prompt not ready yet, ms it has waited) or ("", 0)."""
        with self._lock:
            if self._wanted is None:
                return "", 0.0
            return self._wanted, 1000 * (time.perf_counter() - self._wanted_since)

    def __len__(self) -> int:
        with self._lock:
            return len(self._store)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    # -- worker -----------------------------------------------------------------------------------
    def _put(self, prompt: str, emb: torch.Tensor) -> None:
        emb = emb.detach().to("cpu")
        size = emb.numel() * emb.element_size()
        with self._lock:
            old = self._store.pop(prompt, None)
            if old is not None:
                self._bytes -= old.numel() * old.element_size()
            self._store[prompt] = emb
            self._bytes += size
            while len(self._store) > 1 and (len(self._store) > self.capacity or self._bytes > self.max_bytes):
                victim = next((k for k in self._store if k not in self._pinned and k != prompt),
                              next(k for k in self._store if k != prompt))
                gone = self._store.pop(victim)
                self._bytes -= gone.numel() * gone.element_size()

    def _next(self) -> Optional[tuple[str, bool]]:
        """(prompt, wanted?) to encode next, waiting for work; None when stopping."""
        with self._work:
            while not self._stop:
                if self._wanted is not None:
                    if self._wanted in self._store:
                        self._finish_wanted(self._wanted)
                        continue
                    self._busy = self._wanted
                    return self._wanted, True
                while self._background and self._background[0] in self._store:
                    self._background.popleft()
                if self._background:
                    self._busy = self._background.popleft()
                    return self._busy, False
                self._work.wait()
            return None

    def _finish_wanted(self, prompt: str) -> None:
        # caller holds the lock
        if self._wanted == prompt:
            self.last_encoding_ms = 1000 * (time.perf_counter() - self._wanted_since)
            self._wanted = None

    def _run(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            prompt, _ = job
            try:
                emb = self._encode(prompt)
            except Exception as exc:   # a bad prompt never stops the worker (or the show)
                log.error("prompt %r not encoded: %s", prompt[:60], exc)
                with self._work:
                    self._errors[prompt] = str(exc)
                    if len(self._errors) > 64:
                        self._errors.pop(next(iter(self._errors)))
                    self._busy = None
                    self._finish_wanted(prompt)
                continue
            self._put(prompt, emb)
            with self._work:
                self.encoded += 1
                self._busy = None
                self._finish_wanted(prompt)
